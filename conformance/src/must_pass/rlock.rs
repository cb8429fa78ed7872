//! E5 reentrant locks that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::rlock::{NotOwner, ReentrantLock};
    use rt::cell::UnsafeCell;
    use rt::sync::atomic::{AtomicUsize, Ordering};

    /// The calling thread's number: one per thread, never 0 (as in the reference).
    fn me() -> usize {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        rt::thread_local! {
            static ME: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ME.with(|me| *me)
    }

    /// No mutex at all: the owner's number in an atomic, taken with
    /// `compare_exchange(0, me)` and spinning while another thread holds it; the count
    /// in a cell only the owner touches. Waiters burn CPU, so it is slow on loaded
    /// cores, but never stuck.
    #[derive(Debug, Default)]
    pub struct SpinOwner {
        /// The owner's number, 0 while free.
        owner: AtomicUsize,
        /// Acquisitions not yet released; touched only by the owner.
        count: UnsafeCell<usize>,
    }

    // SAFETY: `count` is only touched by the thread whose number is in `owner`, which
    // it set with an Acquire `compare_exchange` and clears with a Release store after
    // its last access, so accesses from successive owners are ordered.
    unsafe impl Sync for SpinOwner {}

    impl ReentrantLock for SpinOwner {
        fn new() -> Self {
            Self::default()
        }

        fn acquire(&self) {
            let me = me();
            // Only this thread ever stores `me`, so a Relaxed load that sees it is
            // this thread's own earlier store.
            if self.owner.load(Ordering::Relaxed) != me {
                while self
                    .owner
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    rt::hint::spin_loop();
                }
            }
            // SAFETY: this thread is the owner (see the `Sync` impl).
            self.count.with_mut(|count| unsafe { *count += 1 });
        }

        fn release(&self) -> Result<(), NotOwner> {
            if self.owner.load(Ordering::Relaxed) != me() {
                return Err(NotOwner);
            }
            // SAFETY: this thread is the owner (see the `Sync` impl).
            let left = self.count.with_mut(|count| unsafe {
                *count -= 1;
                *count
            });
            if left == 0 {
                self.owner.store(0, Ordering::Release);
            }
            Ok(())
        }
    }
}
