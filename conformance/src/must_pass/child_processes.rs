//! Child processes (E1 (P), E6 (P), L) that are correct in an unusual way. Real
//! processes only.
//!
//! [`Served`] does not use the one-shot worker protocol of the reference. Each spawn
//! starts a long-lived worker of the pool machinery (a
//! [`Server`](racecourse_impl::process::serve::Server), one per child, never reused),
//! sends it the one request, and hands it to a thread of its own that waits for the
//! reply with `poll` on the reply pipe and the server's pidfd (no `waitpid` until the
//! server is known dead or done), shuts it down (end of requests: it exits and is
//! reaped) and only then sends the outcome through an `mpsc` channel. `join` receives
//! from the channel; dropping a handle kills the child through its pidfd
//! (`pidfd_send_signal`), and the thread reaps it.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use racecourse_impl::process::job::{decode_outcomes, encode, task_of};
use racecourse_impl::process::serve::{Reply, ServeError, Server};
use racecourse_spec::child_processes::{Child, Processes};
use racecourse_spec::job::{Job, JobError, Wire};

/// A server per child, its outcome through a channel (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct Served;

/// What the waiting thread does with a server once it has replied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Shuts it down and reaps it (correct).
    Reap,
    /// Kills it and never waits for it: a zombie (a mutant).
    KillUnreaped,
    /// Forgets it: it waits for its next request for ever (a mutant).
    LeaveRunning,
}

/// A child started by [`Served`].
pub struct ServedChild<R> {
    pid: u32,
    /// The child's pidfd (a duplicate): a kill through it reaches this child only.
    pidfd: OwnedFd,
    outcome: Receiver<Result<R, JobError>>,
    /// The thread that owns the server; `None` once joined.
    waiter: Option<JoinHandle<()>>,
}

impl<R> fmt::Debug for ServedChild<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedChild")
            .field("pid", &self.pid)
            .finish()
    }
}

fn lost(what: &str, e: impl fmt::Display) -> JobError {
    JobError::Lost(format!("{what}: {e}"))
}

/// Starts a server for `job` on `arg`; its thread ends it as `end` says.
pub(crate) fn spawn_served<A: Wire, R: Wire>(
    job: &'static Job<A, R>,
    arg: A,
    end: End,
) -> Result<ServedChild<R>, JobError> {
    let task = task_of(job);
    let batch = encode(std::slice::from_ref(&arg));
    // Started on the caller's thread: the server dies with it (PR_SET_PDEATHSIG).
    let mut server = Server::start().map_err(|e| lost("starting a worker process", e))?;
    let pid = server.pid();
    let pidfd = server
        .pidfd()
        .map_err(|e| lost("duplicating the worker's pidfd", e))?;
    let (tx, outcome) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name("racecourse-served".into())
        .spawn(move || {
            let result = match server.run(task, &batch) {
                Ok(Reply::Returned(bytes)) => match decode_outcomes::<R>(&bytes) {
                    Ok(mut outcomes) if outcomes.len() == 1 => outcomes.pop().expect("one outcome"),
                    Ok(_) => Err(JobError::Lost(
                        "the worker sent a number of results other than one".into(),
                    )),
                    Err(e) => Err(e),
                },
                Ok(Reply::Failed(message)) => Err(JobError::Lost(message)),
                Ok(Reply::Panicked(message)) => Err(JobError::Panicked(message)),
                Err(ServeError::Died(death)) => Err(JobError::Crashed(death)),
                Err(ServeError::Io(e)) => Err(lost("talking to the worker", e)),
            };
            match end {
                End::Reap => {
                    let _ = server.shutdown();
                }
                End::KillUnreaped => {
                    server.kill();
                    std::mem::forget(server);
                }
                End::LeaveRunning => std::mem::forget(server),
            }
            // The receiver is gone if the handle was dropped: nobody wants it.
            let _ = tx.send(result);
        })
        .map_err(|e| lost("starting the thread that waits for the worker", e))?;
    Ok(ServedChild {
        pid,
        pidfd,
        outcome,
        waiter: Some(waiter),
    })
}

impl Processes for Served {
    type Child<R: Wire> = ServedChild<R>;

    fn new() -> Self {
        Served
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
    ) -> Result<ServedChild<R>, JobError> {
        spawn_served(job, arg, End::Reap)
    }
}

impl<R: Wire> Child<R> for ServedChild<R> {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn join(mut self) -> Result<R, JobError> {
        let result = self.outcome.recv().unwrap_or_else(|_| {
            Err(JobError::Lost(
                "the thread waiting for the worker ended without its outcome".into(),
            ))
        });
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
        result
    }
}

impl<R> Drop for ServedChild<R> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number, a null
        // siginfo and no flags; it touches no memory of ours. The pidfd names this
        // child only, even if it was reaped and its pid reused (then ESRCH).
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        // The thread sees the death, reaps the server and ends.
        let _ = waiter.join();
    }
}
