//! E4 across processes: the shared list as a process twin. An adder process appends
//! `0..k`, a remover process removes `k` times, and the list they share lives in memory
//! both map, under a lock that excludes across processes.
//!
//! The threads' list ([`SharedList`](crate::shared_list::SharedList)) is one object in
//! one address space. Processes share no address space: a list handed to a child
//! process is a copy, so the items and their lock **must** live in memory that every
//! process maps (or behind a server process). The checker records the calls of every
//! process, each stamped from one counter in shared memory, and holds the history to
//! the same linearizability oracle and sequential model as the threads' list.

use std::io;

pub use crate::shared_list::RemovalOrder;

/// A list of `u32` items in memory shared between processes, of fixed capacity, every
/// operation atomic across processes.
///
/// # Contract
/// - [`create`](Self::create)`(capacity)` makes an empty list able to hold `capacity`
///   items in a fresh shared region; [`token`](Self::token) names that region as a
///   string, and [`attach`](Self::attach) from any process, including a freshly executed
///   binary (spawn start method) started after `create` returned, **must** give a handle
///   to the same list.
/// - Every concurrent history of `add`, `remove` and `snapshot` calls, from any number of
///   attached processes, **must** be linearizable: there is one order of the calls,
///   consistent with real time (a call that returned before another began comes first),
///   in which each call behaves as on a sequential list with removal order
///   [`ORDER`](Self::ORDER). In particular no item is lost or duplicated, and `remove`
///   returns `None` only when the list is empty.
/// - [`add`](Self::add) on a list that holds `capacity` items **must** fail and change
///   nothing; below capacity it **must** succeed.
/// - [`with_lock`](Self::with_lock) **must** run `f` on the items (front, oldest,
///   first) holding the lock that `add`, `remove` and `snapshot` take: while `f` runs,
///   no `add`, `remove` or `snapshot` in any attached process takes effect or returns,
///   and the items `f` leaves are the list. An `f` that leaves more than `capacity`
///   items **must** make `with_lock` fail with the list as it was before. (`f` must not
///   call the list itself.)
///
/// ## Blocking
/// No operation waits for another process's progress beyond the time the lock is held:
/// `remove` on an empty list returns `None` at once.
pub trait ShmList: Sized {
    /// The sequential model the implementation promises.
    const ORDER: RemovalOrder;

    /// An empty list of room for `capacity` items, in a new shared region.
    fn create(capacity: usize) -> io::Result<Self>;

    /// A string that names the region for [`attach`](Self::attach).
    fn token(&self) -> String;

    /// Attaches to the list named by `token`, from any process.
    fn attach(token: &str) -> io::Result<Self>;

    /// Appends `x`; fails when the list is full.
    fn add(&self, x: u32) -> io::Result<()>;

    /// Removes and returns one item, chosen by [`ORDER`](Self::ORDER), or `None` when
    /// the list is empty ("nothing to remove").
    fn remove(&self) -> io::Result<Option<u32>>;

    /// The items, front (oldest) first.
    fn snapshot(&self) -> io::Result<Vec<u32>>;

    /// Runs `f` on the items, front first, holding the list's cross-process lock;
    /// what `f` leaves is the list.
    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R>;
}
