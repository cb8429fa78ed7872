//! Wrong [`ShmCounter`]s that real students write; the suite must reject each.
//!
//! | mutant | bug | what rejects it |
//! | --- | --- | --- |
//! | [`NoLock`] | count in shared memory, no lock | `max_holders >= 2` (rendezvous), lost updates |
//! | [`PrivateMemory`] | count in each process's own heap | total is not N * K |
//! | [`StdMutexInShm`] | `std::sync::Mutex` in shared memory | times out: waiters are never woken |

use std::io;
use std::sync::{Mutex, PoisonError};

use racecourse_spec::shm_counter::ShmCounter;

use super::shm::SharedMemory;

/// The count is in shared memory, but `with_lock` takes no lock: it reads the count,
/// runs `f` on a copy and writes it back, so concurrent increments are lost and
/// several `f` run at once.
#[derive(Debug)]
pub struct NoLock {
    shm: SharedMemory,
}

impl ShmCounter for NoLock {
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
        let count = self.shm.as_ptr().cast::<u64>();
        // SAFETY: the region is page-aligned and at least 8 bytes. Other processes
        // write it concurrently (that is the bug this mutant models); volatile
        // accesses make each a plain load or store of the shared word, and Rust never
        // holds a reference into it.
        let mut n = unsafe { count.read_volatile() };
        let r = f(&mut n);
        // SAFETY: as above.
        unsafe { count.write_volatile(n) };
        Ok(r)
    }
}

/// The count and its lock live in an ordinary heap allocation of each process, so
/// every process counts alone; the token names nothing.
#[derive(Debug, Default)]
pub struct PrivateMemory {
    count: Box<Mutex<u64>>,
}

impl ShmCounter for PrivateMemory {
    fn create() -> io::Result<Self> {
        Ok(Self::default())
    }

    fn token(&self) -> String {
        "private".to_owned()
    }

    fn attach(_token: &str) -> io::Result<Self> {
        Ok(Self::default())
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(f(&mut count))
    }
}

/// A `std::sync::Mutex<u64>` placed in shared memory. Its futex is process-private:
/// a waiter in one process is never woken by an unlock in another, so once two
/// processes contend, the waiter sleeps forever (measured: the run hangs).
#[derive(Debug)]
pub struct StdMutexInShm {
    shm: SharedMemory,
}

impl StdMutexInShm {
    fn mutex(&self) -> &Mutex<u64> {
        // SAFETY: `create` wrote a `Mutex<u64>` at the start of the page-aligned
        // region, which is large enough; every process runs the same binary, so the
        // layout agrees. That the mutex does not work across processes is the bug
        // modelled here, not a memory-safety issue within this process.
        unsafe { &*self.shm.as_ptr().cast::<Mutex<u64>>() }
    }
}

impl ShmCounter for StdMutexInShm {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<Mutex<u64>>())?;
        // SAFETY: the fresh region is large enough and aligned for the mutex, and no
        // one else knows it yet.
        unsafe { shm.as_ptr().cast::<Mutex<u64>>().write(Mutex::new(0)) };
        Ok(Self { shm })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<Mutex<u64>>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self { shm })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let mut count = self.mutex().lock().unwrap_or_else(PoisonError::into_inner);
        Ok(f(&mut count))
    }
}
