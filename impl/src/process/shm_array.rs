//! E5 reference (processes): `n` slots and one robust process-shared mutex in one
//! shared region, the shared value's memory and lock ([`LockedRegion`]) with `n`
//! words instead of one.

use std::io;

use racecourse_spec::shm_array::ShmArray;

use super::shm::LockedRegion;

/// Marks a region made by [`RobustArray::create`] (see [`LockedRegion`]).
const MAGIC: u64 = u64::from_le_bytes(*b"rcshmarr");

/// `n` slots under one [`RobustMutex`](super::shm::RobustMutex), in one shared region.
///
/// A holder that dies inside [`with_lock`](ShmArray::with_lock) leaves the slots as it
/// left them; the next locker recovers the lock and counts the recovery
/// ([`recoveries`](Self::recoveries)).
#[derive(Debug)]
pub struct RobustArray {
    region: LockedRegion<i64>,
}

impl RobustArray {
    /// How many times a locker found that the previous holder had died.
    pub fn recoveries(&self) -> io::Result<u64> {
        self.region.recoveries()
    }
}

impl ShmArray for RobustArray {
    fn create(n: usize) -> io::Result<Self> {
        Ok(Self {
            region: LockedRegion::create(MAGIC, n)?,
        })
    }

    fn token(&self) -> String {
        self.region.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        Ok(Self {
            region: LockedRegion::attach(token, MAGIC, "a shared array")?,
        })
    }

    fn len(&self) -> usize {
        self.region.len()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        self.region.with_lock(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::shm::SharedMemory;

    #[test]
    fn attached_handles_share_every_slot() {
        let a = RobustArray::create(3).unwrap();
        let b = RobustArray::attach(&a.token()).unwrap();
        assert_eq!((a.len(), b.len()), (3, 3));
        assert!(!b.is_empty());
        a.with_lock(|s| s[0] += 2).unwrap();
        b.with_lock(|s| s[2] -= 5).unwrap();
        assert_eq!(a.snapshot().unwrap(), vec![2, 0, -5]);
        assert_eq!(a.recoveries().unwrap(), 0);
    }

    #[test]
    fn an_empty_array_is_allowed() {
        let a = RobustArray::create(0).unwrap();
        let b = RobustArray::attach(&a.token()).unwrap();
        assert!(b.is_empty());
        assert_eq!(b.snapshot().unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn attach_refuses_a_counter_and_other_regions() {
        use racecourse_spec::shm_counter::ShmCounter;
        let counter = crate::process::shm_counter::RobustLocked::create().unwrap();
        let e = RobustArray::attach(&counter.token()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains("does not name a shared array"),
            "{e}"
        );
        let small = SharedMemory::create(8).unwrap();
        let e = RobustArray::attach(small.token()).unwrap_err();
        assert!(e.to_string().contains("too small"), "{e}");
    }

    /// A region whose header announces more slots than it holds is refused before
    /// anything reads past its end.
    #[test]
    fn attach_refuses_a_region_shorter_than_its_header_says() {
        let a = RobustArray::create(2).unwrap();
        // Forge the header of a 1000-slot array: same region, word count changed.
        // SAFETY: the region is ours and idle; the word count is the third u64 after
        // the mutex, written here as no other process reads it.
        unsafe {
            let shm = SharedMemory::attach(&a.token()).unwrap();
            let words = shm
                .as_ptr()
                .add(std::mem::size_of::<crate::process::shm::RobustMutex>() + 8)
                .cast::<u64>();
            assert_eq!(words.read(), 2);
            words.write(1000);
        }
        let e = RobustArray::attach(&a.token()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("too small"), "{e}");
    }

    #[test]
    fn a_size_that_overflows_is_refused() {
        let e = RobustArray::create(usize::MAX / 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("ask for fewer"), "{e}");
    }
}
