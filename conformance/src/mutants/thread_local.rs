//! E5 thread-local mutants: storages that real students write, each wrong in one way.

racecourse_spec::runtimes! {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use racecourse_spec::thread_local::ThreadLocal;
    use rt::sync::Mutex;

    /// A global posing as thread-local: one cell that every thread reads and writes.
    #[derive(Debug)]
    pub struct SharedCell {
        value: Mutex<u32>,
    }

    impl ThreadLocal for SharedCell {
        fn new(initial: u32) -> Self {
            Self { value: Mutex::new(initial) }
        }
        fn get(&self) -> u32 {
            *self.value.lock().unwrap()
        }
        fn set(&self, value: u32) {
            *self.value.lock().unwrap() = value;
        }
    }

    rt::thread_local! {
        static VALUES: RefCell<HashMap<u64, u32>> = RefCell::new(HashMap::new());
    }

    static NEXT_ID: AtomicU64 = AtomicU64::new(0);

    /// Per thread and per storage, but a thread that has set nothing gets 0 (the map's
    /// default, `unwrap_or_default`), not the initial value.
    #[derive(Debug)]
    pub struct IgnoresInitial {
        id: u64,
    }

    impl ThreadLocal for IgnoresInitial {
        fn new(_initial: u32) -> Self {
            Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed) }
        }
        fn get(&self) -> u32 {
            VALUES.with(|values| values.borrow().get(&self.id).copied().unwrap_or_default())
        }
        fn set(&self, value: u32) {
            VALUES.with(|values| {
                values.borrow_mut().insert(self.id, value);
            });
        }
    }

    // loom's `thread_local!` takes no `const { .. }` initializer, and the facade
    // gives every backend the same source.
    rt::thread_local! {
        #[allow(clippy::missing_const_for_thread_local)]
        static VALUE: Cell<Option<u32>> = Cell::new(None);
    }

    /// One `thread_local!` static for every storage: right per thread, but two
    /// storages share a thread's value.
    #[derive(Debug)]
    pub struct OneStatic {
        initial: u32,
    }

    impl ThreadLocal for OneStatic {
        fn new(initial: u32) -> Self {
            Self { initial }
        }
        fn get(&self) -> u32 {
            VALUE.with(|v| v.get()).unwrap_or(self.initial)
        }
        fn set(&self, value: u32) {
            VALUE.with(|v| v.set(Some(value)));
        }
    }
}
