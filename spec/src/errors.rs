//! E6, errors in concurrent programs: the techniques of the course's Q6 for handling an
//! error raised far from the code that must hear of it.
//!
//! The course's answers (seeds 001 and 002, Q6) show each technique in Python: a
//! `try`/`except` inside the worker that reports the error (the "division by zero"
//! example); `future.result()` re-raising the worker's exception; a queue that carries
//! errors back to the main thread; `result(timeout=...)`; a pool's `error_callback`;
//! and `threading.excepthook`, which sees the exception of a thread nobody joins. The
//! student writes them as one [`Handling`] type; the futures come from the student's
//! [`Executor`] (E7), whose [`Future`](crate::executor::Future) already carries a
//! task's error or panic as a [`TaskError`].
//!
//! An error is a [`TaskError`] everywhere: [`TaskError::Failed`] with the message the
//! task returned, [`TaskError::Panicked`] with the panic's message (see
//! [`panic_message`](crate::executor::panic_message)).
//!
//! The classic mistake (both seeds) reads the queue once, after the join:
//! `if not q.empty(): error = q.get()`. With two failing workers, one error is never
//! heard of.

use crate::executor::{Executor, Shutdown, Task, TaskError};

/// Whoever must hear of a task's error: called with it, once. A reporter that is not
/// called is dropped.
pub type Report = Box<dyn FnOnce(TaskError) + Send + 'static>;

/// A process-wide handler of the panics of detached threads (Python's
/// `threading.excepthook`): called with the panic's message.
pub type Hook = Box<dyn Fn(String) + Send + Sync + 'static>;

/// The body of a detached thread.
pub type Work = Box<dyn FnOnce() + Send + 'static>;

/// The techniques of handling errors in concurrent programs.
///
/// # Contract
/// In every method, a task *fails* when it returns `Err(message)` (the error is
/// [`TaskError::Failed`]`(message)`) or panics (the error is
/// [`TaskError::Panicked`] with the panic's message). A panic in a task or in a
/// detached thread's work **must** be caught: it is an error value, never a crash of
/// the program or of the caller.
///
/// - [`caught_in_worker`](Self::caught_in_worker) **must** run the task on a thread of
///   its own, catch its error there and call `report` with it from that thread (not the
///   caller's); a task that succeeds is not reported. It returns once the thread has
///   been joined, so the report, if any, has been made by then.
/// - [`through_queue`](Self::through_queue) **must** run each task on a thread of its
///   own and bring every error back to the calling thread: it returns, once every
///   thread is joined, one `(index, error)` per failing task (the index in `tasks`), in
///   any order, and nothing for a task that succeeded.
/// - [`apply_async`](Self::apply_async) **must** submit the task to `pool` and return
///   its future, which holds the task's outcome as [`Executor::submit`] promises. When
///   the task fails, `on_error` **must** be called exactly once with the same error the
///   future gives; when it succeeds, `on_error` **must not** be called but dropped. In
///   both cases this happens once the task has finished, without waiting for anything
///   else (no call to `result`, no shutdown). If `submit` fails, the `Err(Shutdown)` is
///   returned and `on_error` dropped.
/// - [`set_excepthook`](Self::set_excepthook) installs the hook that
///   [`spawn_detached`](Self::spawn_detached) threads use: when a detached thread's
///   work panics, the hook in place **must** be called with the panic's message, on
///   that thread, and the panic goes no further. A thread nobody joins still has its
///   error heard. (Python's hook is process-wide; whether yours is kept in the value or
///   in a static is up to you: the suite installs it before each use.)
pub trait Handling: Send + Sync + Sized + 'static {
    /// The techniques, with no hook installed.
    fn new() -> Self;

    /// Runs `task` on a thread of its own, where its error is caught and reported
    /// through `report`; returns after joining that thread.
    fn caught_in_worker(&self, task: Task, report: Report);

    /// Runs each task on a thread of its own and returns every failing task's error, by
    /// index, passed back through a queue to the calling thread.
    fn through_queue(&self, tasks: Vec<Task>) -> Vec<(usize, TaskError)>;

    /// Submits `task` to `pool` (Python's `pool.apply_async(task,
    /// error_callback=on_error)`): `on_error` hears the task's error, once, if it fails.
    fn apply_async<E: Executor>(
        &self,
        pool: &E,
        task: Task,
        on_error: Report,
    ) -> Result<E::Future, Shutdown>;

    /// Installs `hook` as the handler of detached threads' panics (Python's
    /// `threading.excepthook = hook`).
    fn set_excepthook(&self, hook: Hook);

    /// Starts `work` on a thread nobody joins; a panic there goes to the excepthook.
    fn spawn_detached(&self, work: Work);
}
