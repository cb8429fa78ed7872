use std::collections::VecDeque;

use racecourse_spec::queue::{Crawler, Queue, Site, TaskDoneError, STOP, WORKERS};
use rt::sync::{Arc, Condvar, Mutex};

/// What the queue's lock guards.
#[derive(Debug, Default)]
struct State {
    /// The items, oldest first.
    items: VecDeque<u32>,
    /// Items put and not yet marked done by `task_done`.
    unfinished: usize,
}

/// A queue behind one mutex, with one condition variable per thing a thread waits for.
#[derive(Debug)]
pub struct Locked {
    /// At most this many items (0: unbounded).
    capacity: usize,
    /// Guards the items and the unfinished count.
    state: Mutex<State>,
    /// Signalled when an item is put (a `get` may proceed).
    not_empty: Condvar,
    /// Signalled when an item is taken (a `put` may proceed).
    not_full: Condvar,
    /// Signalled when the unfinished count reaches zero (`join` may return).
    all_done: Condvar,
}

impl Queue for Locked {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(State::default()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
        }
    }

    fn put(&self, item: u32) {
        let capacity = self.capacity;
        let state = self.state.lock().unwrap();
        let mut state = self
            .not_full
            .wait_while(state, |s| capacity > 0 && s.items.len() >= capacity)
            .unwrap();
        state.items.push_back(item);
        state.unfinished += 1;
        self.not_empty.notify_one();
    }

    fn get(&self) -> u32 {
        let state = self.state.lock().unwrap();
        let mut state = self
            .not_empty
            .wait_while(state, |s| s.items.is_empty())
            .unwrap();
        let item = state.items.pop_front().expect("waited for an item");
        self.not_full.notify_one();
        item
    }

    fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut state = self.state.lock().unwrap();
        if state.unfinished == 0 {
            return Err(TaskDoneError);
        }
        state.unfinished -= 1;
        if state.unfinished == 0 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    fn join(&self) {
        let state = self.state.lock().unwrap();
        let _done = self
            .all_done
            .wait_while(state, |s| s.unfinished > 0)
            .unwrap();
    }
}

/// The course's crawler: puts every page on the queue, starts the workers, waits with
/// `join` until every page is done, then puts one [`STOP`] per worker and joins them.
#[derive(Debug)]
pub struct Crawl;

impl Crawler for Crawl {
    fn crawl<Q: Queue, S: Site>(queue: Q, site: S) {
        let queue = Arc::new(queue);
        for page in site.pages() {
            queue.put(page);
        }
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let site = site.clone();
                rt::thread::spawn(move || loop {
                    let page = queue.get();
                    if page == STOP {
                        break;
                    }
                    site.process(page);
                    queue.task_done().expect("one task_done per page taken");
                })
            })
            .collect();
        queue.join();
        for _ in 0..WORKERS {
            queue.put(STOP);
        }
        for worker in workers {
            worker.join().expect("a worker panicked");
        }
    }
}
