use std::time::{Duration, Instant};

use racecourse_spec::event::Event;
use rt::sync::{Condvar, Mutex};

/// An event: a flag under a mutex, and a condition variable that `set` notifies.
#[derive(Debug, Default)]
pub struct Flag {
    /// Whether the event is set.
    set: Mutex<bool>,
    /// Notified, every waiter at once, when the flag becomes true.
    changed: Condvar,
}

impl Event for Flag {
    fn new() -> Self {
        Self::default()
    }

    fn set(&self) {
        *self.set.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn clear(&self) {
        *self.set.lock().unwrap() = false;
    }

    fn is_set(&self) -> bool {
        *self.set.lock().unwrap()
    }

    fn wait(&self) {
        let set = self.set.lock().unwrap();
        let _set = self.changed.wait_while(set, |set| !*set).unwrap();
    }

    fn wait_timeout(&self, timeout: Duration) -> bool {
        // No deadline when it is beyond the clock's range: wait as long as it takes.
        let deadline = Instant::now().checked_add(timeout);
        let mut set = self.set.lock().unwrap();
        while !*set {
            match deadline {
                None => set = self.changed.wait(set).unwrap(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    // A wake-up may come early (spuriously, or for a set that a clear
                    // undid): the loop checks the flag and the time left again.
                    set = self.changed.wait_timeout(set, deadline - now).unwrap().0;
                }
            }
        }
        true
    }
}
