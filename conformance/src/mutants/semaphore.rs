//! E5 semaphore mutants.

racecourse_spec::runtimes! {
    use racecourse_spec::semaphore::{BoundedSemaphore, Semaphore, TooManyReleases};
    use rt::sync::{Condvar, Mutex};

    /// Waits while the count is *negative* (`while permits < 0` where `<= 0` belongs):
    /// the count goes down to -1, so `k + 1` threads get in.
    #[derive(Debug, Default)]
    pub struct AdmitsKPlusOne {
        permits: Mutex<i64>,
        released: Condvar,
    }

    impl Semaphore for AdmitsKPlusOne {
        fn new(permits: usize) -> Self {
            Self { permits: Mutex::new(permits as i64), released: Condvar::new() }
        }
        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p < 0).unwrap();
            *permits -= 1;
        }
        fn release(&self) {
            *self.permits.lock().unwrap() += 1;
            self.released.notify_one();
        }
    }

    /// Starts one permit short (`new(k)` keeps `k - 1`, an off-by-one in the
    /// constructor): only `k - 1` threads get in at once.
    #[derive(Debug, Default)]
    pub struct AdmitsKMinusOne {
        permits: Mutex<usize>,
        released: Condvar,
    }

    impl Semaphore for AdmitsKMinusOne {
        fn new(permits: usize) -> Self {
            Self { permits: Mutex::new(permits.saturating_sub(1)), released: Condvar::new() }
        }
        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
            *permits -= 1;
        }
        fn release(&self) {
            *self.permits.lock().unwrap() += 1;
            self.released.notify_one();
        }
    }

    /// A lock posing as a semaphore: one holder at a time whatever `k` (a `held` flag
    /// where a count belongs). Never more than `k` inside, never stuck with one
    /// holder, but `k` holders are never reached.
    #[derive(Debug, Default)]
    pub struct OneAtATime {
        held: Mutex<bool>,
        released: Condvar,
    }

    impl Semaphore for OneAtATime {
        fn new(_permits: usize) -> Self {
            Self::default()
        }
        fn acquire(&self) {
            let held = self.held.lock().unwrap();
            let mut held = self.released.wait_while(held, |h| *h).unwrap();
            *held = true;
        }
        fn release(&self) {
            *self.held.lock().unwrap() = false;
            self.released.notify_one();
        }
    }

    /// Ignores a release beyond the initial value (a bounded semaphore posing as a
    /// plain one, silently): `Semaphore(0)` then `release()` still has no permit.
    #[derive(Debug, Default)]
    pub struct CappedRelease {
        initial: usize,
        permits: Mutex<usize>,
        released: Condvar,
    }

    impl Semaphore for CappedRelease {
        fn new(permits: usize) -> Self {
            Self { initial: permits, permits: Mutex::new(permits), released: Condvar::new() }
        }
        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
            *permits -= 1;
        }
        fn release(&self) {
            let mut permits = self.permits.lock().unwrap();
            if *permits < self.initial {
                *permits += 1;
                drop(permits);
                self.released.notify_one();
            }
        }
    }

    /// Tests the count under one acquisition of its lock and decrements it under
    /// another: two threads both see the last permit free, and both take it.
    #[derive(Debug)]
    pub struct TestThenDecrement {
        initial: i64,
        permits: Mutex<i64>,
        released: Condvar,
    }

    impl BoundedSemaphore for TestThenDecrement {
        fn new(permits: usize) -> Self {
            Self { initial: permits as i64, permits: Mutex::new(permits as i64), released: Condvar::new() }
        }
        fn acquire(&self) {
            {
                let permits = self.permits.lock().unwrap();
                drop(self.released.wait_while(permits, |p| *p <= 0).unwrap());
            }
            *self.permits.lock().unwrap() -= 1;
        }
        fn release(&self) -> Result<(), TooManyReleases> {
            let mut permits = self.permits.lock().unwrap();
            if *permits >= self.initial {
                return Err(TooManyReleases);
            }
            *permits += 1;
            drop(permits);
            self.released.notify_one();
            Ok(())
        }
    }

    /// A bounded semaphore that never checks its bound: every release returns `Ok`
    /// and adds a permit.
    #[derive(Debug, Default)]
    pub struct UncheckedExtraRelease {
        permits: Mutex<usize>,
        released: Condvar,
    }

    impl BoundedSemaphore for UncheckedExtraRelease {
        fn new(permits: usize) -> Self {
            Self { permits: Mutex::new(permits), released: Condvar::new() }
        }
        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
            *permits -= 1;
        }
        fn release(&self) -> Result<(), TooManyReleases> {
            *self.permits.lock().unwrap() += 1;
            self.released.notify_one();
            Ok(())
        }
    }

    /// Checks its bound with an `assert!`: a release beyond the initial value panics
    /// where the contract asks for `Err(TooManyReleases)`.
    #[derive(Debug, Default)]
    pub struct PanicsOnExtraRelease {
        initial: usize,
        permits: Mutex<usize>,
        released: Condvar,
    }

    impl BoundedSemaphore for PanicsOnExtraRelease {
        fn new(permits: usize) -> Self {
            Self { initial: permits, permits: Mutex::new(permits), released: Condvar::new() }
        }
        fn acquire(&self) {
            let permits = self.permits.lock().unwrap();
            let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
            *permits -= 1;
        }
        fn release(&self) -> Result<(), TooManyReleases> {
            let mut permits = self.permits.lock().unwrap();
            assert!(*permits < self.initial, "semaphore released too many times");
            *permits += 1;
            drop(permits);
            self.released.notify_one();
            Ok(())
        }
    }
}
