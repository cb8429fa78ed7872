//! L, the lecture's facts about threads: daemon and normal threads, the count of
//! active threads, and two tasks run one after another or on threads of their own.
//!
//! The lecture's Python: `threading.Thread(target=..., daemon=True).start()` for a
//! background task that must not keep the program alive, `Thread(...).start()` and
//! `join()` for a normal one, `threading.active_count()`, and `task("A", 2);
//! task("B", 2)` against the same two tasks on two threads. Python's interpreter, as
//! the program ends, waits for every normal thread and abandons the daemon ones; a Rust
//! program ends when `main` returns, whatever its threads do, so here the program's end
//! is a call, [`Threading::end_of_main`], that does what Python's interpreter does.

/// A piece of work handed to a thread (or run in place, by
/// [`Threading::run_sequential`]).
pub type Work = Box<dyn FnOnce() + Send + 'static>;

/// The threads of one program, as Python's `threading` module gives them.
///
/// # Contract
/// - [`spawn_daemon`](Self::spawn_daemon) **must** start `work` on a new thread and
///   return without waiting for it; nothing ever waits for a daemon thread: it may
///   still be running when the program ends, and then it ends with the program.
/// - [`spawn_normal`](Self::spawn_normal) **must** start `work` on a new thread and
///   return a handle to it without waiting for it. [`join`](Self::join) **must**
///   return only once that thread's work has finished.
/// - [`end_of_main`](Self::end_of_main) is the end of the program's main thread: it
///   **must** return only once the work of every normal thread this value started has
///   finished (joined or not), and **must not** wait for a daemon thread. With no
///   normal thread running it returns at once: it does not sleep or block beyond the
///   time a lock is held. Once it returns, the caller ends the process.
/// - [`active_count`](Self::active_count) **must** be live: 1 (the main thread, as
///   Python counts it) plus the threads this value started whose work has not
///   finished. A thread counts from the moment its work starts at the latest, and
///   no longer once [`join`](Self::join) on it returned.
/// - [`run_sequential`](Self::run_sequential) **must** run the tasks on the calling
///   thread, in the order given, each finished before the next starts (the lecture's
///   "without multithreading": `task("A", 2); task("B", 2)`).
/// - [`run_threaded`](Self::run_threaded) **must** run each task on a new thread of its
///   own, start them all before waiting for any, and return once all have finished
///   (the lecture's two threads, started, then joined).
///
/// ## Blocking
/// `join`, `end_of_main` (while a normal thread runs) and both `run_*` block; every
/// other operation returns without waiting for another thread beyond the time a lock
/// is held.
pub trait Threading: Send + Sync + 'static {
    /// A started normal thread, to [`join`](Self::join).
    type Handle: Send + 'static;

    /// A program that has started no thread yet.
    fn new() -> Self;

    /// Starts `work` on a daemon thread: the program may end while it runs.
    fn spawn_daemon(&self, work: Work);

    /// Starts `work` on a normal thread: the program does not end before it finished.
    fn spawn_normal(&self, work: Work) -> Self::Handle;

    /// Waits until the work of the thread `handle` names has finished.
    fn join(&self, handle: Self::Handle);

    /// The end of the main thread: waits for every normal thread, not for daemon ones.
    fn end_of_main(&self);

    /// 1 for the main thread plus the threads started here whose work has not finished.
    fn active_count(&self) -> usize;

    /// Runs `tasks` one after another on the calling thread.
    fn run_sequential(&self, tasks: Vec<Work>);

    /// Runs each of `tasks` on a thread of its own, all at once, and waits for them.
    fn run_threaded(&self, tasks: Vec<Work>);
}
