//! Wrong [`ShmCounter`]s that real students write; the suite must reject each.
//!
//! | mutant | bug | what rejects it |
//! | --- | --- | --- |
//! | [`NoLock`] | count in shared memory, no lock | `max_holders >= 2` (rendezvous), lost updates |
//! | [`PrivateMemory`] | count in each process's own heap | total is not N * K |
//! | [`StdMutexInShm`] | `std::sync::Mutex` in shared memory | times out: waiters are never woken |
//! | [`SharedLockPrivateCount`] | the lock shared, the count private | total only |
//! | [`AtomicDelta`] | an atomic add instead of a lock | mutual exclusion only |
//! | [`NonRobust`] | a process-shared pthread mutex that is not robust | a dead holder stalls the others |
//! | [`ReadBeforeLock`] | reads the count, then locks to write it back | total only |
//! | [`UnlockOnRecovery`] | recovers a dead holder's lock, then lets it go | a second survivor enters |

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

/// The lock is in shared memory but the count is a private global of each process
/// (a `multiprocessing.Lock` shared, a plain `int` not): the processes exclude each
/// other correctly and still each count alone. Only the total shows it.
#[derive(Debug)]
pub struct SharedLockPrivateCount {
    shm: SharedMemory,
    count: Mutex<u64>,
}

impl SharedLockPrivateCount {
    fn lock(&self) -> &super::shm::RobustMutex {
        // SAFETY: `create` initialised a `RobustMutex` at the start of the page-aligned
        // region, which is large enough; attachers map the same region. The mutex is
        // only used through `&`, as pthread mutexes are meant to be shared.
        unsafe { &*self.shm.as_ptr().cast::<super::shm::RobustMutex>() }
    }
}

impl ShmCounter for SharedLockPrivateCount {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<super::shm::RobustMutex>())?;
        // SAFETY: the fresh region is zero-filled, page-aligned and large enough for the
        // mutex, and no other process knows its token yet.
        unsafe { super::shm::RobustMutex::init(shm.as_ptr().cast())? };
        Ok(Self {
            shm,
            count: Mutex::new(0),
        })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<super::shm::RobustMutex>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self {
            shm,
            count: Mutex::new(0),
        })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let _shared = self.lock().lock()?;
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(f(&mut count))
    }
}

/// The count is an atomic in shared memory and `with_lock` applies `f`'s change as one
/// atomic add, without a lock: no increment is lost, so the total is right, but several
/// `f` run at once. Only the mutual-exclusion probe shows it.
#[derive(Debug)]
pub struct AtomicDelta {
    shm: SharedMemory,
}

impl AtomicDelta {
    fn count(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: the region is page-aligned, zero-filled at creation and at least 8
        // bytes; an AtomicU64 has the layout of a u64 and may be shared between
        // processes that map the same page.
        unsafe { &*self.shm.as_ptr().cast::<std::sync::atomic::AtomicU64>() }
    }
}

impl ShmCounter for AtomicDelta {
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
        use std::sync::atomic::Ordering::SeqCst;
        let before = self.count().load(SeqCst);
        let mut n = before;
        let r = f(&mut n);
        self.count().fetch_add(n.wrapping_sub(before), SeqCst);
        Ok(r)
    }
}

/// A process-shared `pthread_mutex_t` in shared memory, but not *robust*: it excludes
/// other processes correctly, yet when its holder dies nobody can ever take it again,
/// and every other process waits forever. Only a holder that dies shows it (from the
/// adversarial submission of issue 5, which the suite accepted until the
/// `dead_holder` property existed).
#[derive(Debug)]
pub struct NonRobust {
    shm: SharedMemory,
}

/// What [`NonRobust`]'s region holds.
#[repr(C)]
struct NonRobustLayout {
    /// Process-shared, not robust. Guards `count`.
    lock: std::cell::UnsafeCell<libc::pthread_mutex_t>,
    /// Guarded by `lock`.
    count: std::cell::UnsafeCell<u64>,
}

impl NonRobust {
    fn layout(&self) -> &NonRobustLayout {
        // SAFETY: `create` and `attach` checked that the page-aligned region is large
        // enough; its fields are only reached through the pthread calls and under the
        // lock, as pthread mutexes are meant to be shared.
        unsafe { &*self.shm.as_ptr().cast::<NonRobustLayout>() }
    }
}

impl ShmCounter for NonRobust {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<NonRobustLayout>())?;
        let raw = shm.as_ptr().cast::<libc::pthread_mutex_t>();
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: the attribute object is initialised before use and destroyed after;
        // the mutex is initialised in place in fresh memory no other process knows yet.
        let rc = unsafe {
            libc::pthread_mutexattr_init(attr.as_mut_ptr());
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            let rc = libc::pthread_mutex_init(raw, attr.as_ptr());
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
            rc
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Self { shm })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<NonRobustLayout>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self { shm })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let layout = self.layout();
        // SAFETY: the mutex was initialised by `create`; the region stays mapped.
        let rc = unsafe { libc::pthread_mutex_lock(layout.lock.get()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: the count is guarded by the lock we hold.
        let r = f(unsafe { &mut *layout.count.get() });
        // SAFETY: this thread holds the lock.
        unsafe { libc::pthread_mutex_unlock(layout.lock.get()) };
        Ok(r)
    }
}

/// Reads the count *before* taking the lock, then runs `f` on that copy and writes it
/// back under the lock (`v = counter.value; with lock: counter.value = v + 1`). The
/// closures never overlap, and a holder that dies is recovered (the lock is the
/// reference's robust mutex), but a process that read while another held the lock
/// writes back a stale value: only the total shows it.
#[derive(Debug)]
pub struct ReadBeforeLock {
    shm: SharedMemory,
}

/// What [`ReadBeforeLock`]'s region holds.
#[repr(C)]
struct ReadBeforeLockLayout {
    lock: super::shm::RobustMutex,
    /// Written under `lock`, read without it (the bug): an atomic, so the racy read is
    /// a stale value, not undefined behaviour.
    count: std::sync::atomic::AtomicU64,
}

impl ReadBeforeLock {
    fn layout(&self) -> &ReadBeforeLockLayout {
        // SAFETY: `create` initialised the mutex at the start of the page-aligned
        // region, which `create` and `attach` checked is large enough; the count is an
        // atomic, so sharing it with other processes is sound.
        unsafe { &*self.shm.as_ptr().cast::<ReadBeforeLockLayout>() }
    }
}

impl ShmCounter for ReadBeforeLock {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<ReadBeforeLockLayout>())?;
        // SAFETY: the fresh region is zero-filled, page-aligned and large enough, and no
        // other process knows its token yet.
        unsafe { super::shm::RobustMutex::init(shm.as_ptr().cast())? };
        Ok(Self { shm })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<ReadBeforeLockLayout>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self { shm })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        use std::sync::atomic::Ordering::SeqCst;
        let layout = self.layout();
        let mut n = layout.count.load(SeqCst);
        let _guard = layout.lock.lock()?;
        let r = f(&mut n);
        layout.count.store(n, SeqCst);
        Ok(r)
    }
}

/// A robust process-shared mutex, but `with_lock`, told that the previous holder died
/// (`EOWNERDEAD`), marks the lock consistent and then *unlocks* it before running `f`,
/// as if recovering were all the lock needed: the one critical section after a death
/// runs without the lock. Found by cargo-mutants in the reference (`!=` turned into
/// `==` after `pthread_mutex_consistent`), which every property accepted until the
/// dead-holder run made the survivors contend at the moment of recovery.
#[derive(Debug)]
pub struct UnlockOnRecovery {
    shm: SharedMemory,
}

/// What [`UnlockOnRecovery`]'s region holds.
#[repr(C)]
struct UnlockOnRecoveryLayout {
    /// Process-shared and robust. Guards `count`.
    lock: std::cell::UnsafeCell<libc::pthread_mutex_t>,
    /// Guarded by `lock` (but for the bug).
    count: std::cell::UnsafeCell<u64>,
}

impl UnlockOnRecovery {
    fn layout(&self) -> &UnlockOnRecoveryLayout {
        // SAFETY: `create` and `attach` checked that the page-aligned region is large
        // enough; its fields are only reached through the pthread calls and under the
        // lock (but for the bug this type models).
        unsafe { &*self.shm.as_ptr().cast::<UnlockOnRecoveryLayout>() }
    }
}

impl ShmCounter for UnlockOnRecovery {
    fn create() -> io::Result<Self> {
        let shm = SharedMemory::create(std::mem::size_of::<UnlockOnRecoveryLayout>())?;
        let raw = shm.as_ptr().cast::<libc::pthread_mutex_t>();
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: the attribute object is initialised before use and destroyed after;
        // the mutex is initialised in place in fresh memory no other process knows yet.
        let rc = unsafe {
            libc::pthread_mutexattr_init(attr.as_mut_ptr());
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
            let rc = libc::pthread_mutex_init(raw, attr.as_ptr());
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
            rc
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Self { shm })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        if shm.len() < std::mem::size_of::<UnlockOnRecoveryLayout>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self { shm })
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> io::Result<R> {
        let layout = self.layout();
        // SAFETY: the mutex was initialised by `create`; the region stays mapped.
        let rc = unsafe { libc::pthread_mutex_lock(layout.lock.get()) };
        let held = match rc {
            0 => true,
            libc::EOWNERDEAD => {
                // SAFETY: EOWNERDEAD means we hold the lock; the bug is to let it go.
                unsafe {
                    libc::pthread_mutex_consistent(layout.lock.get());
                    libc::pthread_mutex_unlock(layout.lock.get());
                }
                false
            }
            rc => return Err(io::Error::from_raw_os_error(rc)),
        };
        // SAFETY: none when `held` is false: that race is the bug modelled here. The
        // count is a plain u64 in shared memory, read and written with volatile
        // accesses so that the race is a stale value, not a miscompilation.
        let count = layout.count.get();
        let mut n = unsafe { count.read_volatile() };
        let r = f(&mut n);
        // SAFETY: as above.
        unsafe { count.write_volatile(n) };
        if held {
            // SAFETY: this thread holds the lock.
            unsafe { libc::pthread_mutex_unlock(layout.lock.get()) };
        }
        Ok(r)
    }
}
