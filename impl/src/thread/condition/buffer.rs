use std::collections::VecDeque;

use racecourse_spec::condition::BoundedBuffer;
use rt::sync::{Condvar, Mutex};

/// A bounded buffer: a queue under a mutex, and one condition variable that producers
/// (waiting for room) and consumers (waiting for an item) share.
#[derive(Debug)]
pub struct Buffer {
    /// The most items the queue may hold.
    capacity: usize,
    /// The items, oldest first.
    items: Mutex<VecDeque<u32>>,
    /// Notified, every waiter at once, after each change of `items`: one notification
    /// must reach whichever kind of waiter can now proceed.
    changed: Condvar,
}

impl BoundedBuffer for Buffer {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            items: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
        }
    }

    fn put(&self, item: u32) {
        let items = self.items.lock().unwrap();
        let mut items = self
            .changed
            .wait_while(items, |items| items.len() >= self.capacity)
            .unwrap();
        items.push_back(item);
        self.changed.notify_all();
    }

    fn take(&self) -> u32 {
        let items = self.items.lock().unwrap();
        let mut items = self
            .changed
            .wait_while(items, |items| items.is_empty())
            .unwrap();
        let item = items
            .pop_front()
            .expect("wait_while returned on a non-empty queue");
        self.changed.notify_all();
        item
    }
}
