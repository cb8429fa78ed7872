//! E5 counter mutants.

racecourse_spec::runtimes! {
    use racecourse_spec::counter::Counter;
    use rt::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use rt::sync::Mutex;

    /// Reads the count under one lock acquisition and writes it back under another:
    /// two threads can read the same value, and one update is lost.
    #[derive(Debug, Default)]
    pub struct LostUpdate {
        count: Mutex<u64>,
    }

    impl Counter for LostUpdate {
        fn new() -> Self {
            Self::default()
        }
        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            let mut value = *self.count.lock().unwrap();
            let r = f(&mut value);
            *self.count.lock().unwrap() = value;
            r
        }
    }

    /// An atomic read with `load`, then a `store`: not a read-modify-write.
    #[derive(Debug, Default)]
    pub struct AtomicLoadStore {
        count: AtomicU64,
    }

    impl Counter for AtomicLoadStore {
        fn new() -> Self {
            Self::default()
        }
        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            let mut value = self.count.load(Ordering::SeqCst);
            let r = f(&mut value);
            self.count.store(value, Ordering::SeqCst);
            r
        }
    }

    /// Two locks, taken in turn, each guarding half of the count; `get` adds the
    /// halves. The total is right, but two threads can be inside at once: only the
    /// mutual-exclusion probe sees it.
    #[derive(Debug, Default)]
    pub struct Striped {
        stripes: [Mutex<u64>; 2],
        next: AtomicUsize,
    }

    impl Counter for Striped {
        fn new() -> Self {
            Self::default()
        }
        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            let i = self.next.fetch_add(1, Ordering::SeqCst) % 2;
            let mut stripe = self.stripes[i].lock().unwrap();
            f(&mut stripe)
        }
        fn get(&self) -> u64 {
            self.stripes.iter().map(|s| *s.lock().unwrap()).sum()
        }
    }

    /// `with_lock` is right, but `increment` reads with `get` and writes with a second
    /// `with_lock` (`c.set(c.get() + 1)`): two threads can read the same value. The
    /// lock itself excludes, so only the count shows it.
    #[derive(Debug, Default)]
    pub struct GetThenSet {
        count: Mutex<u64>,
    }

    impl Counter for GetThenSet {
        fn new() -> Self {
            Self::default()
        }
        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            f(&mut self.count.lock().unwrap())
        }
        fn increment(&self) {
            let value = self.get();
            self.with_lock(|n| *n = value + 1);
        }
    }
}
