//! E5 thread-local storages that are correct in an unusual way.

racecourse_spec::runtimes! {
    use std::collections::HashMap;

    use racecourse_spec::thread_local::ThreadLocal;
    use rt::sync::Mutex;

    /// The calling thread's id, as text: as unique as the id itself (the facade
    /// exports `current`, whose `id()` type it does not name).
    fn me() -> String {
        format!("{:?}", rt::thread::current().id())
    }

    /// No `thread_local!` at all: one map from thread id to value, behind a lock that
    /// every thread shares. A thread without an entry gets the initial value.
    #[derive(Debug)]
    pub struct ByThreadId {
        /// What a thread gets before it sets a value.
        initial: u32,
        /// Each thread's value, by the id of the thread that set it.
        values: Mutex<HashMap<String, u32>>,
    }

    impl ThreadLocal for ByThreadId {
        fn new(initial: u32) -> Self {
            Self { initial, values: Mutex::new(HashMap::new()) }
        }
        fn get(&self) -> u32 {
            self.values.lock().unwrap().get(&me()).copied().unwrap_or(self.initial)
        }
        fn set(&self, value: u32) {
            self.values.lock().unwrap().insert(me(), value);
        }
    }
}
