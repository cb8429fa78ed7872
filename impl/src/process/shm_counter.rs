//! E5 reference (processes): a count and a robust process-shared mutex in one shared
//! region.

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use racecourse_spec::shm_counter::ShmCounter;

use super::shm::{RobustMutex, SharedMemory};

/// Written last by `create`: an attacher that reads it knows the lock is initialised
/// (and that the token names one of our counters, not any memfd).
const MAGIC: u64 = u64::from_le_bytes(*b"rcshmctr");

/// What the shared region holds.
#[repr(C)]
struct Layout {
    /// Guards `count` and `recoveries`.
    lock: RobustMutex,
    /// The count. Guarded by `lock`.
    count: UnsafeCell<u64>,
    /// How often a locker recovered `lock` from a holder that died. Guarded by `lock`.
    recoveries: UnsafeCell<u64>,
    /// `MAGIC` once `lock` is initialised; zero before.
    magic: AtomicU64,
}

/// A count and a [`RobustMutex`] in one [`SharedMemory`] region.
///
/// A holder that dies inside [`with_lock`](ShmCounter::with_lock) leaves the count
/// as it was; the next locker recovers the lock and counts the recovery
/// ([`recoveries`](Self::recoveries)).
#[derive(Debug)]
pub struct RobustLocked {
    shm: SharedMemory,
}

impl RobustLocked {
    fn layout(&self) -> &Layout {
        // SAFETY: `create` and `attach` made the region at least `size_of::<Layout>()`
        // bytes, page-aligned, with `lock` initialised (magic checked); every field
        // is an UnsafeCell, an atomic or the mutex, so shared references are sound
        // while other processes write.
        unsafe { &*self.shm.as_ptr().cast::<Layout>() }
    }

    /// How many times a locker found that the previous holder had died.
    pub fn recoveries(&self) -> io::Result<u64> {
        let layout = self.layout();
        let _guard = self.lock()?;
        // SAFETY: `recoveries` is guarded by the lock we hold.
        Ok(unsafe { *layout.recoveries.get() })
    }

    fn lock(&self) -> io::Result<super::shm::RobustGuard<'_>> {
        let layout = self.layout();
        let guard = layout.lock.lock()?;
        if guard.recovered() {
            // SAFETY: `recoveries` is guarded by the lock we hold.
            unsafe { *layout.recoveries.get() += 1 };
        }
        Ok(guard)
    }
}

impl ShmCounter for RobustLocked {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<Layout>())?;
        let layout = shm.as_ptr().cast::<Layout>();
        // SAFETY: the fresh region is zero-filled (a valid count, recoveries and
        // magic), page-aligned and large enough for `Layout`; no one else can know its
        // token yet, so initialising the mutex in place races with nothing.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*layout).lock))?;
            (*layout).magic.store(MAGIC, Ordering::Release);
        }
        Ok(Self { shm })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<Layout>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{token}` names a region too small for a counter"),
            ));
        }
        let this = Self { shm };
        if this.layout().magic.load(Ordering::Acquire) != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{token}` does not name a shared counter"),
            ));
        }
        Ok(this)
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let _guard = self.lock()?;
        // SAFETY: the cross-process lock is held until `_guard` drops (also when `f`
        // unwinds), so no other `f` in any process touches the count meanwhile.
        Ok(f(unsafe { &mut *self.layout().count.get() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_handles_share_the_count() {
        let a = RobustLocked::create().unwrap();
        let b = RobustLocked::attach(&a.token()).unwrap();
        a.with_lock(|n| *n += 2).unwrap();
        b.with_lock(|n| *n += 3).unwrap();
        assert_eq!(a.get().unwrap(), 5);
        assert_eq!(a.recoveries().unwrap(), 0);
    }

    #[test]
    fn attach_rejects_a_region_that_is_not_a_counter() {
        let other = SharedMemory::create(4096).unwrap();
        let e = RobustLocked::attach(other.token()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains("does not name a shared counter"),
            "{e}"
        );
    }

    /// A region smaller than a counter is refused before anything reads past its end.
    /// Found by cargo-mutants (the size comparison reversed).
    #[test]
    fn attach_rejects_a_region_too_small_for_a_counter() {
        let small = SharedMemory::create(8).unwrap();
        let e = RobustLocked::attach(small.token()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("too small"), "{e}");
    }
}
