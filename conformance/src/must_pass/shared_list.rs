//! E4 lists and programs that are correct in an unusual way.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;

    use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};
    use rt::sync::{Arc, Mutex, RwLock};

    /// A FIFO made of two stacks under one lock: `add` pushes on `inbox`; `remove`
    /// pops `outbox`, first moving all of `inbox` over (reversed) when `outbox` is
    /// empty.
    #[derive(Debug, Default)]
    pub struct TwoStacks {
        /// Guards both stacks: (inbox, newest last; outbox, oldest last).
        stacks: Mutex<(Vec<u32>, Vec<u32>)>,
    }

    impl SharedList for TwoStacks {
        const ORDER: RemovalOrder = RemovalOrder::Fifo;

        fn new() -> Self {
            Self::default()
        }

        fn add(&self, x: u32) {
            self.stacks.lock().unwrap().0.push(x);
        }

        fn remove(&self) -> Option<u32> {
            let mut stacks = self.stacks.lock().unwrap();
            let (inbox, outbox) = &mut *stacks;
            if outbox.is_empty() {
                outbox.extend(inbox.drain(..).rev());
            }
            outbox.pop()
        }

        fn snapshot(&self) -> Vec<u32> {
            let stacks = self.stacks.lock().unwrap();
            stacks.1.iter().rev().chain(stacks.0.iter()).copied().collect()
        }
    }

    /// A stack behind a reader-writer lock: `snapshot` only reads, so it takes the
    /// shared side; `add` and `remove` take the exclusive side.
    #[derive(Debug, Default)]
    pub struct RwLocked {
        /// Guards the items, oldest first.
        items: RwLock<VecDeque<u32>>,
    }

    impl SharedList for RwLocked {
        const ORDER: RemovalOrder = RemovalOrder::Lifo;

        fn new() -> Self {
            Self::default()
        }

        fn add(&self, x: u32) {
            self.items.write().unwrap().push_back(x);
        }

        fn remove(&self) -> Option<u32> {
            self.items.write().unwrap().pop_back()
        }

        fn snapshot(&self) -> Vec<u32> {
            self.items.read().unwrap().iter().copied().collect()
        }
    }

    /// The exercise program with the remover started first and the threads joined in
    /// the order they were started.
    #[derive(Debug)]
    pub struct RemoverFirst;

    impl AdderRemover for RemoverFirst {
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
            remover.join().expect("remover thread panicked");
            adder.join().expect("adder thread panicked");
        }
    }
}
