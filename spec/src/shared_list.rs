//! E4: an adder thread and a remover thread sharing a list under a lock.
//!
//! The course's program starts one thread that appends `0..k` and another that removes
//! `k` times, printing "nothing to remove" when the list is empty. Students pop either
//! the front (a queue) or the back (a stack); an implementation declares which, and
//! the checker holds it to that sequential model.

/// Which item [`SharedList::remove`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemovalOrder {
    /// The oldest item first (a queue; the list's front).
    Fifo,
    /// The newest item first (a stack; the list's back).
    Lifo,
}

impl RemovalOrder {
    /// The name used in reports and snapshots: `"fifo"` or `"lifo"`.
    pub fn name(self) -> &'static str {
        match self {
            RemovalOrder::Fifo => "fifo",
            RemovalOrder::Lifo => "lifo",
        }
    }
}

/// A list shared by threads, every operation atomic.
///
/// # Contract
/// Every concurrent history of `add`, `remove` and `snapshot` calls **must** be
/// linearizable: there is one order of the calls, consistent with real time (a call
/// that returned before another began comes first), in which each call behaves as on a
/// sequential list with removal order [`ORDER`](Self::ORDER). In particular:
/// - no item is lost or duplicated: the items added equal, as multisets, the items
///   removed plus the items remaining;
/// - `remove` never returns an item that was not added before it returned;
/// - `remove` returns `None` only when the list is empty at its linearization point.
///
/// ## Blocking
/// No operation waits for another thread's progress beyond the time a lock is held:
/// `remove` on an empty list returns `None` at once.
pub trait SharedList: Send + Sync + 'static {
    /// The sequential model the implementation promises.
    const ORDER: RemovalOrder;

    /// An empty list.
    fn new() -> Self;

    /// Appends `x`.
    fn add(&self, x: u32);

    /// Removes and returns one item, chosen by [`ORDER`](Self::ORDER), or `None` when
    /// the list is empty ("nothing to remove").
    fn remove(&self) -> Option<u32>;

    /// The items, front (oldest) first.
    fn snapshot(&self) -> Vec<u32>;
}

/// The exercise program: one adder thread and one remover thread on one list.
///
/// # Contract
/// [`run`](Self::run) **must** start an adder thread that adds `0, 1, .., k - 1` in
/// that order and a remover thread that calls `remove` exactly `k` times, and **must**
/// start both before it joins either: the exercise asks for two threads working at the
/// same time. It returns once both threads have finished. Whatever `remove` returns is
/// the program's business (the course prints it); the checker observes the list's calls.
pub trait AdderRemover {
    /// Runs the program on `list`.
    fn run<L: SharedList>(list: L, k: u32);
}
