//! Correct but unusual [`ShmArray`]s, as students write them: the suite must accept
//! each on every run.
//!
//! | implementation | what is unusual |
//! | --- | --- |
//! | [`SpinPid`] | no pthread mutex: a lock word holding the owner's pid, taken by `compare_exchange` while spinning, stolen from an owner that died; the slots are atomics, copied out and back under that lock |

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use racecourse_impl::process::shm::SharedMemory;
use racecourse_spec::shm_array::ShmArray;

/// What [`SpinPid`]'s region starts with; the slots (atomics) follow.
#[repr(C)]
struct Head {
    /// The pid of the process that holds the lock; 0 when free.
    owner: AtomicU32,
    /// Padding, so the slots are 8-aligned.
    _pad: u32,
    /// The number of slots, written before the token is given out.
    n: AtomicI64,
}

/// `n` atomic slots and a spin lock in one shared region. The lock word holds the pid of
/// its owner: a waiter spins with `compare_exchange(0, me)`, yielding between tries,
/// and one that finds the owner dead (no `/proc/<pid>`, or a zombie) takes the lock
/// over with `compare_exchange(dead, me)`, so a holder that dies never blocks the
/// others. `with_lock` copies the slots out, runs `f` on the copy and stores it back,
/// all while holding the lock: the atomics only make the stores well-defined, the lock
/// does the excluding.
#[derive(Debug)]
pub struct SpinPid {
    shm: SharedMemory,
    n: usize,
}

impl SpinPid {
    fn head(&self) -> &Head {
        // SAFETY: `create`/`attach` checked the page-aligned region holds a `Head`;
        // its fields are atomics (and padding), so sharing it between processes is
        // sound.
        unsafe { &*self.shm.as_ptr().cast::<Head>() }
    }

    fn slot(&self, i: usize) -> &AtomicI64 {
        assert!(i < self.n);
        // SAFETY: the slots follow the 16-byte head, 8-aligned, and `create`/`attach`
        // checked the region holds `n` of them.
        unsafe {
            &*self
                .shm
                .as_ptr()
                .add(std::mem::size_of::<Head>())
                .cast::<AtomicI64>()
                .add(i)
        }
    }

    fn size(n: usize) -> usize {
        std::mem::size_of::<Head>() + 8 * n
    }

    /// Whether process `pid` is gone or a zombie (it can never unlock).
    fn dead(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
                .is_some_and(|state| matches!(state, 'Z' | 'X')),
        }
    }

    fn lock(&self) -> Unlock<'_> {
        let me = std::process::id();
        let owner = &self.head().owner;
        let mut tries = 0u32;
        loop {
            match owner.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Unlock(owner),
                Err(held) => {
                    tries = tries.wrapping_add(1);
                    if tries.is_multiple_of(64)
                        && Self::dead(held)
                        && owner
                            .compare_exchange(held, me, Ordering::Acquire, Ordering::Relaxed)
                            .is_ok()
                    {
                        return Unlock(owner);
                    }
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Frees the lock word when dropped (also when `f` unwinds).
struct Unlock<'a>(&'a AtomicU32);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

impl ShmArray for SpinPid {
    fn create(n: usize) -> io::Result<Self> {
        let shm = SharedMemory::create(Self::size(n))?;
        let this = Self { shm, n };
        this.head().n.store(n as i64, Ordering::Release);
        Ok(this)
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        let too_small = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{token}` names a region too small for a shared array"),
            )
        };
        if shm.len() < std::mem::size_of::<Head>() {
            return Err(too_small());
        }
        // SAFETY: checked just above that the region holds a head.
        let n = unsafe { &*shm.as_ptr().cast::<Head>() }
            .n
            .load(Ordering::Acquire);
        let n = usize::try_from(n).map_err(|_| too_small())?;
        if shm.len() < Self::size(n) {
            return Err(too_small());
        }
        Ok(Self { shm, n })
    }

    fn len(&self) -> usize {
        self.n
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        let _held = self.lock();
        let mut slots: Vec<i64> = (0..self.n)
            .map(|i| self.slot(i).load(Ordering::Relaxed))
            .collect();
        let r = f(&mut slots);
        for (i, v) in slots.into_iter().enumerate() {
            self.slot(i).store(v, Ordering::Relaxed);
        }
        Ok(r)
    }
}
