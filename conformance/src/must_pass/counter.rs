//! E5 counters that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::counter::Counter;
    use rt::cell::UnsafeCell;
    use rt::sync::atomic::{AtomicBool, Ordering};
    use rt::sync::{Condvar, Mutex};

    /// A spin lock: `compare_exchange(Acquire)` to take it, spinning with
    /// `rt::hint::spin_loop`, `store(Release)` to give it back. From the adversarial
    /// submission of issue 5: on two loaded cores its waiters take the CPU from the
    /// holder, so it is slow, and the std runner once took slow for a deadlock.
    #[derive(Debug, Default)]
    pub struct SpinLock {
        /// True while some thread holds the lock.
        locked: AtomicBool,
        /// Guarded by `locked`.
        count: UnsafeCell<u64>,
    }

    // SAFETY: `count` is only touched between a successful `compare_exchange` on
    // `locked` (Acquire) and the `store(false, Release)` that follows, so accesses from
    // different threads are ordered by the lock.
    unsafe impl Sync for SpinLock {}

    /// Releases the spin lock when dropped, also when `f` unwinds.
    struct Unlock<'a>(&'a AtomicBool);

    impl Drop for Unlock<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }

    impl Counter for SpinLock {
        fn new() -> Self {
            Self::default()
        }

        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            while self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                rt::hint::spin_loop();
            }
            let _unlock = Unlock(&self.locked);
            // SAFETY: we hold the lock (see the `Sync` impl).
            self.count.with_mut(|count| f(unsafe { &mut *count }))
        }
    }

    /// A lock built from a condition variable: a `held` flag under a mutex, waiters
    /// sleep on the condvar until it clears. The count lives outside the mutex, guarded
    /// by the flag.
    #[derive(Debug, Default)]
    pub struct CondvarLock {
        /// Whether some thread holds the lock.
        held: Mutex<bool>,
        /// Signalled when `held` becomes false.
        released: Condvar,
        /// Guarded by `held`.
        count: UnsafeCell<u64>,
    }

    // SAFETY: `count` is only touched by the thread that set `held` (under the mutex)
    // and before it clears it again (under the mutex), so the mutex orders accesses.
    unsafe impl Sync for CondvarLock {}

    /// Clears `held` and wakes one waiter when dropped, also when `f` unwinds.
    struct Release<'a>(&'a CondvarLock);

    impl Drop for Release<'_> {
        fn drop(&mut self) {
            *self.0.held.lock().unwrap_or_else(|e| e.into_inner()) = false;
            self.0.released.notify_one();
        }
    }

    impl Counter for CondvarLock {
        fn new() -> Self {
            Self::default()
        }

        fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
            let mut held = self.held.lock().unwrap();
            while *held {
                held = self.released.wait(held).unwrap();
            }
            *held = true;
            drop(held);
            let _release = Release(self);
            // SAFETY: we set `held` (see the `Sync` impl).
            self.count.with_mut(|count| f(unsafe { &mut *count }))
        }
    }
}
