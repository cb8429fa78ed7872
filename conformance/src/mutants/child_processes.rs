//! Wrong child processes (E1 (P), E6 (P), L): each is the reference [`Spawn`] behind
//! a wrapper that adds one defect a student could write, `Flawed<BUG>`, so the defect
//! is the only difference. The two that leave a process behind after `join` are the
//! must-pass [`Served`](crate::must_pass::child_processes::Served) with its last step
//! wrong. The suite must reject each (see the kill matrix).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use racecourse_impl::process::child_processes::{Spawn, Spawned};
use racecourse_impl::process::worker::panic_message;
use racecourse_spec::child_processes::{Child, Processes};
use racecourse_spec::job::{Death, Job, JobError, Wire};

use crate::must_pass::child_processes::{spawn_served, End, ServedChild};

/// The job runs on a thread of the parent: same pid, same memory.
pub const RUNS_IN_PARENT: u8 = 1;
/// `spawn` waits for the child to finish before it returns: no two children at once.
pub const SEQUENTIAL: u8 = 2;
/// The results go through one shared channel, and `join` takes the next one that
/// arrived: results paired with the items in the order the children finished.
pub const COMPLETION_ORDER: u8 = 3;
/// Every failure is reported as exit code 1: the cause is lost.
pub const LOSES_CAUSE: u8 = 4;
/// A child's failure panics in the parent (an `expect` on the child's status).
pub const CRASH_PANICS: u8 = 5;
/// The child is killed after its reply and never waited for: a zombie.
pub const ZOMBIE: u8 = 6;
/// The child is left waiting for more work after its reply: still running.
pub const LEFT_RUNNING: u8 = 7;
/// Dropping a handle forgets the child: it runs on, unreaped.
pub const LEAKS_ON_DROP: u8 = 8;

/// The reference with the defect `BUG` (one of the constants above).
pub struct Flawed<const BUG: u8> {
    inner: Spawn,
    /// COMPLETION_ORDER: one results channel per result type, shared by all children.
    channels: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

impl<const BUG: u8> fmt::Debug for Flawed<BUG> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flawed").field("bug", &BUG).finish()
    }
}

/// The shared results channel of COMPLETION_ORDER.
type Shared<R> = (
    Sender<Result<R, JobError>>,
    Arc<Mutex<Receiver<Result<R, JobError>>>>,
);

enum Kind<R> {
    Spawned(Spawned<R>),
    InParent(JoinHandle<Result<R, String>>),
    Finished(Result<R, JobError>),
    Queued(Arc<Mutex<Receiver<Result<R, JobError>>>>),
    Served(ServedChild<R>),
}

/// A child of [`Flawed`].
pub struct FlawedChild<const BUG: u8, R> {
    pid: u32,
    /// `None` once joined.
    kind: Option<Kind<R>>,
}

impl<const BUG: u8, R> fmt::Debug for FlawedChild<BUG, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlawedChild")
            .field("bug", &BUG)
            .field("pid", &self.pid)
            .finish()
    }
}

impl<const BUG: u8> Processes for Flawed<BUG> {
    type Child<R: Wire> = FlawedChild<BUG, R>;

    fn new() -> Self {
        Flawed {
            inner: Spawn,
            channels: Mutex::default(),
        }
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
    ) -> Result<FlawedChild<BUG, R>, JobError> {
        let (pid, kind) = match BUG {
            RUNS_IN_PARENT => (
                std::process::id(),
                Kind::InParent(std::thread::spawn(move || job.call(arg))),
            ),
            SEQUENTIAL => {
                let child = self.inner.spawn(job, arg)?;
                (child.pid(), Kind::Finished(child.join()))
            }
            COMPLETION_ORDER => {
                let child = self.inner.spawn(job, arg)?;
                let pid = child.pid();
                let (tx, rx) = {
                    let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
                    let shared = channels.entry(TypeId::of::<R>()).or_insert_with(|| {
                        let (tx, rx) = mpsc::channel::<Result<R, JobError>>();
                        Box::new((tx, Arc::new(Mutex::new(rx))))
                    });
                    let (tx, rx) = shared
                        .downcast_ref::<Shared<R>>()
                        .expect("the channel of this result type");
                    (tx.clone(), Arc::clone(rx))
                };
                std::thread::spawn(move || {
                    let _ = tx.send(child.join());
                });
                (pid, Kind::Queued(rx))
            }
            ZOMBIE | LEFT_RUNNING => {
                let end = if BUG == ZOMBIE {
                    End::KillUnreaped
                } else {
                    End::LeaveRunning
                };
                let child = spawn_served(job, arg, end)?;
                (child.pid(), Kind::Served(child))
            }
            _ => {
                let child = self.inner.spawn(job, arg)?;
                (child.pid(), Kind::Spawned(child))
            }
        };
        Ok(FlawedChild {
            pid,
            kind: Some(kind),
        })
    }
}

impl<const BUG: u8, R: Wire> Child<R> for FlawedChild<BUG, R> {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn join(mut self) -> Result<R, JobError> {
        let outcome = match self.kind.take().expect("a child is joined once") {
            Kind::Spawned(child) => child.join(),
            Kind::InParent(thread) => match thread.join() {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(message)) => Err(JobError::Failed(message)),
                Err(payload) => Err(JobError::Panicked(panic_message(&*payload))),
            },
            Kind::Finished(outcome) => outcome,
            Kind::Queued(results) => results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv()
                .unwrap_or_else(|_| Err(JobError::Lost("no result came".into()))),
            Kind::Served(child) => child.join(),
        };
        match (BUG, outcome) {
            (LOSES_CAUSE, Err(_)) => Err(JobError::Crashed(Death::Exited(1))),
            (CRASH_PANICS, Err(e)) => panic!("the child failed: {e}"),
            (_, outcome) => outcome,
        }
    }
}

impl<const BUG: u8, R> Drop for FlawedChild<BUG, R> {
    fn drop(&mut self) {
        if BUG == LEAKS_ON_DROP {
            if let Some(Kind::Spawned(child)) = self.kind.take() {
                // Its worker, supervisor and output threads live on, unreaped.
                std::mem::forget(child);
            }
        }
    }
}
