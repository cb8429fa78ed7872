//! E5, thread-local storage: a value per thread, as Python's `threading.local()`.
//!
//! In Rust the tool is `thread_local!` (in an implementation written against the
//! facade, `rt::thread_local!`); a storage object that many threads share gives each of
//! them its own value.

/// Storage that holds one value per thread (Python's `threading.local()`).
///
/// # Contract
/// - A value [`set`](Self::set) in one thread **must** be invisible to every other
///   thread: [`get`](Self::get) returns the value the calling thread set last.
/// - Each thread **must** start from the initial value given to
///   [`new`](Self::new): a thread that has not set a value gets the initial one,
///   whatever other threads set.
/// - Two storages are independent: setting one **must** leave every other storage's
///   value unchanged, in every thread.
///
/// ## Blocking
/// `get` and `set` never wait for another thread, except for a lock held only while
/// another thread's `get` or `set` runs.
pub trait ThreadLocal: Send + Sync + 'static {
    /// A storage in which every thread starts from `initial`.
    fn new(initial: u32) -> Self;

    /// The calling thread's value.
    fn get(&self) -> u32;

    /// Sets the calling thread's value; other threads' values are unchanged.
    fn set(&self, value: u32);
}
