//! E5, reentrant lock: Python's `threading.RLock`.
//!
//! A thread that holds a reentrant lock may acquire it again without waiting; the lock
//! counts the acquisitions and becomes free only at the owner's *last* release. Other
//! threads wait until then. Releasing a lock that the calling thread does not hold is
//! an error (Python raises `RuntimeError`), never a silent success.

use std::fmt;

/// A [`release`](ReentrantLock::release) by a thread that does not hold the lock:
/// another thread holds it, or nobody does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NotOwner;

impl fmt::Display for NotOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("released a reentrant lock that the calling thread does not hold")
    }
}

impl std::error::Error for NotOwner {}

/// A lock that its owner may acquire again (`threading.RLock`).
///
/// # Contract
/// - [`acquire`](Self::acquire) by the thread that holds the lock **must** return
///   without waiting and count one more acquisition.
/// - Between a thread's first `acquire` and its matching last
///   [`release`](Self::release) (as many releases as acquisitions), no other thread's
///   `acquire` **must** return: at most one thread holds the lock at any moment.
/// - `release` by the owner **must** return `Ok` and undo one acquisition; the lock
///   is free once every acquisition is undone, and a waiting thread may then take it.
/// - `release` by a thread that does not hold the lock (it is free, or another
///   thread holds it) **must** return `Err(NotOwner)` and change nothing: the owner
///   still holds it, with the same count. It **must not** panic.
///
/// ## Blocking
/// `acquire` waits while another thread holds the lock, and never longer: once the
/// owner's last release has happened, some waiting thread gets the lock.
pub trait ReentrantLock: Send + Sync + 'static {
    /// A free lock.
    fn new() -> Self;

    /// Takes the lock, waiting while another thread holds it; the owner takes it again
    /// at once.
    fn acquire(&self);

    /// Undoes one acquisition by the calling thread; `Err(NotOwner)` if it does not
    /// hold the lock.
    fn release(&self) -> Result<(), NotOwner>;

    /// Runs `f` holding the lock, as Python's `with lock:`: acquires, runs `f`, and
    /// releases, also when `f` panics.
    ///
    /// # Panics
    /// If the release after `f` fails: the implementation broke the contract (its
    /// owner could not release what it had just acquired).
    fn with_lock<R>(&self, f: impl FnOnce() -> R) -> R
    where
        Self: Sized,
    {
        /// Releases when dropped, also when `f` unwinds.
        struct Release<'a, L: ReentrantLock>(&'a L);

        impl<L: ReentrantLock> Drop for Release<'_, L> {
            fn drop(&mut self) {
                if let Err(e) = self.0.release() {
                    if !std::thread::panicking() {
                        panic!("with_lock could not release the lock it acquired: {e}");
                    }
                }
            }
        }

        self.acquire();
        let _release = Release(self);
        f()
    }
}
