//! E5, Queue (processes): a FIFO queue shared by several producer and consumer
//! processes, carrying whole items, bounded or not (the course's
//! `multiprocessing.Queue`).
//!
//! In Python: `q = Queue(); p = Process(target=producer, args=(q,)); c =
//! Process(target=consumer, args=(q,)); p.start(); c.start()`, the producer putting
//! `0..5` and the consumer getting and printing them. Here every child is a fresh
//! execution of the same binary (the spawn start method) running a [`Job`]; the
//! queue starts it ([`ProcessQueue::spawn`]) and hands the job a [`QueueHandle`], a
//! passable name of the queue (inherited fd numbers and a shared-memory token, say),
//! which the job opens with [`ProcessQueue::open`].
//!
//! ```
//! # fn main() {}
//! # fn demo<Q: racecourse_spec::process_queue::ProcessQueue>(
//! #     producer: &'static racecourse_spec::job::Job<(racecourse_spec::process_queue::QueueHandle, u32), u32>,
//! #     consumer: &'static racecourse_spec::job::Job<(racecourse_spec::process_queue::QueueHandle, u32), Vec<u32>>,
//! # ) -> Result<(), racecourse_spec::process_queue::QueueError> {
//! use racecourse_spec::child_processes::Child;
//!
//! // `producer((queue, n))` opens the queue and puts the items 0..n, each as
//! // `postcard::to_stdvec(&i)`; `consumer((queue, n))` gets n items and returns them.
//! let queue = Q::new(0)?;
//! let p = queue.spawn(producer, 5)?;
//! let c = queue.spawn(consumer, 5)?;
//! assert_eq!(p.join(), Ok(5));
//! assert_eq!(c.join(), Ok(vec![0, 1, 2, 3, 4]));
//! # Ok(())
//! # }
//! ```
//!
//! The course's consumer loops `while not q.empty()`: across processes that is a
//! race (the consumer may look before the producer's first item arrives, and print
//! nothing), so this contract has no `empty`: a consumer gets a known number of
//! items, or until a stop item, as the course's thread crawler does.
//!
//! ## What carries over from the thread Queue
//! From [`queue::Queue`](crate::queue::Queue): every item put is got exactly once
//! (none lost, duplicated or invented), FIFO (so the items of one producer come out
//! in that producer's order), and a bound that `put` waits on while the queue is full
//! and never longer; `get` waits while the queue is empty. What does not carry over:
//! task tracking (`task_done`, `join`: that is Python's `JoinableQueue`, not this
//! exercise), and the "one `put` returned before the other was called" order across
//! producers, which between processes is only as good as the clocks that would judge
//! it: the suite checks the order per producer.
//!
//! ## Why byte vectors
//! An item is a `Vec<u8>`, as the Pipe's message is, for the same reasons: the
//! exercise is the queue (whole items across a stream shared by many processes, the
//! bound across processes), not a serializer; bytes make the sizes exact (the
//! empty item, 8 bytes, more than the OS's atomic write of `PIPE_BUF`), they let a
//! benchmark measure the queue, and Python's `Queue` itself moves pickled bytes
//! (`put(obj)` pickles in the feeder thread). Values go over serialized by the
//! caller, in one line (`postcard::to_stdvec`).
//!
//! ## What a caller may rely on
//! - Each item put is returned whole, byte for byte, by exactly one `get`, in
//!   whichever process calls it; items one process puts come out in the order it put
//!   them.
//! - A queue made with capacity `c > 0` never holds more than `c` items: a `put`
//!   waits while `c` items are in it, and only then.
//! - A child holds the queue and nothing else of the parent's.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::child_processes::Child;
use crate::job::{Job, Wire};

/// Names a queue for [`ProcessQueue::open`] in a child process: what
/// [`ProcessQueue::spawn`] hands the job (inherited fd numbers and a shared-memory
/// token, say). It means something only in the process it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueHandle(pub String);

/// Why a queue operation failed: an OS error, an item too large, a handle that names
/// nothing, a child that could not be started. The message says what failed and
/// what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueError(pub String);

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueueError {}

/// A FIFO queue of byte items shared by processes (the course's
/// `multiprocessing.Queue`).
///
/// # Contract
/// - [`spawn`](Self::spawn) **must** start the child as a fresh process (spawn start
///   method) that runs `job` with `(handle, arg)`; the child opens the same queue from
///   `handle` with [`open`](Self::open), and a child can itself spawn with the queue
///   it opened. The child **must** get the queue's files and no other open file of
///   the parent's (the queue's own files included, they **must** not be inherited by
///   a process that was not spawned with that queue: everything is close-on-exec).
/// - Every item [`put`](Self::put) **must** be returned by exactly one
///   [`get`](Self::get), in any process of the queue: none lost, duplicated,
///   invented, cut or merged with another, for any size up to [`MAX_ITEM`] (the
///   empty item included), however many processes put and get at once.
/// - Items **must** come out in the order each producer put them: if one process's
///   `put(a)` returned before the same process called `put(b)`, no `get` returns `b`
///   before `a` is taken.
/// - A queue made with capacity `c > 0` **must** never hold more than `c` items (put
///   and not yet got); capacity 0 means unbounded.
/// - An item a process put **must** reach the queue even if that process ends right
///   after `put` returns (its job returns): an item is not lost with its producer.
///
/// ## Blocking
/// `get` waits while the queue is empty, and never longer. `put` waits while a
/// bounded queue holds `c` items, and never longer while the items in the queue fit
/// in its buffer (at least [`MIN_BUFFER`] bytes); an implementation on an OS pipe may
/// wait for a consumer when more than that is in flight (Python's `put` does not: a
/// feeder thread of the producer's holds the rest).
pub trait ProcessQueue: Sized + Send + 'static {
    /// A child started by [`spawn`](Self::spawn).
    type Child<R: Wire>: Child<R> + Send;

    /// An empty queue holding at most `capacity` items (0: unbounded).
    ///
    /// # Errors
    /// [`QueueError`] if the OS refuses the queue's files or memory.
    fn new(capacity: usize) -> Result<Self, QueueError>;

    /// Starts a child process running `job` with `(a handle of this queue, arg)`,
    /// and returns it while it runs.
    ///
    /// # Errors
    /// [`QueueError`] if the child cannot be started.
    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<Self::Child<R>, QueueError>;

    /// In the child: opens the queue that `handle` names (once per process).
    ///
    /// # Errors
    /// [`QueueError`] if `handle` names nothing this process holds.
    fn open(handle: QueueHandle) -> Result<Self, QueueError>;

    /// Adds `item` at the back, waiting while a bounded queue is full.
    ///
    /// # Errors
    /// [`QueueError`] for an item larger than [`MAX_ITEM`] or an OS error.
    fn put(&self, item: &[u8]) -> Result<(), QueueError>;

    /// Takes the item at the front, waiting while the queue is empty.
    ///
    /// # Errors
    /// [`QueueError`] for an OS error or a malformed item (a producer died in the
    /// middle of a `put`).
    fn get(&self) -> Result<Vec<u8>, QueueError>;
}

/// The largest item every implementation **must** carry (16 MiB); larger ones may be
/// refused by `put`.
pub const MAX_ITEM: usize = 16 * 1024 * 1024;

/// The bytes of items in flight that a `put` with room in the queue **must** accept
/// without waiting for a consumer (64 KiB: the default size of a Linux pipe).
pub const MIN_BUFFER: usize = 64 * 1024;
