//! E4 mutants: lists and programs that real students write, each wrong in one way.
//!
//! Each type's doc names the bug and the property that must reject it. They are
//! instantiated on every runtime like any implementation; the kill matrix runs them.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;

    use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};
    use rt::cell::UnsafeCell;
    use rt::sync::{Arc, Mutex};

    /// No lock at all: the items sit in an `UnsafeCell` shared without
    /// synchronization. loom's cell tracking reports the concurrent access.
    #[derive(Debug, Default)]
    pub struct NoLock {
        items: UnsafeCell<VecDeque<u32>>,
    }

    // SAFETY: none. This is the bug: the type claims to be shareable but guards nothing.
    // It is only ever run under loom, which intercepts every access before it races.
    unsafe impl Sync for NoLock {}

    impl SharedList for NoLock {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;
        fn new() -> Self {
            Self::default()
        }
        fn add(&self, x: u32) {
            // SAFETY: unsound on purpose (see the type); loom reports the race.
            self.items.with_mut(|items| unsafe { (*items).push_back(x) })
        }
        fn remove(&self) -> Option<u32> {
            // SAFETY: unsound on purpose (see the type); loom reports the race.
            self.items.with_mut(|items| unsafe { (*items).pop_front() })
        }
        fn snapshot(&self) -> Vec<u32> {
            // SAFETY: unsound on purpose (see the type); loom reports the race.
            self.items.with(|items| unsafe { (*items).iter().copied().collect() })
        }
    }

    /// `remove` gives up when the lock is busy: it uses `try_lock` and returns `None`
    /// ("nothing to remove") whenever another thread holds the lock, even with items
    /// in the list. From the adversarial submission of issue 5: loom alone accepted it
    /// until the facade gave loom a branch point inside critical sections.
    #[derive(Debug, Default)]
    pub struct TryLockRemove {
        items: Mutex<VecDeque<u32>>,
    }

    impl SharedList for TryLockRemove {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;
        fn new() -> Self {
            Self::default()
        }
        fn add(&self, x: u32) {
            self.items.lock().unwrap().push_back(x);
        }
        fn remove(&self) -> Option<u32> {
            match self.items.try_lock() {
                Ok(mut items) => items.pop_front(),
                Err(_) => None,
            }
        }
        fn snapshot(&self) -> Vec<u32> {
            self.items.lock().unwrap().iter().copied().collect()
        }
    }

    /// Check-then-act across two lock acquisitions: `remove` reads the front item under
    /// one acquisition and removes the front under another, so two removers can both
    /// return the same item and a different one is lost.
    #[derive(Debug, Default)]
    pub struct CheckThenAct {
        items: Mutex<VecDeque<u32>>,
    }

    impl SharedList for CheckThenAct {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;
        fn new() -> Self {
            Self::default()
        }
        fn add(&self, x: u32) {
            self.items.lock().unwrap().push_back(x);
        }
        fn remove(&self) -> Option<u32> {
            let front = self.items.lock().unwrap().front().copied();
            if front.is_some() {
                self.items.lock().unwrap().pop_front();
            }
            front
        }
        fn snapshot(&self) -> Vec<u32> {
            self.items.lock().unwrap().iter().copied().collect()
        }
    }

    /// Seed 001: `remove` returns one item and clears the whole list.
    #[derive(Debug, Default)]
    pub struct ClearAll {
        items: Mutex<VecDeque<u32>>,
    }

    impl SharedList for ClearAll {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;
        fn new() -> Self {
            Self::default()
        }
        fn add(&self, x: u32) {
            self.items.lock().unwrap().push_back(x);
        }
        fn remove(&self) -> Option<u32> {
            let mut items = self.items.lock().unwrap();
            let x = items.pop_front();
            items.clear();
            x
        }
        fn snapshot(&self) -> Vec<u32> {
            self.items.lock().unwrap().iter().copied().collect()
        }
    }

    /// A stack that declares itself a queue: pops the back, promises the front.
    #[derive(Debug, Default)]
    pub struct LifoDeclaredFifo {
        items: Mutex<Vec<u32>>,
    }

    impl SharedList for LifoDeclaredFifo {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;
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

    /// The program joins the adder before it starts the remover: correct lists, no
    /// concurrency, which the exercise asks for.
    #[derive(Debug)]
    pub struct JoinedAdder;

    impl AdderRemover for JoinedAdder {
        fn run<L: SharedList>(list: L, k: u32) {
            let list = Arc::new(list);
            let adder = {
                let list = Arc::clone(&list);
                rt::thread::spawn(move || {
                    for x in 0..k {
                        list.add(x);
                    }
                })
            };
            adder.join().unwrap();
            let remover = {
                let list = Arc::clone(&list);
                rt::thread::spawn(move || {
                    for _ in 0..k {
                        let _ = list.remove();
                    }
                })
            };
            remover.join().unwrap();
        }
    }

    /// The adder counts from 1 (`for x in 1..=k`): the list is fine and both threads
    /// run, but the program adds the wrong items. Only the program census sees it.
    #[derive(Debug)]
    pub struct OffByOneAdder;

    impl AdderRemover for OffByOneAdder {
        fn run<L: SharedList>(list: L, k: u32) {
            let list = Arc::new(list);
            let adder = {
                let list = Arc::clone(&list);
                rt::thread::spawn(move || {
                    for x in 1..=k {
                        list.add(x);
                    }
                })
            };
            let remover = {
                let list = Arc::clone(&list);
                rt::thread::spawn(move || {
                    for _ in 0..k {
                        let _ = list.remove();
                    }
                })
            };
            adder.join().unwrap();
            remover.join().unwrap();
        }
    }
}
