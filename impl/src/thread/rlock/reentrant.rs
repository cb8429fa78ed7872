use racecourse_spec::rlock::{NotOwner, ReentrantLock};
use rt::sync::{Condvar, Mutex};

/// The calling thread's number: one per thread, never 0, never given to another
/// thread of this process.
///
/// `rt::thread::current().id()` identifies a thread too, but the facade has no name
/// for its type on every runtime, so a lock could not store it; a thread-local number
/// can be stored anywhere.
fn me() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// The next number to hand out. A std atomic, invisible to the model checkers:
    /// numbering threads adds no interleavings.
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    rt::thread_local! {
        static ME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ME.with(|me| *me)
}

/// Who holds a [`Reentrant`] lock, and how many times.
#[derive(Debug, Default)]
struct Held {
    /// The owner's number (see [`me`]), or 0 while the lock is free.
    owner: usize,
    /// Acquisitions by the owner not yet released; 0 exactly when `owner` is 0.
    count: usize,
}

/// A reentrant lock: the owner and its count behind one mutex, waiters asleep on a
/// condition variable until the owner's last release.
#[derive(Debug, Default)]
pub struct Reentrant {
    /// Guards the owner and the count.
    held: Mutex<Held>,
    /// Signalled when the lock becomes free.
    freed: Condvar,
}

impl ReentrantLock for Reentrant {
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
        held.count -= 1;
        if held.count == 0 {
            held.owner = 0;
            drop(held);
            self.freed.notify_one();
        }
        Ok(())
    }
}
