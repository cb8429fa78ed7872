//! E5 queue mutants: queues and crawlers that real students write, each wrong in one
//! way. Each type's doc names the bug and the property that must reject it.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;

    use racecourse_spec::queue::{Crawler, Queue, Site, TaskDoneError, WORKERS};
    use rt::sync::{Arc, Condvar, Mutex};

    /// The items and the unfinished count, as the reference keeps them.
    #[derive(Debug, Default)]
    struct State {
        items: VecDeque<u32>,
        unfinished: usize,
    }

    /// The reference's fields; each mutant changes how one method uses them.
    #[derive(Debug)]
    struct Parts {
        capacity: usize,
        state: Mutex<State>,
        not_empty: Condvar,
        not_full: Condvar,
        all_done: Condvar,
    }

    impl Parts {
        fn new(capacity: usize) -> Self {
            Self {
                capacity,
                state: Mutex::new(State::default()),
                not_empty: Condvar::new(),
                not_full: Condvar::new(),
                all_done: Condvar::new(),
            }
        }

        /// The reference's `put`: waits while full.
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

        /// The reference's `get`: waits while empty, takes the front.
        fn get(&self) -> u32 {
            let state = self.state.lock().unwrap();
            let mut state = self.not_empty.wait_while(state, |s| s.items.is_empty()).unwrap();
            let item = state.items.pop_front().expect("waited for an item");
            self.not_full.notify_one();
            item
        }

        /// The reference's `task_done`: an error when nothing is unfinished.
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

        /// The reference's `join`: waits until nothing is unfinished.
        fn join(&self) {
            let state = self.state.lock().unwrap();
            let _done = self.all_done.wait_while(state, |s| s.unfinished > 0).unwrap();
        }
    }

    /// Check-then-act across two lock acquisitions: `get` reads the front item under
    /// one acquisition and pops the front under another, so two getters can both
    /// return the same item while another is lost.
    #[derive(Debug)]
    pub struct CheckThenAct(Parts);

    impl Queue for CheckThenAct {
        fn new(capacity: usize) -> Self {
            Self(Parts::new(capacity))
        }
        fn put(&self, item: u32) {
            self.0.put(item)
        }
        fn get(&self) -> u32 {
            let item = {
                let state = self.0.state.lock().unwrap();
                let state = self.0.not_empty.wait_while(state, |s| s.items.is_empty()).unwrap();
                *state.items.front().expect("waited for an item")
            };
            self.0.state.lock().unwrap().items.pop_front();
            self.0.not_full.notify_one();
            item
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            self.0.task_done()
        }
        fn join(&self) {
            self.0.join()
        }
    }

    /// A stack posing as a queue: `get` pops the newest item.
    #[derive(Debug)]
    pub struct Lifo(Parts);

    impl Queue for Lifo {
        fn new(capacity: usize) -> Self {
            Self(Parts::new(capacity))
        }
        fn put(&self, item: u32) {
            self.0.put(item)
        }
        fn get(&self) -> u32 {
            let state = self.0.state.lock().unwrap();
            let mut state = self.0.not_empty.wait_while(state, |s| s.items.is_empty()).unwrap();
            let item = state.items.pop_back().expect("waited for an item");
            self.0.not_full.notify_one();
            item
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            self.0.task_done()
        }
        fn join(&self) {
            self.0.join()
        }
    }

    /// A bounded queue that never blocks: `put` stores its capacity but never waits
    /// for room.
    #[derive(Debug)]
    pub struct NeverBlocks(Parts);

    impl Queue for NeverBlocks {
        fn new(capacity: usize) -> Self {
            Self(Parts::new(capacity))
        }
        fn put(&self, item: u32) {
            let mut state = self.0.state.lock().unwrap();
            state.items.push_back(item);
            state.unfinished += 1;
            self.0.not_empty.notify_one();
        }
        fn get(&self) -> u32 {
            self.0.get()
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            self.0.task_done()
        }
        fn join(&self) {
            self.0.join()
        }
    }

    /// `join` counts at `get`: it waits until every item put has been *taken*, not
    /// finished (the queue is empty), so it returns while the last item is still being
    /// processed. `task_done` keeps its own count and rejects an extra call correctly.
    #[derive(Debug)]
    pub struct JoinAtGet(Parts);

    impl Queue for JoinAtGet {
        fn new(capacity: usize) -> Self {
            Self(Parts::new(capacity))
        }
        fn put(&self, item: u32) {
            self.0.put(item)
        }
        fn get(&self) -> u32 {
            let item = self.0.get();
            // An item taken counts as done for `join`.
            self.0.all_done.notify_all();
            item
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            self.0.task_done()
        }
        fn join(&self) {
            let state = self.0.state.lock().unwrap();
            let _taken = self.0.all_done.wait_while(state, |s| !s.items.is_empty()).unwrap();
        }
    }

    /// One `task_done` too many is accepted: the count saturates at zero and the call
    /// returns `Ok`.
    #[derive(Debug)]
    pub struct ExtraTaskDoneAccepted(Parts);

    impl Queue for ExtraTaskDoneAccepted {
        fn new(capacity: usize) -> Self {
            Self(Parts::new(capacity))
        }
        fn put(&self, item: u32) {
            self.0.put(item)
        }
        fn get(&self) -> u32 {
            self.0.get()
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            let mut state = self.0.state.lock().unwrap();
            state.unfinished = state.unfinished.saturating_sub(1);
            if state.unfinished == 0 {
                self.0.all_done.notify_all();
            }
            Ok(())
        }
        fn join(&self) {
            self.0.join()
        }
    }

    /// Python's daemon workers: each worker loops on `get` for ever, and `crawl`
    /// returns after `join` without stopping them. In Rust they are left blocked in
    /// `get`, holding the queue and the site.
    #[derive(Debug)]
    pub struct DaemonWorkers;

    impl Crawler for DaemonWorkers {
        fn crawl<Q: Queue, S: Site>(queue: Q, site: S) {
            let queue = Arc::new(queue);
            for page in site.pages() {
                queue.put(page);
            }
            for _ in 0..WORKERS {
                let queue = Arc::clone(&queue);
                let site = site.clone();
                rt::thread::spawn(move || loop {
                    let page = queue.get();
                    site.process(page);
                    let _ = queue.task_done();
                });
            }
            queue.join();
        }
    }
}
