//! E5 reentrant-lock mutants.

racecourse_spec::runtimes! {
    use racecourse_spec::rlock::{NotOwner, ReentrantLock};
    use rt::sync::{Condvar, Mutex};

    /// The calling thread's number: one per thread, never 0 (as in the reference).
    fn me() -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        rt::thread_local! {
            static ME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        ME.with(|me| *me)
    }

    /// Owner and count, as in the reference.
    #[derive(Debug, Default)]
    struct Held {
        owner: usize,
        count: usize,
    }

    /// A plain lock posing as a reentrant one (Python's `Lock` where `RLock` was
    /// needed): a `held` flag and no owner. The owner's second `acquire` waits for
    /// itself, and any thread may release a held lock.
    #[derive(Debug, Default)]
    pub struct PlainLock {
        held: Mutex<bool>,
        freed: Condvar,
    }

    impl ReentrantLock for PlainLock {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let held = self.held.lock().unwrap();
            let mut held = self.freed.wait_while(held, |h| *h).unwrap();
            *held = true;
        }
        fn release(&self) -> Result<(), NotOwner> {
            let mut held = self.held.lock().unwrap();
            if !*held {
                return Err(NotOwner);
            }
            *held = false;
            drop(held);
            self.freed.notify_one();
            Ok(())
        }
    }

    /// Counts acquisitions but frees the lock at the owner's *first* release (the
    /// count is zeroed instead of decremented): another thread gets in while the owner
    /// is still inside its outer `with lock:`, and the owner's next release is refused.
    #[derive(Debug, Default)]
    pub struct FirstReleaseFrees {
        held: Mutex<Held>,
        freed: Condvar,
    }

    impl ReentrantLock for FirstReleaseFrees {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let me = me();
            let held = self.held.lock().unwrap();
            let mut held = self
                .freed
                .wait_while(held, |h| h.owner != 0 && h.owner != me)
                .unwrap();
            held.owner = me;
            held.count += 1;
        }
        fn release(&self) -> Result<(), NotOwner> {
            let mut held = self.held.lock().unwrap();
            if held.owner != me() {
                return Err(NotOwner);
            }
            held.count = 0;
            held.owner = 0;
            drop(held);
            self.freed.notify_one();
            Ok(())
        }
    }

    /// Never checks who releases: any thread's release undoes one acquisition (and
    /// a release of a free lock does nothing and returns `Ok`).
    #[derive(Debug, Default)]
    pub struct AnyThreadReleases {
        held: Mutex<Held>,
        freed: Condvar,
    }

    impl ReentrantLock for AnyThreadReleases {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let me = me();
            let held = self.held.lock().unwrap();
            let mut held = self
                .freed
                .wait_while(held, |h| h.owner != 0 && h.owner != me)
                .unwrap();
            held.owner = me;
            held.count += 1;
        }
        fn release(&self) -> Result<(), NotOwner> {
            let mut held = self.held.lock().unwrap();
            held.count = held.count.saturating_sub(1);
            if held.count == 0 {
                held.owner = 0;
                drop(held);
                self.freed.notify_one();
            }
            Ok(())
        }
    }

    /// Right for the owner, but a release by anyone else panics (an `assert!` where
    /// the contract asks for `Err(NotOwner)`).
    #[derive(Debug, Default)]
    pub struct PanicsOnNonOwner {
        held: Mutex<Held>,
        freed: Condvar,
    }

    impl ReentrantLock for PanicsOnNonOwner {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let me = me();
            let held = self.held.lock().unwrap();
            let mut held = self
                .freed
                .wait_while(held, |h| h.owner != 0 && h.owner != me)
                .unwrap();
            held.owner = me;
            held.count += 1;
        }
        fn release(&self) -> Result<(), NotOwner> {
            let owner = self.held.lock().unwrap().owner;
            assert_eq!(owner, me(), "release by a thread that does not own the lock");
            let mut held = self.held.lock().unwrap();
            held.count -= 1;
            if held.count == 0 {
                held.owner = 0;
                drop(held);
                self.freed.notify_one();
            }
            Ok(())
        }
    }

    /// Remembers one re-entry with a flag instead of counting: a third `acquire` by
    /// the owner is forgotten, so its second release frees the lock and its third is
    /// refused.
    #[derive(Debug, Default)]
    pub struct FlagNotCount {
        /// (owner, re-entered): the owner's number, 0 while free.
        held: Mutex<(usize, bool)>,
        freed: Condvar,
    }

    impl ReentrantLock for FlagNotCount {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let me = me();
            let held = self.held.lock().unwrap();
            let mut held = self
                .freed
                .wait_while(held, |h| h.0 != 0 && h.0 != me)
                .unwrap();
            if held.0 == me {
                held.1 = true;
            } else {
                *held = (me, false);
            }
        }
        fn release(&self) -> Result<(), NotOwner> {
            let mut held = self.held.lock().unwrap();
            if held.0 != me() {
                return Err(NotOwner);
            }
            if held.1 {
                held.1 = false;
            } else {
                held.0 = 0;
                drop(held);
                self.freed.notify_one();
            }
            Ok(())
        }
    }

    /// Counts per thread, as a Python student's `{thread: count}` dict, but wakes a
    /// waiter at *every* release and lets it in after one wait (`if` where a `while`
    /// belongs): woken by the owner's inner release, the waiter takes its own entry
    /// while the owner still holds the lock. Every release still balances its own
    /// thread's count, so only the in-critical-section count shows it.
    #[derive(Debug, Default)]
    pub struct IfNotWhile {
        /// (thread, acquisitions) for each thread that holds the lock.
        holders: Mutex<Vec<(usize, usize)>>,
        released: Condvar,
    }

    impl ReentrantLock for IfNotWhile {
        fn new() -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let me = me();
            let mut holders = self.holders.lock().unwrap();
            if !holders.is_empty() && !holders.iter().any(|h| h.0 == me) {
                holders = self.released.wait(holders).unwrap();
            }
            match holders.iter_mut().find(|h| h.0 == me) {
                Some(h) => h.1 += 1,
                None => holders.push((me, 1)),
            }
        }
        fn release(&self) -> Result<(), NotOwner> {
            let me = me();
            let mut holders = self.holders.lock().unwrap();
            let Some(i) = holders.iter().position(|h| h.0 == me) else {
                return Err(NotOwner);
            };
            holders[i].1 -= 1;
            if holders[i].1 == 0 {
                holders.remove(i);
            }
            drop(holders);
            self.released.notify_one();
            Ok(())
        }
    }
}
