//! A sample submission with real mistakes from the course's seeds, so that the main
//! job shows what a failing grade looks like. Each type's doc names the seed.

/// E4: the list of seed 001, whose remover clears the whole list, and whose program
/// joins the adder before it starts the remover.
pub mod shared_list {
    racecourse_spec::runtimes! {
        use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};
        use rt::sync::{Arc, Mutex};

        /// `remove` takes the last number and clears the rest (`number_list.clear()`).
        #[derive(Debug, Default)]
        pub struct Numbers {
            numbers: Mutex<Vec<u32>>,
        }

        impl SharedList for Numbers {
            const ORDER: RemovalOrder = RemovalOrder::Lifo;

            fn new() -> Self {
                Self::default()
            }

            fn add(&self, x: u32) {
                self.numbers.lock().unwrap().push(x);
            }

            fn remove(&self) -> Option<u32> {
                let mut numbers = self.numbers.lock().unwrap();
                let last = numbers.pop();
                numbers.clear();
                last
            }

            fn snapshot(&self) -> Vec<u32> {
                self.numbers.lock().unwrap().clone()
            }
        }

        /// Starts the adder, joins it (`t1.join()`), and only then starts the remover:
        /// the two never run at the same time.
        #[derive(Debug)]
        pub struct JoinFirst;

        impl AdderRemover for JoinFirst {
            fn run<L: SharedList>(list: L, k: u32) {
                let list = Arc::new(list);
                let adder = {
                    let list = Arc::clone(&list);
                    rt::thread::spawn(move || (0..k).for_each(|x| list.add(x)))
                };
                adder.join().unwrap();
                let remover = {
                    let list = Arc::clone(&list);
                    rt::thread::spawn(move || (0..k).for_each(|_| drop(list.remove())))
                };
                remover.join().unwrap();
            }
        }
    }
}

/// E5: a counter that reads the count under the lock, lets it go, and writes the new
/// value under a second acquisition (`counter = counter + 1` split in two).
pub mod counter {
    racecourse_spec::runtimes! {
        use racecourse_spec::counter::Counter;
        use rt::sync::Mutex;

        /// The count behind a lock that is dropped between the read and the write.
        #[derive(Debug, Default)]
        pub struct Unlocked {
            count: Mutex<u64>,
        }

        impl Counter for Unlocked {
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
    }
}

/// E5 with processes: a global count, as a Python global `int` with `multiprocessing`:
/// every process increments its own copy.
pub mod shm_counter {
    use std::io;
    use std::sync::Mutex;

    use racecourse_spec::shm_counter::ShmCounter;

    static COUNT: Mutex<u64> = Mutex::new(0);

    /// A process-wide global behind a lock that only this process sees.
    #[derive(Debug)]
    pub struct GlobalCount;

    impl ShmCounter for GlobalCount {
        fn create() -> io::Result<Self> {
            Ok(GlobalCount)
        }

        fn token(&self) -> String {
            "global".to_string()
        }

        fn attach(_token: &str) -> io::Result<Self> {
            Ok(GlobalCount)
        }

        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
            let mut count = COUNT.lock().unwrap_or_else(|e| e.into_inner());
            Ok(f(&mut count))
        }
    }
}
