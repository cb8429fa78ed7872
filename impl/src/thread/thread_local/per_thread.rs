use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use racecourse_spec::thread_local::ThreadLocal;

rt::thread_local! {
    /// The calling thread's values, by storage id: a storage this thread never set
    /// has no entry.
    static VALUES: RefCell<HashMap<u64, u32>> = RefCell::new(HashMap::new());
}

/// Hands out storage ids, never the same twice (an address could be reused by a
/// later storage and inherit a dropped one's values). It orders no memory between
/// threads, so it is a plain std atomic, outside what the model checkers explore.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One `rt::thread_local!` map per thread, keyed by storage, so that storages are
/// independent and each thread starts without an entry (the initial value).
#[derive(Debug)]
pub struct PerThread {
    /// This storage's key in every thread's map.
    id: u64,
    /// What a thread gets before it sets a value.
    initial: u32,
}

impl ThreadLocal for PerThread {
    fn new(initial: u32) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            initial,
        }
    }

    fn get(&self) -> u32 {
        VALUES.with(|values| {
            values
                .borrow()
                .get(&self.id)
                .copied()
                .unwrap_or(self.initial)
        })
    }

    fn set(&self, value: u32) {
        VALUES.with(|values| {
            values.borrow_mut().insert(self.id, value);
        });
    }
}
