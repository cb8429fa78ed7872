//! E1 I/O fan-out mutants, as students write them. Each is wrong in every run of the
//! property that must reject it: the server's rendezvous decides, not a race.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use racecourse_spec::io_fanout::{FanOut, Fetch, Fetched};

/// `workers` threads on a shared counter, each handing `done` the input it took and
/// its outcome as soon as the fetch returns.
fn pool<F: Fetch>(
    fetch: Arc<F>,
    resources: Vec<usize>,
    workers: usize,
    done: impl Fn(usize, Fetched) + Send + Sync + 'static,
) {
    let resources = Arc::new(resources);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(done);
    let handles: Vec<_> = (0..workers.max(1).min(resources.len()))
        .map(|_| {
            let (fetch, resources) = (Arc::clone(&fetch), Arc::clone(&resources));
            let (next, done) = (Arc::clone(&next), Arc::clone(&done));
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&resource) = resources.get(i) else {
                    break;
                };
                done(i, fetch.fetch(resource));
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker panicked");
    }
}

/// Pushes each outcome onto one list when its fetch returns: completion order, not
/// input order.
#[derive(Debug, Default)]
pub struct CompletionOrder;

impl FanOut for CompletionOrder {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let results = Arc::new(Mutex::new(Vec::new()));
        let list = Arc::clone(&results);
        pool(fetch, resources, workers, move |_, outcome| {
            list.lock().unwrap().push(outcome);
        });
        let mut results = results.lock().unwrap();
        std::mem::take(&mut *results)
    }
}

/// Each worker keeps the outcomes of the inputs it took, and the workers' lists are
/// joined in worker order: right only if each worker happened to take a contiguous
/// run of inputs, in order.
#[derive(Debug, Default)]
pub struct GroupedByWorker;

impl FanOut for GroupedByWorker {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let resources = Arc::new(resources);
        let next = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..workers.max(1).min(resources.len()))
            .map(|_| {
                let (fetch, resources, next) = (
                    Arc::clone(&fetch),
                    Arc::clone(&resources),
                    Arc::clone(&next),
                );
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(&resource) = resources.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        mine.push(fetch.fetch(resource));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker panicked"))
            .collect()
    }
}

/// Chunks of `n / workers` inputs, one thread each: the last `n % workers` inputs are
/// in no chunk and never fetched.
#[derive(Debug, Default)]
pub struct DropsRemainder;

impl FanOut for DropsRemainder {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let workers = workers.max(1);
        let size = (resources.len() / workers).max(1);
        let fetch = &*fetch;
        std::thread::scope(|scope| {
            let handles: Vec<_> = resources
                .chunks(size)
                .take(workers)
                .map(|chunk| {
                    scope.spawn(move || chunk.iter().map(|&r| fetch.fetch(r)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a chunk's thread panicked"))
                .collect()
        })
    }
}

/// The outcomes in input order, then only the successes kept: a failing input leaves
/// no trace, and every later result moves up one place.
#[derive(Debug, Default)]
pub struct ErrorsDropped;

impl FanOut for ErrorsDropped {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let slots = in_order(fetch, resources, workers);
        slots.into_iter().filter(Result::is_ok).collect()
    }
}

/// The outcomes in input order, collected into one `Result`: the first error becomes
/// every input's result.
#[derive(Debug, Default)]
pub struct OneErrorFailsAll;

impl FanOut for OneErrorFailsAll {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let n = resources.len();
        let slots = in_order(fetch, resources, workers);
        match slots.into_iter().collect::<Result<Vec<String>, String>>() {
            Ok(bodies) => bodies.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e); n],
        }
    }
}

/// The correct pool: every outcome in its input's slot.
fn in_order<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
    let n = resources.len();
    let slots: Arc<Mutex<Vec<Option<Fetched>>>> = Arc::new(Mutex::new(vec![None; n]));
    let mine = Arc::clone(&slots);
    pool(fetch, resources, workers, move |i, outcome| {
        mine.lock().unwrap()[i] = Some(outcome);
    });
    let slots = std::mem::take(&mut *slots.lock().unwrap());
    slots
        .into_iter()
        .map(|s| s.expect("every input taken"))
        .collect()
}

/// No threads at all: every fetch on the calling thread, one after another.
#[derive(Debug, Default)]
pub struct OnCallingThread;

impl FanOut for OnCallingThread {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, _workers: usize) -> Vec<Fetched> {
        resources.into_iter().map(|r| fetch.fetch(r)).collect()
    }
}
