//! E5 events that are correct in an unusual way.

racecourse_spec::runtimes! {
    use std::time::{Duration, Instant};

    use racecourse_spec::event::Event;
    use rt::sync::atomic::{AtomicBool, Ordering};
    use rt::sync::{Condvar, Mutex};

    /// The flag is an atomic, outside the mutex, so `is_set` and a `wait` on a set
    /// event take no lock. The mutex guards nothing but the hand-over: a waiter tests
    /// the flag again under it before it sleeps, and `set` takes it before it notifies,
    /// so no `set` falls between a waiter's test and its sleep.
    #[derive(Debug, Default)]
    pub struct AtomicFlag {
        /// Whether the event is set: `Release` on every store, `Acquire` on every load.
        set: AtomicBool,
        /// Held while a waiter tests the flag and while `set` notifies.
        lock: Mutex<()>,
        /// Notified, every waiter at once, by `set`.
        changed: Condvar,
    }

    impl Event for AtomicFlag {
        fn new() -> Self {
            Self::default()
        }

        fn set(&self) {
            self.set.store(true, Ordering::Release);
            let _lock = self.lock.lock().unwrap();
            self.changed.notify_all();
        }

        fn clear(&self) {
            self.set.store(false, Ordering::Release);
        }

        fn is_set(&self) -> bool {
            self.set.load(Ordering::Acquire)
        }

        fn wait(&self) {
            let mut lock = self.lock.lock().unwrap();
            while !self.is_set() {
                lock = self.changed.wait(lock).unwrap();
            }
        }

        fn wait_timeout(&self, timeout: Duration) -> bool {
            if self.is_set() {
                return true;
            }
            let deadline = Instant::now().checked_add(timeout);
            let mut lock = self.lock.lock().unwrap();
            while !self.is_set() {
                match deadline {
                    None => lock = self.changed.wait(lock).unwrap(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return false;
                        }
                        lock = self.changed.wait_timeout(lock, deadline - now).unwrap().0;
                    }
                }
            }
            true
        }
    }

    /// What [`Generation`] guards.
    #[derive(Debug, Default)]
    struct State {
        /// Whether the event is set.
        set: bool,
        /// How many times the event went from not set to set.
        sets: u64,
    }

    /// Python's semantics to the letter: a waiter returns once the event *was* set
    /// after it began to wait, even if a `clear` came before it ran again. Each `set`
    /// of a cleared event starts a new generation, and a waiter waits for the flag or
    /// for a new generation.
    #[derive(Debug, Default)]
    pub struct Generation {
        state: Mutex<State>,
        /// Notified, every waiter at once, by `set`.
        changed: Condvar,
    }

    impl Event for Generation {
        fn new() -> Self {
            Self::default()
        }

        fn set(&self) {
            let mut state = self.state.lock().unwrap();
            if !state.set {
                state.set = true;
                state.sets += 1;
                self.changed.notify_all();
            }
        }

        fn clear(&self) {
            self.state.lock().unwrap().set = false;
        }

        fn is_set(&self) -> bool {
            self.state.lock().unwrap().set
        }

        fn wait(&self) {
            let state = self.state.lock().unwrap();
            let began = state.sets;
            let _state = self
                .changed
                .wait_while(state, |s| !s.set && s.sets == began)
                .unwrap();
        }

        fn wait_timeout(&self, timeout: Duration) -> bool {
            let deadline = Instant::now().checked_add(timeout);
            let mut state = self.state.lock().unwrap();
            let began = state.sets;
            while !state.set && state.sets == began {
                match deadline {
                    None => state = self.changed.wait(state).unwrap(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return false;
                        }
                        state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
                    }
                }
            }
            true
        }
    }
}
