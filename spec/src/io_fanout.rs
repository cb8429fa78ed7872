//! E1, I/O fan-out: fetch N resources concurrently with W workers, each fetch free to
//! fail on its own.
//!
//! The course's example of where threads fit: work that mostly waits on I/O. The
//! resources are served by a local TCP listener that the checks start (never the
//! internet); a [`Fetch`] connects to it, asks for one resource and reads the reply. A
//! [`FanOut`] fetches a list of resources with a given number of workers and returns
//! every outcome, in input order.
//!
//! This exercise runs on real threads only (real sockets): write it with
//! `std::thread` (`spawn` with an `Arc`, or `scope`), inside
//! [`runtimes!`](crate::runtimes) like the others so that a submission declares it the
//! same way.

use std::sync::Arc;

/// The outcome of one fetch: the resource's body, or what went wrong.
pub type Fetched = Result<String, String>;

/// Fetches one resource (supplied by the checks: it talks to a local TCP listener).
///
/// A fetch blocks until the reply arrives, which may take as long as the server
/// likes: slow resources are the point of the exercise.
pub trait Fetch: Send + Sync + 'static {
    /// Fetches `resource`: `Ok(body)`, or `Err(message)` if this resource failed
    /// (the server answered with an error, or closed the connection).
    fn fetch(&self, resource: usize) -> Fetched;
}

/// Fetches many resources concurrently, with a fixed number of workers.
///
/// # Contract
/// - [`fetch_all`](Self::fetch_all) **must** return one result per input, in input
///   order: `result[i]` is the outcome of fetching `resources[i]`, whichever fetch
///   returned first. Each input is fetched exactly once.
/// - A failing fetch is an error **for that input only**: its `Err` is in its place,
///   and every other input still gets its own outcome.
/// - Fetches **must** run on threads that `fetch_all` starts, never on the calling
///   thread, with **at most** `workers` fetches in flight at once; every thread it
///   started is joined before it returns.
/// - With `n` inputs, the first `min(workers, n)` fetches **must** be in flight at
///   once: none of them waits for another to return before it starts (the workers
///   start together, each with a fetch of its own).
///
/// ## Blocking
/// A fetch may take any time, and fetches return in any order. A worker whose fetch
/// returned **must not** wait for another fetch that is still in flight: it starts
/// its next fetch, or, with nothing left to do, it ends (or waits for work, but only
/// once every input's fetch has started). `workers` is at least 1.
pub trait FanOut: Send + Sync + 'static {
    /// Fetches every resource in `resources` with `fetch`, using at most `workers`
    /// fetches at once, and returns their outcomes in input order.
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched>;
}
