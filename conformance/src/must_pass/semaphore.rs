//! E5 semaphores that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::semaphore::{BoundedSemaphore, Semaphore, TooManyReleases};
    use rt::sync::atomic::{AtomicUsize, Ordering};

    /// No lock at all: the free permits in an atomic, taken with `compare_exchange`
    /// when positive, spinning with `rt::hint::spin_loop` while none is free, given
    /// back with `fetch_add`. Waiters burn CPU, so it is slow on loaded cores, but
    /// never stuck.
    #[derive(Debug, Default)]
    pub struct SpinCas {
        /// Free permits.
        permits: AtomicUsize,
    }

    /// Takes a permit from `permits`, spinning while none is free.
    fn take(permits: &AtomicUsize) {
        let mut seen = permits.load(Ordering::Relaxed);
        loop {
            if seen == 0 {
                rt::hint::spin_loop();
                seen = permits.load(Ordering::Relaxed);
                continue;
            }
            match permits.compare_exchange(seen, seen - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => seen = now,
            }
        }
    }

    impl Semaphore for SpinCas {
        fn new(permits: usize) -> Self {
            Self { permits: AtomicUsize::new(permits) }
        }
        fn acquire(&self) {
            take(&self.permits);
        }
        fn release(&self) {
            self.permits.fetch_add(1, Ordering::Release);
        }
    }

    /// [`SpinCas`] with a bound: a release is a `compare_exchange` loop that refuses to
    /// go beyond the initial value.
    #[derive(Debug, Default)]
    pub struct SpinCasBounded {
        /// The permits it was made with.
        initial: usize,
        /// Free permits, never more than `initial`.
        permits: AtomicUsize,
    }

    impl BoundedSemaphore for SpinCasBounded {
        fn new(permits: usize) -> Self {
            Self { initial: permits, permits: AtomicUsize::new(permits) }
        }
        fn acquire(&self) {
            take(&self.permits);
        }
        fn release(&self) -> Result<(), TooManyReleases> {
            let mut seen = self.permits.load(Ordering::Relaxed);
            loop {
                if seen == self.initial {
                    return Err(TooManyReleases);
                }
                match self.permits.compare_exchange(seen, seen + 1, Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => return Ok(()),
                    Err(now) => seen = now,
                }
            }
        }
    }
}
