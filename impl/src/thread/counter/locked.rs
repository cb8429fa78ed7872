use racecourse_spec::counter::Counter;
use rt::sync::Mutex;

/// A count behind one mutex.
#[derive(Debug, Default)]
pub struct Locked {
    /// Guards the count.
    count: Mutex<u64>,
}

impl Counter for Locked {
    fn new() -> Self {
        Self::default()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        let mut count = self.count.lock().unwrap();
        f(&mut count)
    }
}
