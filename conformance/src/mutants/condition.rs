//! E5 condition (bounded buffer) mutants.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;

    use racecourse_spec::condition::BoundedBuffer;
    use rt::sync::atomic::{AtomicUsize, Ordering};
    use rt::sync::{Condvar, Mutex};

    /// `if` instead of `while` around each wait: a woken thread does not check again.
    /// With two consumers, one takes the item the other was woken for, and the other
    /// pops an empty queue.
    #[derive(Debug)]
    pub struct IfNotWhile {
        capacity: usize,
        items: Mutex<VecDeque<u32>>,
        changed: Condvar,
    }

    impl BoundedBuffer for IfNotWhile {
        fn with_capacity(capacity: usize) -> Self {
            Self { capacity, items: Mutex::new(VecDeque::new()), changed: Condvar::new() }
        }
        fn put(&self, item: u32) {
            let mut items = self.items.lock().unwrap();
            if items.len() >= self.capacity {
                items = self.changed.wait(items).unwrap();
            }
            items.push_back(item);
            self.changed.notify_all();
        }
        fn take(&self) -> u32 {
            let mut items = self.items.lock().unwrap();
            if items.is_empty() {
                items = self.changed.wait(items).unwrap();
            }
            let item = items.pop_front().unwrap();
            self.changed.notify_all();
            item
        }
    }

    /// One condition variable for producers and consumers, and `notify_one`: a
    /// consumer's notification can wake the other consumer instead of the producer
    /// waiting for room, and both sleep on.
    #[derive(Debug)]
    pub struct NotifyOne {
        capacity: usize,
        items: Mutex<VecDeque<u32>>,
        changed: Condvar,
    }

    impl BoundedBuffer for NotifyOne {
        fn with_capacity(capacity: usize) -> Self {
            Self { capacity, items: Mutex::new(VecDeque::new()), changed: Condvar::new() }
        }
        fn put(&self, item: u32) {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.len() >= self.capacity).unwrap();
            items.push_back(item);
            self.changed.notify_one();
        }
        fn take(&self) -> u32 {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.is_empty()).unwrap();
            let item = items.pop_front().unwrap();
            self.changed.notify_one();
            item
        }
    }

    /// Consumers wait on a count of ready items that `put` raises after its notify,
    /// outside the lock: a consumer woken by the notify finds the count still zero and
    /// sleeps again, and nobody notifies once the count is raised.
    #[derive(Debug)]
    pub struct StateAfterNotify {
        capacity: usize,
        items: Mutex<VecDeque<u32>>,
        /// Items ready to take: raised after the notify, outside the lock.
        ready: AtomicUsize,
        changed: Condvar,
    }

    impl BoundedBuffer for StateAfterNotify {
        fn with_capacity(capacity: usize) -> Self {
            Self {
                capacity,
                items: Mutex::new(VecDeque::new()),
                ready: AtomicUsize::new(0),
                changed: Condvar::new(),
            }
        }
        fn put(&self, item: u32) {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.len() >= self.capacity).unwrap();
            items.push_back(item);
            self.changed.notify_all();
            drop(items);
            self.ready.fetch_add(1, Ordering::SeqCst);
        }
        fn take(&self) -> u32 {
            let items = self.items.lock().unwrap();
            let mut items = self
                .changed
                .wait_while(items, |_| self.ready.load(Ordering::SeqCst) == 0)
                .unwrap();
            self.ready.fetch_sub(1, Ordering::SeqCst);
            let item = items.pop_front().unwrap();
            self.changed.notify_all();
            item
        }
    }

    /// The full test is off by one (`len > capacity`): a producer puts into a full
    /// buffer, which then holds `capacity + 1` items.
    #[derive(Debug)]
    pub struct OffByOneFull {
        capacity: usize,
        items: Mutex<VecDeque<u32>>,
        changed: Condvar,
    }

    impl BoundedBuffer for OffByOneFull {
        fn with_capacity(capacity: usize) -> Self {
            Self { capacity, items: Mutex::new(VecDeque::new()), changed: Condvar::new() }
        }
        fn put(&self, item: u32) {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.len() > self.capacity).unwrap();
            items.push_back(item);
            self.changed.notify_all();
        }
        fn take(&self) -> u32 {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.is_empty()).unwrap();
            let item = items.pop_front().unwrap();
            self.changed.notify_all();
            item
        }
    }

    /// `take` reads the front item under one lock acquisition and removes the front
    /// under another: two consumers can read the same item, and the one after it is
    /// dropped.
    #[derive(Debug)]
    pub struct PeekThenPop {
        capacity: usize,
        items: Mutex<VecDeque<u32>>,
        changed: Condvar,
    }

    impl BoundedBuffer for PeekThenPop {
        fn with_capacity(capacity: usize) -> Self {
            Self { capacity, items: Mutex::new(VecDeque::new()), changed: Condvar::new() }
        }
        fn put(&self, item: u32) {
            let items = self.items.lock().unwrap();
            let mut items = self.changed.wait_while(items, |items| items.len() >= self.capacity).unwrap();
            items.push_back(item);
            self.changed.notify_all();
        }
        fn take(&self) -> u32 {
            let item = {
                let items = self.items.lock().unwrap();
                let items = self.changed.wait_while(items, |items| items.is_empty()).unwrap();
                *items.front().unwrap()
            };
            let mut items = self.items.lock().unwrap();
            items.pop_front();
            self.changed.notify_all();
            item
        }
    }
}
