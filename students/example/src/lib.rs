//! A sample student submission, written the way a student would: the list is a stack
//! (seed 000 pops the back), the counter a mutex around a `u64`. It shows how to plug
//! an implementation into racecourse:
//!
//! 1. write each implementation inside `racecourse_spec::runtimes! { .. }`, against
//!    `rt::sync`, `rt::thread`, `rt::cell` and `rt::hint` instead of `std`;
//! 2. add one line per exercise to `tests/racecourse.rs`;
//! 3. run `cargo test -p students-example`.

/// E4: a stack shared by an adder and a remover.
pub mod shared_list {
    racecourse_spec::runtimes! {
        use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};
        use rt::sync::{Arc, Mutex};

        /// Items behind one lock; `remove` pops the newest.
        #[derive(Debug, Default)]
        pub struct Stack {
            items: Mutex<Vec<u32>>,
        }

        impl SharedList for Stack {
            const ORDER: RemovalOrder = RemovalOrder::Lifo;

            fn new() -> Self {
                Self::default()
            }

            fn add(&self, x: u32) {
                self.items.lock().unwrap().push(x);
            }

            fn remove(&self) -> Option<u32> {
                self.items.lock().unwrap().pop()
            }

            fn snapshot(&self) -> Vec<u32> {
                self.items.lock().unwrap().clone()
            }
        }

        /// Starts the remover first, then the adder, and joins both.
        #[derive(Debug)]
        pub struct Program;

        impl AdderRemover for Program {
            fn run<L: SharedList>(list: L, k: u32) {
                let list = Arc::new(list);
                let remover = {
                    let list = Arc::clone(&list);
                    rt::thread::spawn(move || (0..k).map(|_| list.remove()).collect::<Vec<_>>())
                };
                let adder = {
                    let list = Arc::clone(&list);
                    rt::thread::spawn(move || (0..k).for_each(|x| list.add(x)))
                };
                adder.join().unwrap();
                remover.join().unwrap();
            }
        }
    }
}

/// E5: a counter behind a mutex.
pub mod counter {
    racecourse_spec::runtimes! {
        use racecourse_spec::counter::Counter;
        use rt::sync::Mutex;

        /// The count behind one lock.
        #[derive(Debug, Default)]
        pub struct Locked(Mutex<u64>);

        impl Counter for Locked {
            fn new() -> Self {
                Self::default()
            }

            fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.0.lock().unwrap())
            }
        }
    }
}
