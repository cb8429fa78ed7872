//! E7, a thread-pool executor in the style of Python's
//! `concurrent.futures.ThreadPoolExecutor`.
//!
//! The course's program (seed 000, Q7) computes the factorials of 1 to 10 on a pool of
//! worker threads and prints `Factorial of n is n!` for each, in order. The student
//! supplies the [`Executor`] (its workers, its queue of tasks, its shutdown) and the
//! [`Future`] that carries one task's result back to whoever waits for it. A task's
//! value is a `u64` (20! still fits) and its error is text, as a Python exception
//! carries a message: see [`Outcome`].
//!
//! The classic mistake (seed 000) is one result slot shared by every task: each
//! future then reads whichever task finished last, and the program prints
//! `Factorial of 4 is 5040` on every line. A future is one task's, and only its.

use std::any::Any;
use std::fmt;
use std::time::Duration;

/// What a task gives back: its value, or the error it raised, as text (Python's
/// `raise ValueError("...")`).
pub type Outcome = Result<u64, String>;

/// A unit of work submitted to an executor. It runs once, on one of the executor's
/// workers.
pub type Task = Box<dyn FnOnce() -> Outcome + Send + 'static>;

/// Why a future holds no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskError {
    /// The task returned `Err(message)`.
    Failed(String),
    /// The task panicked; the message is the panic's (see [`panic_message`]).
    Panicked(String),
    /// [`Future::result_timeout`] gave up before the task finished. The task goes on,
    /// and a later `result` still obtains its outcome.
    Timeout,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(message) => write!(f, "the task failed: {message}"),
            TaskError::Panicked(message) => write!(f, "the task panicked: {message}"),
            TaskError::Timeout => write!(f, "the task did not finish in time"),
        }
    }
}

impl std::error::Error for TaskError {}

/// `submit` was called after `shutdown`: the executor takes no more work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown;

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the executor was shut down: it takes no new tasks (submit before calling shutdown)"
        )
    }
}

impl std::error::Error for Shutdown {}

/// The text of a panic's payload, as [`TaskError::Panicked`] carries it: the message
/// of `panic!("...")` (a `&str` or a `String`), or `"a panic without a message"`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `task` on the calling thread and returns its outcome as a future holds it:
/// `Ok(v)`, [`TaskError::Failed`] for a returned error, [`TaskError::Panicked`] (with
/// the panic's message) for a panic, which goes no further.
pub fn outcome_of(task: Task) -> Result<u64, TaskError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(task)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(TaskError::Failed(message)),
        Err(payload) => Err(TaskError::Panicked(panic_message(&*payload))),
    }
}

/// The course's task: `n!`.
pub fn factorial(n: u64) -> u64 {
    (1..=n).product()
}

/// The line the course's program prints for `n`: `Factorial of 4 is 24`.
pub fn factorial_line(n: u64, value: u64) -> String {
    format!("Factorial of {n} is {value}")
}

/// One submitted task's result, as [`Executor::submit`] hands it out.
///
/// # Contract
/// - A future **must** hold the outcome of its own task and of no other: `Ok(v)` when
///   the task returned `Ok(v)`, [`TaskError::Failed`] when it returned an error,
///   [`TaskError::Panicked`] (with the panic's message) when it panicked. A panic in a
///   task is an error value in its future, never a crash of the program or of the
///   caller.
/// - [`result`](Self::result) **must** wait until the task has finished, and may be
///   called any number of times, from any thread, always giving the same outcome.
/// - [`result_timeout`](Self::result_timeout) **must** return
///   `Err(TaskError::Timeout)` when the task has not finished within `timeout`, leave
///   the task running, and give the outcome when it has finished. (Only real threads
///   have a clock: under the model checkers a timeout never fires.)
/// - [`done`](Self::done) says whether the task has finished; once it has said `true`,
///   `result` returns at once.
pub trait Future: Send + Sync + 'static {
    /// Waits for the task and returns its outcome.
    fn result(&self) -> Result<u64, TaskError>;

    /// Waits for the task at most `timeout`; [`TaskError::Timeout`] if it has not
    /// finished by then.
    fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError>;

    /// Whether the task has finished.
    fn done(&self) -> bool;
}

/// A pool of at most `max_workers` worker threads that run submitted tasks.
///
/// # Contract
/// - **Bounded:** at most `max_workers` tasks run at any moment, and when
///   `max_workers` or more tasks are waiting for each other to start (a rendezvous),
///   `max_workers` of them **must** run at once: the executor never runs fewer tasks at
///   once than it has workers while tasks wait to run.
/// - **Every task runs once** and its [`Future`] holds its own outcome (see there). A
///   task that panics **must not** take its worker's capacity with it: later tasks
///   still run, `max_workers` at a time.
/// - [`submit`](Self::submit) after [`shutdown`](Self::shutdown) **must** return
///   `Err(Shutdown)` and run nothing.
/// - `shutdown(true)` **must** return only once every task submitted before it has
///   finished; `shutdown(false)` returns at once, and those tasks still run to the end.
///   Dropping the executor **must** wait as `shutdown(true)` does, and every worker
///   thread has ended when `shutdown(true)` or the drop returns.
/// - [`map`](Self::map) **must** return one outcome per input, in input order,
///   whatever order the tasks finish in.
/// - [`as_completed`](Self::as_completed) **must** yield each of the given futures
///   exactly once, and never wait for one of them while another not yet yielded is
///   done: what it yields next is a done future whenever there is one. The futures
///   are of one executor (call it once per executor).
pub trait Executor: Send + Sync + Sized + 'static {
    /// The future of one task.
    type Future: Future;

    /// An executor with at most `max_workers` workers (`max_workers >= 1`).
    fn new(max_workers: usize) -> Self;

    /// Schedules `task` and returns its future, or `Err(Shutdown)` after
    /// [`shutdown`](Self::shutdown).
    fn submit(&self, task: Task) -> Result<Self::Future, Shutdown>;

    /// Runs `f` on every input, at most `max_workers` at a time, and returns the outcomes
    /// in input order (Python's `executor.map`).
    ///
    /// The provided method submits one task per input and then waits for each future in
    /// turn.
    fn map<F>(&self, f: F, inputs: Vec<u64>) -> Result<Vec<Result<u64, TaskError>>, Shutdown>
    where
        F: Fn(u64) -> Outcome + Send + Sync + 'static,
    {
        let f = std::sync::Arc::new(f);
        let futures = inputs
            .into_iter()
            .map(|x| {
                let f = std::sync::Arc::clone(&f);
                self.submit(Box::new(move || f(x)))
            })
            .collect::<Result<Vec<_>, Shutdown>>()?;
        Ok(futures.iter().map(|fut| fut.result()).collect())
    }

    /// Yields `futures` in the order their tasks finish, each exactly once (Python's
    /// `concurrent.futures.as_completed`).
    fn as_completed(futures: Vec<Self::Future>) -> impl Iterator<Item = Self::Future>;

    /// Takes no more tasks; with `wait`, returns once every submitted task finished and
    /// the workers ended.
    fn shutdown(&self, wait: bool);
}
