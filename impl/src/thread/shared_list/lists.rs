use std::collections::VecDeque;

use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};
use rt::sync::{Arc, Mutex};

/// A queue: `remove` takes the oldest item (seed 002 pops the front).
#[derive(Debug, Default)]
pub struct Fifo {
    /// Guards the items, oldest first.
    items: Mutex<VecDeque<u32>>,
}

impl SharedList for Fifo {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn new() -> Self {
        Self::default()
    }

    fn add(&self, x: u32) {
        self.items.lock().unwrap().push_back(x);
    }

    fn remove(&self) -> Option<u32> {
        self.items.lock().unwrap().pop_front()
    }

    fn snapshot(&self) -> Vec<u32> {
        self.items.lock().unwrap().iter().copied().collect()
    }
}

/// A stack: `remove` takes the newest item (seed 000 pops the back).
#[derive(Debug, Default)]
pub struct Lifo {
    /// Guards the items, oldest first.
    items: Mutex<Vec<u32>>,
}

impl SharedList for Lifo {
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

/// The exercise program: starts the adder and the remover, then joins both.
#[derive(Debug)]
pub struct Program;

impl AdderRemover for Program {
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
        let remover = {
            let list = Arc::clone(&list);
            rt::thread::spawn(move || {
                for _ in 0..k {
                    // The course prints the item or "nothing to remove".
                    let _ = list.remove();
                }
            })
        };
        adder.join().expect("adder thread panicked");
        remover.join().expect("remover thread panicked");
    }
}
