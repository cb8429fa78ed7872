use racecourse_spec::semaphore::{BoundedSemaphore, Semaphore, TooManyReleases};
use rt::sync::{Condvar, Mutex};

/// A counting semaphore: the free permits behind a mutex, waiters asleep on a
/// condition variable until a release.
#[derive(Debug, Default)]
pub struct Counting {
    /// Free permits.
    permits: Mutex<usize>,
    /// Signalled by every release.
    released: Condvar,
}

impl Semaphore for Counting {
    fn new(permits: usize) -> Self {
        Self {
            permits: Mutex::new(permits),
            released: Condvar::new(),
        }
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

/// A bounded semaphore: a [`Counting`] semaphore that remembers its initial value and
/// refuses a release beyond it.
#[derive(Debug)]
pub struct Bounded {
    /// The permits it was made with: its bound.
    initial: usize,
    /// Free permits, never more than `initial`.
    permits: Mutex<usize>,
    /// Signalled by every accepted release.
    released: Condvar,
}

impl BoundedSemaphore for Bounded {
    fn new(permits: usize) -> Self {
        Self {
            initial: permits,
            permits: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    fn acquire(&self) {
        let permits = self.permits.lock().unwrap();
        let mut permits = self.released.wait_while(permits, |p| *p == 0).unwrap();
        *permits -= 1;
    }

    fn release(&self) -> Result<(), TooManyReleases> {
        let mut permits = self.permits.lock().unwrap();
        if *permits == self.initial {
            return Err(TooManyReleases);
        }
        *permits += 1;
        drop(permits);
        self.released.notify_one();
        Ok(())
    }
}
