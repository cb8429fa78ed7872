//! E5, semaphore and bounded semaphore: Python's `threading.Semaphore` and
//! `threading.BoundedSemaphore`.
//!
//! A semaphore made with `k` permits lets at most `k` threads hold a permit at once,
//! and lets `k` of them in when `k` or more threads contend (the course's example:
//! a pool of `k` connections shared by more threads). A bounded semaphore also
//! rejects a release that would take it beyond its initial value (Python raises
//! `ValueError`); a plain semaphore accepts it and gains a permit.

use std::fmt;

/// A [`release`](BoundedSemaphore::release) that would take a bounded semaphore
/// beyond its initial number of permits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TooManyReleases;

impl fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("released a bounded semaphore more times than it was acquired")
    }
}

impl std::error::Error for TooManyReleases {}

/// A counting semaphore (`threading.Semaphore`).
///
/// # Contract
/// - A semaphore made by `new(k)` holds `k` permits. [`acquire`](Self::acquire)
///   **must** take one, waiting while there is none; [`release`](Self::release)
///   **must** give one back.
/// - At most as many threads as there are permits hold one at any moment: with `k`
///   permits and no extra release, never more than `k` threads are between an
///   `acquire` that returned and their `release`.
/// - `k` permits **must** let `k` threads in at once: when `k` or more threads
///   contend, `k` of them hold a permit together (none waits while a permit is free).
/// - A `release` beyond the initial value **must** add a permit, as Python's
///   `Semaphore` does: `new(0)` followed by `release()` lets one `acquire` through.
///
/// ## Blocking
/// `acquire` waits while no permit is free, and never longer: a `release` lets a
/// waiting thread through.
pub trait Semaphore: Send + Sync + 'static {
    /// A semaphore with `permits` permits.
    fn new(permits: usize) -> Self;

    /// Takes a permit, waiting while none is free.
    fn acquire(&self);

    /// Gives a permit back (or adds one).
    fn release(&self);

    /// Runs `f` holding a permit, as Python's `with semaphore:`: acquires, runs `f`,
    /// and releases, also when `f` panics.
    fn with_permit<R>(&self, f: impl FnOnce() -> R) -> R
    where
        Self: Sized,
    {
        /// Releases when dropped, also when `f` unwinds.
        struct Release<'a, S: Semaphore>(&'a S);

        impl<S: Semaphore> Drop for Release<'_, S> {
            fn drop(&mut self) {
                self.0.release();
            }
        }

        self.acquire();
        let _release = Release(self);
        f()
    }
}

/// A bounded semaphore (`threading.BoundedSemaphore`).
///
/// # Contract
/// Everything [`Semaphore`] promises about `new`, `acquire` and holders, and:
/// - [`release`](Self::release) when every permit is already back (the count equals
///   its initial value) **must** return `Err(TooManyReleases)` and leave the count as
///   it was; it **must not** panic. Any other release **must** return `Ok` and give
///   a permit back (any thread may release, as in Python).
/// - So when each of `n` threads acquires once and then releases twice, exactly `n`
///   of the releases return `Err`, whatever the interleaving.
///
/// ## Blocking
/// `acquire` waits while no permit is free, and never longer.
pub trait BoundedSemaphore: Send + Sync + 'static {
    /// A bounded semaphore with `permits` permits, which is also its bound.
    fn new(permits: usize) -> Self;

    /// Takes a permit, waiting while none is free.
    fn acquire(&self);

    /// Gives a permit back; `Err(TooManyReleases)` if every permit is already back.
    fn release(&self) -> Result<(), TooManyReleases>;

    /// Runs `f` holding a permit, as Python's `with semaphore:`: acquires, runs `f`,
    /// and releases, also when `f` panics.
    ///
    /// # Panics
    /// If the release after `f` fails: the implementation broke the contract (the
    /// permit just taken could not be given back).
    fn with_permit<R>(&self, f: impl FnOnce() -> R) -> R
    where
        Self: Sized,
    {
        /// Releases when dropped, also when `f` unwinds.
        struct Release<'a, S: BoundedSemaphore>(&'a S);

        impl<S: BoundedSemaphore> Drop for Release<'_, S> {
            fn drop(&mut self) {
                if let Err(e) = self.0.release() {
                    if !std::thread::panicking() {
                        panic!("with_permit could not give back the permit it took: {e}");
                    }
                }
            }
        }

        self.acquire();
        let _release = Release(self);
        f()
    }
}
