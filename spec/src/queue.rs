//! E5, queue (threads): a FIFO queue with an optional bound and task tracking, as
//! Python's `queue.Queue`, and the course's URL crawler built on it.
//!
//! The course fills a queue with URLs, starts three worker threads that each take a URL,
//! process it and mark it done, and waits until every URL is done. Here the queue
//! carries page numbers (`u32`) and the "web" is a local stand-in, a [`Site`]: no network.

use std::fmt;

/// A thread-safe FIFO queue of `u32` items, bounded or not, that counts unfinished
/// tasks (Python's `queue.Queue`).
///
/// # Contract
/// - Every item [`put`](Self::put) **must** be returned by exactly one
///   [`get`](Self::get): none is lost, duplicated or invented.
/// - Items **must** come out in the order they went in: if `put(a)` returned before
///   `put(b)` was called, no `get` returns `b` before `a` is taken (FIFO, so the items
///   of one producer come out in that producer's order).
/// - A queue made with capacity `c > 0` **must** never hold more than `c` items;
///   capacity 0 means unbounded.
/// - Every `put` adds one unfinished task; [`task_done`](Self::task_done) finishes
///   one. [`join`](Self::join) **must** return only once the count of unfinished tasks
///   is zero, counting every item whose `put` returned before `join` was called. A
///   task is finished by `task_done`, never by `get`: taking an item is not finishing
///   it.
/// - `task_done` called when no task is unfinished (more calls than items put)
///   **must** return [`TaskDoneError`] and change nothing, as Python raises
///   `ValueError`.
///
/// ## Blocking
/// `get` waits while the queue is empty, and never longer. `put` waits while a
/// bounded queue is full, and never longer: it returns at once while there is room.
/// `join` waits while some task is unfinished, and never longer. `task_done` never
/// waits for anything but the queue's lock.
pub trait Queue: Send + Sync + 'static {
    /// An empty queue holding at most `capacity` items (0: unbounded).
    fn new(capacity: usize) -> Self;

    /// Adds `item` at the back, waiting while a bounded queue is full.
    fn put(&self, item: u32);

    /// Takes the item at the front, waiting while the queue is empty.
    fn get(&self) -> u32;

    /// Marks one task finished: the caller has processed an item it took.
    ///
    /// # Errors
    /// [`TaskDoneError`] when every item put is already marked done.
    fn task_done(&self) -> Result<(), TaskDoneError>;

    /// Waits until every item put so far has been marked done.
    fn join(&self);
}

/// `task_done` was called more times than items were put.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}

/// The number of worker threads the course's crawler starts.
pub const WORKERS: usize = 3;

/// A page number no [`Site`] uses: a crawler may put one per worker to tell it to stop
/// (Python's `None` sentinel).
pub const STOP: u32 = u32::MAX;

/// The local stand-in for the web pages the crawler visits.
///
/// Pages are numbered (the queue carries numbers); `process` is the work one URL
/// needs (fetching it, in the course). A site is cheap to clone: every clone is the
/// same site, so each worker can own one.
pub trait Site: Clone + Send + Sync + 'static {
    /// The pages to crawl, each once, none equal to [`STOP`].
    fn pages(&self) -> Vec<u32>;

    /// Fetches and processes `page`.
    fn process(&self, page: u32);
}

/// The course's URL crawler: a queue of URLs and [`WORKERS`] worker threads.
///
/// # Contract
/// [`crawl`](Self::crawl) **must** process every page of the site exactly once, with
/// [`WORKERS`] worker threads taking pages from `queue`, and **must** return only
/// once every page is processed and every worker has stopped and been joined: when it
/// returns, no thread it started still runs or holds the queue or the site (the
/// harness checks that both were dropped).
///
/// ## Blocking
/// `crawl` waits for the workers and for nothing else; a worker that waits for a page
/// after the last one is done must be woken (put one [`STOP`] per worker) so that it
/// can stop.
pub trait Crawler {
    /// Crawls every page of `site` with [`WORKERS`] threads sharing `queue`.
    fn crawl<Q: Queue, S: Site>(queue: Q, site: S);
}
