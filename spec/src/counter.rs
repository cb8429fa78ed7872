//! E5, lock: a counter that many threads increment.
//!
//! The course's example starts seven threads that each increment once and expects 7;
//! the general form is N threads each incrementing K times, expecting exactly N * K.

/// A counter protected by a lock.
///
/// # Contract
/// - [`with_lock`](Self::with_lock) **must** run `f` while holding the counter's lock:
///   at most one `f` runs at any moment, in any thread (mutual exclusion), and the
///   value `f` leaves is the value the next `f` sees (no lost update).
/// - After N threads each call [`increment`](Self::increment) K times and are joined,
///   [`get`](Self::get) returns exactly N * K.
///
/// ## Blocking
/// `with_lock` waits while another thread holds the lock, and never longer.
pub trait Counter: Send + Sync + 'static {
    /// A counter at zero.
    fn new() -> Self;

    /// Runs `f` on the count under the lock and returns what `f` returns.
    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;

    /// Adds one.
    fn increment(&self) {
        self.with_lock(|n| *n += 1);
    }

    /// The current count.
    fn get(&self) -> u64 {
        self.with_lock(|n| *n)
    }
}
