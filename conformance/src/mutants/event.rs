//! E5 event mutants.

racecourse_spec::runtimes! {
    use std::time::{Duration, Instant};

    use racecourse_spec::event::Event;
    use rt::sync::atomic::{AtomicBool, Ordering};
    use rt::sync::{Condvar, Mutex, MutexGuard};

    /// Waits on `changed` until `*set` or `timeout` passed, as the reference does;
    /// returns the guard and whether the event is set.
    fn wait_flag<'a>(
        changed: &Condvar,
        mut set: MutexGuard<'a, bool>,
        timeout: Duration,
    ) -> (MutexGuard<'a, bool>, bool) {
        let deadline = Instant::now().checked_add(timeout);
        while !*set {
            match deadline {
                None => set = changed.wait(set).unwrap(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return (set, false);
                    }
                    set = changed.wait_timeout(set, deadline - now).unwrap().0;
                }
            }
        }
        (set, true)
    }

    /// `set` wakes one waiter (`notify_one`): with two threads waiting, one sleeps on.
    #[derive(Debug, Default)]
    pub struct WakesOne {
        set: Mutex<bool>,
        changed: Condvar,
    }

    impl Event for WakesOne {
        fn new() -> Self {
            Self::default()
        }
        fn set(&self) {
            *self.set.lock().unwrap() = true;
            self.changed.notify_one();
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
            wait_flag(&self.changed, self.set.lock().unwrap(), timeout).1
        }
    }

    /// The flag is an atomic that `wait` tests outside the lock, and `set` notifies
    /// without taking the lock: a `set` that comes between a waiter's test and its
    /// sleep wakes nobody (a lost wake-up).
    #[derive(Debug, Default)]
    pub struct FlagOutsideLock {
        set: AtomicBool,
        lock: Mutex<()>,
        changed: Condvar,
    }

    impl Event for FlagOutsideLock {
        fn new() -> Self {
            Self::default()
        }
        fn set(&self) {
            self.set.store(true, Ordering::SeqCst);
            self.changed.notify_all();
        }
        fn clear(&self) {
            self.set.store(false, Ordering::SeqCst);
        }
        fn is_set(&self) -> bool {
            self.set.load(Ordering::SeqCst)
        }
        fn wait(&self) {
            while !self.set.load(Ordering::SeqCst) {
                let lock = self.lock.lock().unwrap();
                let _lock = self.changed.wait(lock).unwrap();
            }
        }
        fn wait_timeout(&self, timeout: Duration) -> bool {
            let deadline = Instant::now().checked_add(timeout);
            while !self.set.load(Ordering::SeqCst) {
                let lock = self.lock.lock().unwrap();
                match deadline {
                    None => drop(self.changed.wait(lock).unwrap()),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return false;
                        }
                        drop(self.changed.wait_timeout(lock, deadline - now).unwrap());
                    }
                }
            }
            true
        }
    }

    /// `wait` reads the flag and returns, set or not (`wait` mistaken for `is_set`);
    /// `wait_timeout` returns the flag at once.
    #[derive(Debug, Default)]
    pub struct ReturnsAtOnce {
        set: Mutex<bool>,
    }

    impl Event for ReturnsAtOnce {
        fn new() -> Self {
            Self::default()
        }
        fn set(&self) {
            *self.set.lock().unwrap() = true;
        }
        fn clear(&self) {
            *self.set.lock().unwrap() = false;
        }
        fn is_set(&self) -> bool {
            *self.set.lock().unwrap()
        }
        fn wait(&self) {
            let _ = self.is_set();
        }
        fn wait_timeout(&self, _timeout: Duration) -> bool {
            self.is_set()
        }
    }

    /// `clear` copies the flag out of the guard and resets the copy: the event stays
    /// set.
    #[derive(Debug, Default)]
    pub struct ClearDoesNothing {
        set: Mutex<bool>,
        changed: Condvar,
    }

    impl Event for ClearDoesNothing {
        fn new() -> Self {
            Self::default()
        }
        fn set(&self) {
            *self.set.lock().unwrap() = true;
            self.changed.notify_all();
        }
        #[allow(unused_assignments, unused_variables)]
        fn clear(&self) {
            let mut set = *self.set.lock().unwrap();
            set = false;
        }
        fn is_set(&self) -> bool {
            *self.set.lock().unwrap()
        }
        fn wait(&self) {
            let set = self.set.lock().unwrap();
            let _set = self.changed.wait_while(set, |set| !*set).unwrap();
        }
        fn wait_timeout(&self, timeout: Duration) -> bool {
            wait_flag(&self.changed, self.set.lock().unwrap(), timeout).1
        }
    }

    /// `wait_timeout` waits like the reference, then returns true whatever ended the
    /// wait: a timeout reads as a `set`. Everything else is right.
    #[derive(Debug, Default)]
    pub struct TimeoutSaysSet {
        set: Mutex<bool>,
        changed: Condvar,
    }

    impl Event for TimeoutSaysSet {
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
            let _ = wait_flag(&self.changed, self.set.lock().unwrap(), timeout);
            true
        }
    }
}
