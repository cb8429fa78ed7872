//! E5, shared value (processes): a counter in shared memory, incremented by several
//! processes under a lock that lives in the same shared memory.
//!
//! The course's example: 5 processes each increment 100 times, and the parent reads
//! 500. Separate processes do not share an address space, so both the count and its
//! lock **must** live in memory mapped by every process; a lock that only works within
//! one process (such as `std::sync::Mutex`, whose waiters are woken by a
//! process-private futex) hangs or loses updates across processes.

use std::io;

/// A counter in memory shared between processes.
///
/// # Contract
/// - [`create`](Self::create) makes a counter at zero in a fresh shared region.
/// - [`token`](Self::token) names that region as a string; a child process passes it
///   to [`attach`](Self::attach) and **must** then see and update the same count.
///   Attaching **must** work from a process started after `create` returned, including
///   a freshly executed binary (spawn start method), not only a fork.
/// - [`with_lock`](Self::with_lock) **must** run `f` under a lock that excludes every
///   other `f` in every attached process (mutual exclusion across processes), and the
///   value `f` leaves is the value the next `f` sees, in any process.
/// - A lock holder that dies **must not** leave the others waiting forever: the next
///   locker recovers the lock (the count is then whatever the dead holder left).
pub trait ShmCounter: Sized {
    /// A counter at zero in a new shared region.
    fn create() -> io::Result<Self>;

    /// A string that names the region for [`attach`](Self::attach).
    fn token(&self) -> String;

    /// Attaches to the counter named by `token`, from any process.
    fn attach(token: &str) -> io::Result<Self>;

    /// Runs `f` on the count under the cross-process lock.
    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R>;

    /// The current count.
    fn get(&self) -> io::Result<u64> {
        self.with_lock(|n| *n)
    }
}
