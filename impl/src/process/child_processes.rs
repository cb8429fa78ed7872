//! The reference of one process per item (E1 (P), E6 (P), L): [`Spawn`] starts a
//! fresh worker process of this binary per job (the spawn start method of
//! [`worker`](super::worker)), and a [`Spawned`] handle waits for it.
//!
//! ```
//! use racecourse_impl::process::child_processes::Spawn;
//! use racecourse_spec::child_processes::{Child, Processes};
//!
//! fn square(x: u64) -> Result<u64, String> {
//!     Ok(x * x)
//! }
//! racecourse_impl::job!(static SQUARE: fn(u64) -> u64 = square);
//!
//! # fn main() {
//! let processes = Spawn::new();
//! let child = processes.spawn(&SQUARE, 23).unwrap();
//! assert_ne!(child.pid(), std::process::id());
//! assert_eq!(child.join(), Ok(529));
//! # }
//! ```
//!
//! Each child is a [`Worker`]: a supervised process in a process group of its own,
//! whose job's outcome comes back in a result file. `join` waits for the child's exit
//! (its pidfd), kills what is left of its group while the dead leader still holds the
//! group id, reaps it, and reads the outcome; dropping a handle kills the group and
//! reaps. A panic in the job is caught in the child (`JobError::Panicked`); a death is
//! the child's exit status (`JobError::Crashed`).

use std::marker::PhantomData;
use std::time::Duration;

use racecourse_spec::child_processes::{Child, Processes};
use racecourse_spec::job::{Job, JobError, Wire};

use super::job::{finish_one, spawn_one};
use super::worker::Worker;

/// How long `join` is willing to wait: for ever, in practice (136 years).
const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

/// Starts one worker process per job (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct Spawn;

/// A child started by [`Spawn`]; dropping it kills its process group and reaps it.
#[derive(Debug)]
pub struct Spawned<R> {
    worker: Worker,
    result: PhantomData<fn() -> R>,
}

impl<R> Spawned<R> {
    /// Whether the child has exited (it is reaped only by `join` or drop).
    pub fn has_exited(&self) -> bool {
        self.worker.has_exited()
    }
}

impl Processes for Spawn {
    type Child<R: Wire> = Spawned<R>;

    fn new() -> Self {
        Spawn
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
    ) -> Result<Spawned<R>, JobError> {
        Ok(Spawned {
            worker: spawn_one(job, &arg)?,
            result: PhantomData,
        })
    }
}

impl<R: Wire> Child<R> for Spawned<R> {
    fn pid(&self) -> u32 {
        self.worker.id()
    }

    fn join(self) -> Result<R, JobError> {
        finish_one(self.worker, FOREVER)
    }
}
