//! E5, shared array (processes): `n` integer slots in memory shared between processes,
//! all of them under ONE lock that lives in the same shared memory.
//!
//! The course's example spreads 5 processes x 100 increments over the slots, and the
//! parent reads every slot's exact total. As with the shared value
//! ([`ShmCounter`](crate::shm_counter::ShmCounter)), separate processes do not share
//! an address space: the slots and their lock **must** live in memory mapped by every
//! process. An array copied into each child (what a plain list handed to a child
//! process is) leaves the parent reading zeros and the children blind to each other.

use std::io;

/// `n` integer slots in memory shared between processes, under one lock.
///
/// # Contract
/// - [`create`](Self::create)`(n)` makes `n` slots, every one zero, in a fresh shared
///   region; [`len`](Self::len) is then `n` in every process that attaches.
/// - [`token`](Self::token) names that region as a string; a child process passes it
///   to [`attach`](Self::attach) and **must** then see and update the same slots.
///   Attaching **must** work from a process started after `create` returned, including
///   a freshly executed binary (spawn start method), not only a fork.
/// - [`with_lock`](Self::with_lock) **must** run `f` on all `n` slots under one lock
///   that excludes every other `f` in every attached process (mutual exclusion across
///   processes, whatever slots each `f` touches), and the values `f` leaves in every
///   slot are the values the next `f` sees, in any process: no update is lost, on one
///   slot or on several.
/// - [`snapshot`](Self::snapshot) **must** return the `n` values as one `f` left them:
///   it takes the same lock, so it never sees a state between two `with_lock`
///   sections (half of a change that touches two slots).
/// - A lock holder that dies **must not** leave the others waiting forever: the next
///   locker recovers the lock (the slots are then whatever the dead holder left).
pub trait ShmArray: Sized {
    /// `n` slots at zero in a new shared region.
    fn create(n: usize) -> io::Result<Self>;

    /// A string that names the region for [`attach`](Self::attach).
    fn token(&self) -> String;

    /// Attaches to the array named by `token`, from any process.
    fn attach(token: &str) -> io::Result<Self>;

    /// The number of slots.
    fn len(&self) -> usize;

    /// Whether there are no slots (`create(0)`).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on every slot under the cross-process lock.
    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R>;

    /// A copy of every slot, taken under the lock.
    fn snapshot(&self) -> io::Result<Vec<i64>> {
        self.with_lock(|slots| slots.to_vec())
    }
}
