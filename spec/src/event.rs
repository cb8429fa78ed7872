//! E5, event: a flag that threads wait on until another thread sets it.
//!
//! The course's production line: a manufacturer thread builds the parts and then sets
//! an event; the assembly thread waits on the event and only then assembles. Python's
//! `threading.Event` is the model: `set`, `clear`, `is_set`, `wait` and `wait` with a
//! timeout.

use std::time::Duration;

/// A flag that threads can wait on, as Python's `threading.Event`.
///
/// # Contract
/// - A new event is not set: [`is_set`](Self::is_set) returns false.
/// - After [`set`](Self::set), `is_set` returns true until the next
///   [`clear`](Self::clear); after `clear`, false until the next `set`.
/// - [`wait`](Self::wait) **must** return only once the event is set, and everything
///   the setting thread did before `set` happens before `wait` returns (the assembly
///   sees every part the manufacturer made).
/// - One `set` **must** wake *every* thread waiting on the event, not one of them. A
///   `clear` that comes before a woken thread runs may send it back to sleep (as a
///   flag checked in a `while` does) or not (Python's event returns anyway): both are
///   allowed.
/// - [`wait_timeout`](Self::wait_timeout) **must** return true once the event is set
///   (with the same ordering as `wait`), and false only when the timeout passed with
///   the event not set.
///
/// ## Blocking
/// `wait` blocks while the event is not set, and no longer: a `set` that happens while
/// a thread waits, or before it starts to wait, **must** end its wait (no lost
/// wake-up). `wait_timeout` blocks at most about `timeout`. `set`, `clear` and `is_set`
/// never wait for another thread beyond the time a lock is held.
pub trait Event: Send + Sync + 'static {
    /// An event that is not set.
    fn new() -> Self;

    /// Sets the event and wakes every thread waiting on it.
    fn set(&self);

    /// Resets the event: `is_set` is false and `wait` blocks until the next `set`.
    fn clear(&self);

    /// Whether the event is set.
    fn is_set(&self) -> bool;

    /// Waits until the event is set.
    fn wait(&self);

    /// Waits until the event is set or `timeout` has passed; returns true if the event
    /// is set, false on a timeout.
    fn wait_timeout(&self, timeout: Duration) -> bool;
}
