//! Correct but unusual [`ShmCounter`]s, as students write them: the suite must accept
//! each on every run (the counterpart of [`mutants`](super::mutants)).
//!
//! | implementation | what is unusual |
//! | --- | --- |
//! | [`FlockLocked`] | the lock is `flock(2)` on the shared file itself, not a mutex |

use std::io;
use std::os::fd::AsRawFd;

use racecourse_spec::shm_counter::ShmCounter;

use super::shm::SharedMemory;

/// The count lives in shared memory; `with_lock` holds an exclusive `flock(2)` on the
/// memfd that backs it (Python's `fcntl.flock`). Each handle opens the file anew, so
/// each has its own open file description and the locks of different handles exclude
/// each other, in one process or many. The kernel drops a dead process's `flock`, so a
/// holder that dies never blocks the others.
#[derive(Debug)]
pub struct FlockLocked {
    shm: SharedMemory,
}

/// The memfd the lock is taken on (this type never closes it).
fn flock_fd(shm: &SharedMemory) -> std::os::fd::RawFd {
    shm.fd().map_or(-1, AsRawFd::as_raw_fd)
}

/// Unlocks the `flock` when dropped (also when the closure unwinds).
struct Flocked<'a>(&'a SharedMemory);

impl Drop for Flocked<'_> {
    fn drop(&mut self) {
        // SAFETY: flock on our own open fd touches no memory.
        unsafe { libc::flock(flock_fd(self.0), libc::LOCK_UN) };
    }
}

impl ShmCounter for FlockLocked {
    fn create() -> io::Result<Self> {
        Ok(Self {
            shm: SharedMemory::create(std::mem::size_of::<u64>())?,
        })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        Ok(Self {
            shm: SharedMemory::attach(token)?,
        })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let fd = flock_fd(&self.shm);
        loop {
            // SAFETY: flock on our own open fd touches no memory.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let _unlock = Flocked(&self.shm);
        // SAFETY: the region is page-aligned and at least 8 bytes; while we hold the
        // exclusive flock no other handle, in any process, touches the count.
        Ok(f(unsafe { &mut *self.shm.as_ptr().cast::<u64>() }))
    }
}
