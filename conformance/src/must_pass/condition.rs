//! E5 bounded buffers that are correct in an unusual way.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;

    use racecourse_spec::condition::BoundedBuffer;
    use rt::sync::{Condvar, Mutex};

    /// One condition variable per kind of waiter: producers wait on `not_full`,
    /// consumers on `not_empty`. Each change can help one waiter of the other kind
    /// only, so `notify_one` is enough, and it goes to the right kind.
    #[derive(Debug)]
    pub struct TwoCondvars {
        capacity: usize,
        /// The items, newest last; taken from the back (a stack: any order is allowed).
        items: Mutex<Vec<u32>>,
        /// Notified (one producer) after a take.
        not_full: Condvar,
        /// Notified (one consumer) after a put.
        not_empty: Condvar,
    }

    impl BoundedBuffer for TwoCondvars {
        fn with_capacity(capacity: usize) -> Self {
            Self {
                capacity,
                items: Mutex::new(Vec::new()),
                not_full: Condvar::new(),
                not_empty: Condvar::new(),
            }
        }

        fn put(&self, item: u32) {
            let items = self.items.lock().unwrap();
            let mut items = self
                .not_full
                .wait_while(items, |items| items.len() >= self.capacity)
                .unwrap();
            items.push(item);
            drop(items);
            self.not_empty.notify_one();
        }

        fn take(&self) -> u32 {
            let items = self.items.lock().unwrap();
            let mut items = self.not_empty.wait_while(items, |items| items.is_empty()).unwrap();
            let item = items.pop().expect("wait_while returned on a non-empty stack");
            drop(items);
            self.not_full.notify_one();
            item
        }
    }

    /// A counting semaphore: a count under a mutex, and a condition variable that a
    /// release notifies.
    #[derive(Debug)]
    struct Semaphore {
        permits: Mutex<usize>,
        released: Condvar,
    }

    impl Semaphore {
        fn new(permits: usize) -> Self {
            Self { permits: Mutex::new(permits), released: Condvar::new() }
        }

        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
            *permits -= 1;
        }

        fn release(&self) {
            *self.permits.lock().unwrap() += 1;
            self.released.notify_one();
        }
    }

    /// The textbook pair of semaphores: `slots` counts free places, `filled` counts
    /// items. A producer takes a slot before it puts and hands over an item after; the
    /// queue's own mutex is held only to push or pop.
    #[derive(Debug)]
    pub struct Semaphores {
        slots: Semaphore,
        filled: Semaphore,
        items: Mutex<VecDeque<u32>>,
    }

    impl BoundedBuffer for Semaphores {
        fn with_capacity(capacity: usize) -> Self {
            Self {
                slots: Semaphore::new(capacity),
                filled: Semaphore::new(0),
                items: Mutex::new(VecDeque::new()),
            }
        }

        fn put(&self, item: u32) {
            self.slots.acquire();
            self.items.lock().unwrap().push_back(item);
            self.filled.release();
        }

        fn take(&self) -> u32 {
            self.filled.acquire();
            let item = self
                .items
                .lock()
                .unwrap()
                .pop_front()
                .expect("a filled permit stands for an item in the queue");
            self.slots.release();
            item
        }
    }
}
