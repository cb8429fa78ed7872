//! E5 reference (processes): a count and a robust process-shared mutex in one shared
//! region.

use std::io;

use racecourse_spec::shm_counter::ShmCounter;

use super::shm::LockedRegion;

/// Marks a region made by [`RobustLocked::create`]: an attacher that reads it knows the
/// lock is initialised and that the token names one of our counters, not any memfd.
const MAGIC: u64 = u64::from_le_bytes(*b"rcshmctr");

/// What attach errors call the region.
const WHAT: &str = "a shared counter";

/// A count and a [`RobustMutex`](super::shm::RobustMutex) in one shared region: a
/// [`LockedRegion`] of one word.
///
/// A holder that dies inside [`with_lock`](ShmCounter::with_lock) leaves the count
/// as it was; the next locker recovers the lock and counts the recovery
/// ([`recoveries`](Self::recoveries)).
#[derive(Debug)]
pub struct RobustLocked {
    region: LockedRegion<u64>,
}

impl RobustLocked {
    /// How many times a locker found that the previous holder had died.
    pub fn recoveries(&self) -> io::Result<u64> {
        self.region.recoveries()
    }
}

impl ShmCounter for RobustLocked {
    fn create() -> io::Result<Self> {
        Ok(Self {
            region: LockedRegion::create(MAGIC, 1)?,
        })
    }

    fn token(&self) -> String {
        self.region.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let region = LockedRegion::attach(token, MAGIC, WHAT)?;
        if region.len() != 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{token}` does not name {WHAT}: it holds {} words",
                    region.len()
                ),
            ));
        }
        Ok(Self { region })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        self.region.with_lock(|words| f(&mut words[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::shm::SharedMemory;

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
