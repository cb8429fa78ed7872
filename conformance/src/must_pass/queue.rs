//! E5 queues and crawlers that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::queue::{Crawler, Queue, Site, TaskDoneError, STOP, WORKERS};
    use rt::sync::{Arc, Condvar, Mutex};

    /// What [`TwoStacks`]' lock guards.
    #[derive(Debug, Default)]
    struct Stacks {
        /// Items put, newest on top.
        inbox: Vec<u32>,
        /// Items to take, oldest on top: refilled by reversing `inbox` when empty.
        outbox: Vec<u32>,
        /// Items put and not yet marked done.
        unfinished: usize,
    }

    impl Stacks {
        fn len(&self) -> usize {
            self.inbox.len() + self.outbox.len()
        }
    }

    /// A FIFO made of two stacks (`inbox` reversed into `outbox` when `outbox` runs
    /// out), with one condition variable for every wait and `notify_all` on every
    /// change.
    #[derive(Debug)]
    pub struct TwoStacks {
        /// At most this many items (0: unbounded).
        capacity: usize,
        /// Guards both stacks and the unfinished count.
        stacks: Mutex<Stacks>,
        /// Signalled (to all) whenever an item moves or a task is done.
        changed: Condvar,
    }

    impl Queue for TwoStacks {
        fn new(capacity: usize) -> Self {
            Self { capacity, stacks: Mutex::new(Stacks::default()), changed: Condvar::new() }
        }

        fn put(&self, item: u32) {
            let mut stacks = self.stacks.lock().unwrap();
            while self.capacity > 0 && stacks.len() >= self.capacity {
                stacks = self.changed.wait(stacks).unwrap();
            }
            stacks.inbox.push(item);
            stacks.unfinished += 1;
            self.changed.notify_all();
        }

        fn get(&self) -> u32 {
            let mut stacks = self.stacks.lock().unwrap();
            while stacks.len() == 0 {
                stacks = self.changed.wait(stacks).unwrap();
            }
            if stacks.outbox.is_empty() {
                while let Some(item) = stacks.inbox.pop() {
                    stacks.outbox.push(item);
                }
            }
            let item = stacks.outbox.pop().expect("waited for an item");
            self.changed.notify_all();
            item
        }

        fn task_done(&self) -> Result<(), TaskDoneError> {
            let mut stacks = self.stacks.lock().unwrap();
            stacks.unfinished = stacks.unfinished.checked_sub(1).ok_or(TaskDoneError)?;
            self.changed.notify_all();
            Ok(())
        }

        fn join(&self) {
            let mut stacks = self.stacks.lock().unwrap();
            while stacks.unfinished > 0 {
                stacks = self.changed.wait(stacks).unwrap();
            }
        }
    }

    /// What [`Ring`]'s lock guards.
    #[derive(Debug)]
    struct Slots {
        /// The ring: `len` items from `head` on, wrapping around.
        slots: Vec<u32>,
        /// Where the oldest item is.
        head: usize,
        /// How many items the ring holds.
        len: usize,
        /// Items put and not yet marked done.
        unfinished: usize,
    }

    /// A ring buffer of fixed slots (doubled when an unbounded queue fills them) with
    /// two condition variables: getters wait on one, and putters and joiners share the
    /// other, woken with `notify_all`.
    #[derive(Debug)]
    pub struct Ring {
        /// At most this many items (0: unbounded).
        capacity: usize,
        /// Guards the ring and the unfinished count.
        ring: Mutex<Slots>,
        /// Signalled when an item is put.
        item_put: Condvar,
        /// Signalled (to all) when an item is taken or a task is done.
        item_taken_or_done: Condvar,
    }

    impl Queue for Ring {
        fn new(capacity: usize) -> Self {
            let slots = Slots { slots: vec![0; capacity.max(1)], head: 0, len: 0, unfinished: 0 };
            Self {
                capacity,
                ring: Mutex::new(slots),
                item_put: Condvar::new(),
                item_taken_or_done: Condvar::new(),
            }
        }

        fn put(&self, item: u32) {
            let mut ring = self.ring.lock().unwrap();
            while self.capacity > 0 && ring.len == self.capacity {
                ring = self.item_taken_or_done.wait(ring).unwrap();
            }
            if ring.len == ring.slots.len() {
                // Unbounded and full: unroll into twice the room.
                let size = ring.slots.len();
                let mut grown: Vec<u32> = (0..ring.len).map(|i| ring.slots[(ring.head + i) % size]).collect();
                grown.resize(size * 2, 0);
                ring.slots = grown;
                ring.head = 0;
            }
            let at = (ring.head + ring.len) % ring.slots.len();
            ring.slots[at] = item;
            ring.len += 1;
            ring.unfinished += 1;
            self.item_put.notify_one();
        }

        fn get(&self) -> u32 {
            let mut ring = self.ring.lock().unwrap();
            while ring.len == 0 {
                ring = self.item_put.wait(ring).unwrap();
            }
            let item = ring.slots[ring.head];
            ring.head = (ring.head + 1) % ring.slots.len();
            ring.len -= 1;
            self.item_taken_or_done.notify_all();
            item
        }

        fn task_done(&self) -> Result<(), TaskDoneError> {
            let mut ring = self.ring.lock().unwrap();
            if ring.unfinished == 0 {
                return Err(TaskDoneError);
            }
            ring.unfinished -= 1;
            self.item_taken_or_done.notify_all();
            Ok(())
        }

        fn join(&self) {
            let mut ring = self.ring.lock().unwrap();
            while ring.unfinished > 0 {
                ring = self.item_taken_or_done.wait(ring).unwrap();
            }
        }
    }

    /// A crawler that never calls `join` on the queue: it puts the pages and then
    /// one `STOP` per worker straight away (FIFO puts every page before the stops) and
    /// joins the workers, which it starts before putting anything.
    #[derive(Debug)]
    pub struct StopAfterPages;

    impl Crawler for StopAfterPages {
        fn crawl<Q: Queue, S: Site>(queue: Q, site: S) {
            let queue = Arc::new(queue);
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    let queue = Arc::clone(&queue);
                    let site = site.clone();
                    rt::thread::spawn(move || {
                        let mut page = queue.get();
                        while page != STOP {
                            site.process(page);
                            queue.task_done().expect("one task_done per page taken");
                            page = queue.get();
                        }
                    })
                })
                .collect();
            for page in site.pages() {
                queue.put(page);
            }
            for _ in 0..WORKERS {
                queue.put(STOP);
            }
            for worker in workers {
                worker.join().expect("a worker panicked");
            }
        }
    }
}
