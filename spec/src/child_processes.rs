//! One process per item (E1's CPU fan-out, E6's crashing child, the lecture's child
//! process): start a child process that runs a [`Job`], learn its pid, wait for it,
//! and get its result or the cause of its death.
//!
//! In Python: `Process(target=f, args=(x,))`, `start()`, `pid`, `join()`, `exitcode`.
//! Here a child runs a job (a function registered at compile time, found by name in a
//! fresh process of the same binary), and [`Child::join`] gives what the job returned,
//! or why there is nothing: the job's `Err`, its panic, or the death of its process
//! ([`JobError::Crashed`] with the exit code or signal).
//!
//! ```
//! # fn main() {}
//! # fn demo<P: racecourse_spec::child_processes::Processes>(
//! #     square: &'static racecourse_spec::job::Job<u64, u64>,
//! # ) -> Result<(), racecourse_spec::job::JobError> {
//! use racecourse_spec::child_processes::Child;
//!
//! let processes = P::new();
//! let children = [23, 26, 35, 64]
//!     .into_iter()
//!     .map(|x| processes.spawn(square, x))
//!     .collect::<Result<Vec<_>, _>>()?;
//! assert!(children.iter().all(|c| c.pid() != std::process::id()));
//! let squares = children
//!     .into_iter()
//!     .map(|c| c.join())
//!     .collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(squares, [529, 676, 1225, 4096]);
//! # Ok(())
//! # }
//! ```
//!
//! ## What a caller may rely on
//! - Each [`spawn`](Processes::spawn) runs the job in a process of its own, started by
//!   the call: a different pid from the caller's, and a separate address space (a
//!   write the job makes to a static is not seen by the caller).
//! - `spawn` returns while the child runs: children spawned one after another run at
//!   the same time.
//! - A child's result reaches its own handle, whatever order the children finish in.
//! - A child that panics, aborts, segfaults or exits is reported by `join` with that
//!   cause, as an error value: the caller keeps going.
//! - When `join` returns, the child has ended and been reaped (no zombie), and when a
//!   handle is dropped without `join`, its child is killed and reaped: nothing is left
//!   running or unreaped.

use crate::job::{Job, JobError, Wire};

/// A way to start child processes (the course's `multiprocessing.Process`).
///
/// # Blocking
/// The thread that calls [`spawn`](Self::spawn) should outlive the child: an
/// implementation may tie a child's life to it (Linux's `PR_SET_PDEATHSIG` is tied to
/// the spawning thread), so that a killed parent leaves no orphan.
pub trait Processes: Sized {
    /// A running child that will give an `R`.
    type Child<R: Wire>: Child<R>;

    /// A new way to start children. It **must not** start any process that outlives
    /// it: whatever it starts is ended and reaped when it is dropped.
    fn new() -> Self;

    /// Starts one new process that runs `job` on `arg`, and returns at once, while
    /// the child runs.
    ///
    /// The job **must** run in that new process (never in the caller's), one process
    /// per call.
    ///
    /// # Errors
    /// [`JobError::Lost`] if no process could be started (an OS error); the message
    /// says what failed.
    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
    ) -> Result<Self::Child<R>, JobError>;
}

/// A child process started by [`Processes::spawn`].
///
/// Dropping a handle without [`join`](Self::join) **must** kill the child (and
/// anything it started in its process group) and reap it.
pub trait Child<R> {
    /// The child's process id: the pid the job sees as its own (`getpid`).
    fn pid(&self) -> u32;

    /// Waits for the child to end and gives its job's outcome: the job's result, or
    /// [`JobError::Failed`] (it returned `Err`), [`JobError::Panicked`] (it panicked:
    /// the message), [`JobError::Crashed`] (its process died first: the exit code or
    /// signal, e.g. `SIGABRT` for an abort, `SIGSEGV` for a segfault).
    ///
    /// A child's failure is an error value, never a panic of the caller. When `join`
    /// returns, the child **must** have been reaped: no zombie is left.
    ///
    /// # Blocking
    /// Until the child ends, however long that is: there is no deadline.
    fn join(self) -> Result<R, JobError>;
}
