//! E1 I/O fan-outs that are correct in an unusual way. Real threads only: the
//! exercise fetches over real sockets.

use std::sync::{Arc, Condvar, Mutex};

use racecourse_spec::io_fanout::{FanOut, Fetch, Fetched};

/// Scoped threads over contiguous chunks of the inputs, as even as they can be (the
/// first `n % workers` chunks one input longer), so that `min(workers, n)` of them
/// start at once; each returns its chunk's outcomes and the chunks are joined in
/// order. No `Arc` clones, no shared results.
#[derive(Debug, Default)]
pub struct BalancedChunks;

impl FanOut for BalancedChunks {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let n = resources.len();
        let chunks = workers.max(1).min(n);
        if chunks == 0 {
            return Vec::new();
        }
        let (size, longer) = (n / chunks, n % chunks);
        let fetch = &*fetch;
        std::thread::scope(|scope| {
            let mut rest = &resources[..];
            let mut handles = Vec::with_capacity(chunks);
            for c in 0..chunks {
                let (chunk, tail) = rest.split_at(size + usize::from(c < longer));
                rest = tail;
                handles.push(
                    scope.spawn(move || chunk.iter().map(|&r| fetch.fetch(r)).collect::<Vec<_>>()),
                );
            }
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a chunk's thread panicked"))
                .collect()
        })
    }
}

/// A counting semaphore: a count of free permits under a mutex, and a condition
/// variable for those waiting for one.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

impl Permits {
    fn acquire(&self) {
        let mut free = self
            .returned
            .wait_while(self.free.lock().unwrap(), |free| *free == 0)
            .unwrap();
        *free -= 1;
    }

    fn release(&self) {
        *self.free.lock().unwrap() += 1;
        self.returned.notify_one();
    }
}

/// A thread per input (Python's "one worker per resource"), all started at once, each
/// taking one of `workers` permits around its fetch; the outcomes come back through
/// the join handles, in input order.
#[derive(Debug, Default)]
pub struct ThreadPerInput;

impl FanOut for ThreadPerInput {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let permits = Arc::new(Permits {
            free: Mutex::new(workers.max(1)),
            returned: Condvar::new(),
        });
        let handles: Vec<_> = resources
            .into_iter()
            .map(|resource| {
                let (fetch, permits) = (Arc::clone(&fetch), Arc::clone(&permits));
                std::thread::spawn(move || {
                    permits.acquire();
                    let outcome = fetch.fetch(resource);
                    permits.release();
                    outcome
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fetching thread panicked"))
            .collect()
    }
}
