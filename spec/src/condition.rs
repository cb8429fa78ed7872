//! E5, condition: a bounded buffer shared by producer and consumer threads, built on a
//! condition variable.
//!
//! The course's producer/consumer example: producers put items into a buffer of
//! capacity `c` and wait while it is full; consumers take items out and wait while it
//! is empty. A condition variable (`wait_while`, `notify_one`, `notify_all`) does the
//! waiting and the waking.

/// A buffer of bounded capacity that producers and consumers share.
///
/// # Contract
/// - Every item put is taken exactly once: after P producers put their items and C
///   consumers take as many, the items taken equal the items put, as multisets.
///   Which item a `take` returns is the implementation's choice (oldest first is
///   usual, any order is allowed).
/// - The buffer **must** never hold more than `capacity` items: a `put` into a full
///   buffer waits until a `take` makes room.
/// - `take` **must** return an item that is in the buffer, never a made-up or
///   repeated one; on an empty buffer it waits until a `put` brings one.
///
/// ## Blocking
/// `put` blocks while the buffer is full and `take` while it is empty, and no longer:
/// a thread **must** not sleep on while it could proceed. A `put` **must** wake a
/// consumer that waits for an item, and a `take` a producer that waits for room,
/// whichever threads are waiting (no lost wake-up). With one condition variable for
/// both kinds of waiter, `notify_one` may wake a thread of the wrong kind: notify all.
/// And a woken thread may find its condition false again (another thread got there
/// first): it checks again, in a `while` around the wait (or `wait_while`).
pub trait BoundedBuffer: Send + Sync + 'static {
    /// An empty buffer that holds at most `capacity` items (`capacity` is at least 1).
    fn with_capacity(capacity: usize) -> Self;

    /// Adds `item`, waiting while the buffer is full.
    fn put(&self, item: u32);

    /// Removes and returns one item, waiting while the buffer is empty.
    fn take(&self) -> u32;
}
