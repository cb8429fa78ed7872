//! E2, process pool: a fixed set of worker processes that take jobs and return their
//! results, in the style of Python's `multiprocessing.Pool`.
//!
//! A pool runs [`Job`]s: functions registered at compile time, found by name in a
//! worker process (a fresh execution of the same binary, the spawn start method), with
//! arguments and results serialized across the boundary ([`Wire`]). A job's run fails
//! on its own ([`JobError`]): an `Err`, a panic, or the death of the worker running it.
//!
//! ```
//! # fn main() {}
//! # fn demo<P: racecourse_spec::process_pool::ProcessPool>(
//! #     square: &'static racecourse_spec::job::Job<u64, u64>,
//! # ) -> Result<(), racecourse_spec::process_pool::PoolError> {
//! let pool = P::new(4)?;
//! let squares = pool.map(square, vec![13632, 23432, 312131])?;
//! assert_eq!(squares, [185_831_424, 549_058_624, 97_425_761_161]);
//! pool.close();
//! pool.join()?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use crate::job::{Job, JobError, Wire};

/// A function the pool calls on its handler side once a result is known.
pub type Callback<T> = Box<dyn FnOnce(&T) + Send>;

/// The optional callbacks of an asynchronous call (Python's `callback` and
/// `error_callback`).
pub struct Callbacks<R> {
    /// Called with the result once, if the call succeeds.
    pub on_success: Option<Callback<R>>,
    /// Called with the error once, if the call fails.
    pub on_error: Option<Callback<JobError>>,
}

impl<R> Callbacks<R> {
    /// No callbacks.
    pub fn none() -> Self {
        Self {
            on_success: None,
            on_error: None,
        }
    }

    /// Calls `f` with the result if the call succeeds.
    pub fn on_success(mut self, f: impl FnOnce(&R) + Send + 'static) -> Self {
        self.on_success = Some(Box::new(f));
        self
    }

    /// Calls `f` with the error if the call fails.
    pub fn on_error(mut self, f: impl FnOnce(&JobError) + Send + 'static) -> Self {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Calls the callback that fits `outcome` (at most one of them, once).
    pub fn fire(self, outcome: &Result<R, PoolError>) {
        match outcome {
            Ok(value) => {
                if let Some(f) = self.on_success {
                    f(value)
                }
            }
            Err(PoolError::Job { error, .. }) => {
                if let Some(f) = self.on_error {
                    f(error)
                }
            }
            Err(_) => {}
        }
    }
}

impl<R> Default for Callbacks<R> {
    fn default() -> Self {
        Self::none()
    }
}

impl<R> fmt::Debug for Callbacks<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("on_success", &self.on_success.is_some())
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

/// Why a pool call gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// `new(0)`: a pool needs at least one worker.
    NoWorkers,
    /// The pool could not start a worker process (an OS error).
    Start(String),
    /// Work was submitted after [`close`](ProcessPool::close).
    Closed,
    /// Work was submitted to, or waited for from, a pool that was
    /// [`terminate`](ProcessPool::terminate)d.
    Terminated,
    /// [`join`](ProcessPool::join) was called before
    /// [`close`](ProcessPool::close) or [`terminate`](ProcessPool::terminate).
    StillRunning,
    /// The job on the item at `index` (0 for `apply`) failed.
    Job {
        /// The item's position in the call's input.
        index: usize,
        /// What happened to it.
        error: JobError,
    },
    /// [`get_timeout`](AsyncResult::get_timeout) waited this long and the result was
    /// not ready; the call goes on and can be waited for again.
    Timeout(Duration),
    /// The result was already taken by an earlier `get_timeout`.
    Taken,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::NoWorkers => {
                f.write_str("a pool needs at least one worker: ask for 1 or more processes")
            }
            PoolError::Start(why) => write!(f, "could not start a worker process: {why}"),
            PoolError::Closed => f.write_str(
                "the pool is closed: submit work before calling close, or make a new pool",
            ),
            PoolError::Terminated => f.write_str(
                "the pool was terminated: its work was cancelled; make a new pool to run more",
            ),
            PoolError::StillRunning => {
                f.write_str("join waits for a closed pool: call close (or terminate) first")
            }
            PoolError::Job { index, error } => write!(f, "item {index}: {error}"),
            PoolError::Timeout(waited) => {
                write!(
                    f,
                    "no result after {waited:?}: the job is still running; wait again"
                )
            }
            PoolError::Taken => f.write_str("the result was already taken by an earlier get"),
        }
    }
}

impl std::error::Error for PoolError {}

/// The pending result of an asynchronous pool call (Python's `AsyncResult`).
pub trait AsyncResult<T>: Send {
    /// Waits for the result. A failed job gives [`PoolError::Job`]; a terminated
    /// pool gives [`PoolError::Terminated`].
    fn get(self) -> Result<T, PoolError>;

    /// Waits at most `timeout`: the result, or [`PoolError::Timeout`] if it is not
    /// ready yet (the call goes on; wait again), or [`PoolError::Taken`] once the
    /// result was returned by an earlier call.
    fn get_timeout(&mut self, timeout: Duration) -> Result<T, PoolError>;

    /// Whether the result is ready (a `get` would not wait).
    fn ready(&self) -> bool;
}

/// A pool of worker processes.
///
/// # Contract
/// - [`new(n)`](Self::new) **must** fail with [`PoolError::NoWorkers`] for `n == 0`.
///   At no time are more than `n` worker processes of the pool alive, and workers
///   **must** be reused: many calls run in at most `n` distinct processes.
/// - Every job runs in a worker process, never in the caller's: a write it makes to
///   its process's memory is not seen by the caller.
/// - [`map_async`](Self::map_async) (and so [`map`](Self::map)) **must** give the
///   results in input order, equal to calling the job on each item in turn; the
///   empty input gives the empty output.
/// - A job that returns `Err` or panics **must** fail that call's item only
///   ([`PoolError::Job`] with the item's index): every other call's result is intact.
///   `on_error` **must** run exactly once per failed call and `on_success` exactly
///   once per successful one, never both, and it **must** have run by the time the
///   call's result is ready (as in Python, where the callback runs before `get`
///   returns). A `map_async` is one call: it fails with the first of its items to
///   fail (first in time, not the lowest index).
/// - A worker that dies while it runs a job (a signal, an abort, an `exit`) **must**
///   fail that job with [`JobError::Crashed`] and its cause, be reaped and replaced;
///   the pool keeps serving. (Python's `Pool` hangs here.)
/// - After [`close`](Self::close), submitting **must** fail with
///   [`PoolError::Closed`]; work submitted before still runs. [`join`](Self::join)
///   **must** wait until that work is done and the workers have exited and been
///   reaped ([`PoolError::StillRunning`] before `close`).
/// - [`terminate`](Self::terminate) **must** stop the workers at once (killed, not
///   asked) and reap them; calls not finished fail with [`PoolError::Terminated`].
/// - Dropping the pool **must** terminate it: no worker process is left running or
///   unreaped.
pub trait ProcessPool: Sized + Send + Sync {
    /// The pending result of an asynchronous call.
    type Async<T: Send + 'static>: AsyncResult<T>;

    /// A pool of `processes` workers.
    fn new(processes: usize) -> Result<Self, PoolError>;

    /// Runs `job` on `arg` in a worker; `callbacks` fire when it ends.
    fn apply_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
        callbacks: Callbacks<R>,
    ) -> Result<Self::Async<R>, PoolError>;

    /// Runs `job` on every item, in the workers, and gives the results in input
    /// order; `callbacks` fire once, with the whole list or the first failure.
    fn map_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        args: Vec<A>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<Self::Async<Vec<R>>, PoolError>;

    /// Accepts no more work; work already submitted still runs.
    fn close(&self);

    /// Waits until submitted work is done and the workers have exited, once the pool
    /// is closed or terminated.
    fn join(&self) -> Result<(), PoolError>;

    /// Kills the workers now, reaps them, and fails the calls not finished.
    fn terminate(&self);

    /// Runs `job` on `arg` in a worker and waits for the result.
    fn apply<A: Wire, R: Wire>(&self, job: &'static Job<A, R>, arg: A) -> Result<R, PoolError> {
        self.apply_async(job, arg, Callbacks::none())?.get()
    }

    /// Runs `job` on every item and waits for the results, in input order.
    fn map<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        args: Vec<A>,
    ) -> Result<Vec<R>, PoolError> {
        self.map_async(job, args, Callbacks::none())?.get()
    }

    /// [`map`](Self::map) for a job of two arguments, given as pairs (Python's
    /// `starmap` unpacks each tuple into the arguments).
    fn starmap<A: Wire, B: Wire, R: Wire>(
        &self,
        job: &'static Job<(A, B), R>,
        args: Vec<(A, B)>,
    ) -> Result<Vec<R>, PoolError> {
        self.map(job, args)
    }
}
