use racecourse_spec::io_fanout::{FanOut, Fetch, Fetched};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `workers` threads (never more than there are inputs), each taking the next input's
/// index from a shared counter and writing the outcome into that input's slot; the
/// calling thread joins them all, then reads the slots in order.
#[derive(Debug, Default)]
pub struct Pool;

impl FanOut for Pool {
    fn fetch_all<F: Fetch>(fetch: Arc<F>, resources: Vec<usize>, workers: usize) -> Vec<Fetched> {
        let n = resources.len();
        let resources = Arc::new(resources);
        let next = Arc::new(AtomicUsize::new(0));
        let slots: Arc<Mutex<Vec<Option<Fetched>>>> = Arc::new(Mutex::new(vec![None; n]));
        let handles: Vec<_> = (0..workers.max(1).min(n))
            .map(|_| {
                let (fetch, resources) = (Arc::clone(&fetch), Arc::clone(&resources));
                let (next, slots) = (Arc::clone(&next), Arc::clone(&slots));
                std::thread::spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&resource) = resources.get(i) else {
                        break;
                    };
                    // The lock is not held across the fetch: the others fetch meanwhile.
                    let outcome = fetch.fetch(resource);
                    slots.lock().unwrap()[i] = Some(outcome);
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a worker panicked");
        }
        let slots = std::mem::take(&mut *slots.lock().unwrap());
        slots
            .into_iter()
            .map(|s| s.expect("every index was taken by a worker"))
            .collect()
    }
}
