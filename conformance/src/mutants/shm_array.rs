//! Wrong [`ShmArray`]s that real students write; the suite must reject each.
//!
//! | mutant | bug | what rejects it |
//! | --- | --- | --- |
//! | [`CopiedIntoChild`] | the lock shared, the slots copied into each process | the totals (the parent reads zeros) |
//! | [`NoLock`] | slots in shared memory, no lock | lost updates on shared slots (rendezvous), mutual exclusion |
//! | [`AtomicSlots`] | atomic adds of each slot's change instead of a lock | mutual exclusion only |
//! | [`UnlockedSnapshot`] | `snapshot` reads the slots without the lock | a torn snapshot |
//! | [`ReadBeforeLock`] | reads the slots, then locks to write them back | lost updates on shared slots (rendezvous), in the overlapping and the snapshot runs |

use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use racecourse_impl::process::shm::{RobustMutex, SharedMemory};
use racecourse_impl::process::shm_array::RobustArray;
use racecourse_spec::shm_array::ShmArray;

/// The region of [`NoLock`] and [`AtomicSlots`]: the number of slots, then the slots.
#[derive(Debug)]
struct Bare {
    shm: SharedMemory,
    n: usize,
}

impl Bare {
    fn create(n: usize) -> io::Result<Self> {
        let shm = SharedMemory::create(8 * (n + 1))?;
        // SAFETY: the fresh region is page-aligned and at least 8 bytes; nobody else
        // knows it yet.
        unsafe { shm.as_ptr().cast::<u64>().write(n as u64) };
        Ok(Self { shm, n })
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        // SAFETY: every region is page-aligned and at least one byte, so at least a
        // page: the first word is readable; it was written before the token was given.
        let n = unsafe { shm.as_ptr().cast::<u64>().read() } as usize;
        if shm.len() < 8 * (n + 1) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        Ok(Self { shm, n })
    }

    /// Slot `i`, as an atomic (every process maps the same word).
    fn slot(&self, i: usize) -> &AtomicI64 {
        assert!(i < self.n);
        // SAFETY: `create`/`attach` checked the region holds `n + 1` words; slot `i`
        // is word `i + 1`, 8-aligned in a page-aligned region, and an AtomicI64 may
        // be shared between processes that map the same page.
        unsafe { &*self.shm.as_ptr().cast::<AtomicI64>().add(i + 1) }
    }

    fn copy(&self) -> Vec<i64> {
        (0..self.n)
            .map(|i| self.slot(i).load(Ordering::SeqCst))
            .collect()
    }
}

/// The slots are in shared memory, but `with_lock` takes no lock: it copies them, runs
/// `f` on the copy and writes back the slots `f` changed (as `arr[i] += 1` does without
/// `get_lock()`), so two processes updating one slot lose an update, and several `f`
/// run at once.
#[derive(Debug)]
pub struct NoLock {
    bare: Bare,
}

impl ShmArray for NoLock {
    fn create(n: usize) -> io::Result<Self> {
        Bare::create(n).map(|bare| Self { bare })
    }

    fn token(&self) -> String {
        self.bare.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        Bare::attach(token).map(|bare| Self { bare })
    }

    fn len(&self) -> usize {
        self.bare.n
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        let before = self.bare.copy();
        let mut slots = before.clone();
        let r = f(&mut slots);
        for (i, (old, new)) in before.iter().zip(&slots).enumerate() {
            if old != new {
                self.bare.slot(i).store(*new, Ordering::SeqCst);
            }
        }
        Ok(r)
    }
}

/// The slots are atomics in shared memory and `with_lock` adds each slot's change
/// with one atomic add, without a lock: no update is lost, so every total is right,
/// but several `f` run at once. Only the mutual-exclusion probe shows it.
#[derive(Debug)]
pub struct AtomicSlots {
    bare: Bare,
}

impl ShmArray for AtomicSlots {
    fn create(n: usize) -> io::Result<Self> {
        Bare::create(n).map(|bare| Self { bare })
    }

    fn token(&self) -> String {
        self.bare.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        Bare::attach(token).map(|bare| Self { bare })
    }

    fn len(&self) -> usize {
        self.bare.n
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        let before = self.bare.copy();
        let mut slots = before.clone();
        let r = f(&mut slots);
        for (i, (old, new)) in before.iter().zip(&slots).enumerate() {
            self.bare
                .slot(i)
                .fetch_add(new.wrapping_sub(*old), Ordering::SeqCst);
        }
        Ok(r)
    }
}

/// The lock is in shared memory, but the slots are copied into each process (a
/// `multiprocessing.Lock` shared, a plain list handed to each child): the processes
/// exclude each other correctly and still each update a copy of their own. The token
/// carries the lock's region and the values at the time it was taken; the parent's
/// own copy never changes.
#[derive(Debug)]
pub struct CopiedIntoChild {
    lock: SharedMemory,
    slots: Mutex<Vec<i64>>,
}

impl CopiedIntoChild {
    fn lock(&self) -> &RobustMutex {
        // SAFETY: `create` initialised a `RobustMutex` at the start of the page-aligned
        // region, which is large enough; attachers map the same region. The mutex is
        // only used through `&`, as pthread mutexes are meant to be shared.
        unsafe { &*self.lock.as_ptr().cast::<RobustMutex>() }
    }
}

impl ShmArray for CopiedIntoChild {
    fn create(n: usize) -> io::Result<Self> {
        let lock = SharedMemory::create(std::mem::size_of::<RobustMutex>())?;
        // SAFETY: the fresh region is zero-filled, page-aligned and large enough for the
        // mutex, and no other process knows its token yet.
        unsafe { RobustMutex::init(lock.as_ptr().cast())? };
        Ok(Self {
            lock,
            slots: Mutex::new(vec![0; n]),
        })
    }

    fn token(&self) -> String {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let values: Vec<String> = slots.iter().map(i64::to_string).collect();
        format!("{} {}", self.lock.token(), values.join(","))
    }

    fn attach(token: &str) -> io::Result<Self> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, "not a copied array's token");
        let (lock, values) = token.split_once(' ').ok_or_else(bad)?;
        let lock = SharedMemory::attach(lock)?;
        if lock.len() < std::mem::size_of::<RobustMutex>() {
            return Err(bad());
        }
        let slots = values
            .split(',')
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().map_err(|_| bad()))
            .collect::<io::Result<Vec<i64>>>()?;
        Ok(Self {
            lock,
            slots: Mutex::new(slots),
        })
    }

    fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        let _shared = self.lock().lock()?;
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(f(&mut slots))
    }
}

/// The reference's slots and lock, but `snapshot` reads the slots without taking the
/// lock ("reading does not need the lock"): it can return a state half-way through
/// another process's `with_lock`, such as a transfer whose first slot is written and
/// second is not.
#[derive(Debug)]
pub struct UnlockedSnapshot {
    array: RobustArray,
    /// A second mapping of the same region, read without the lock.
    raw: SharedMemory,
}

impl UnlockedSnapshot {
    fn new(array: RobustArray) -> io::Result<Self> {
        let raw = SharedMemory::attach(&array.token())?;
        Ok(Self { array, raw })
    }
}

/// Reads the reference's slots through `raw`, a second mapping of its region, without
/// the lock.
fn read_unlocked(array: &RobustArray, raw: &SharedMemory) -> Vec<i64> {
    let n = array.len();
    // The slots are the last `n` words of the reference's region.
    let first = raw.len() / 8 - n;
    let words = raw.as_ptr().cast::<i64>();
    (0..n)
        // SAFETY: word `first + i` is inside the mapping, 8-aligned. Another process
        // may be writing it under the lock this read does not take (the bug modelled
        // here); a volatile read makes that a stale value, not a miscompilation.
        .map(|i| unsafe { words.add(first + i).read_volatile() })
        .collect()
}

impl ShmArray for UnlockedSnapshot {
    fn create(n: usize) -> io::Result<Self> {
        Self::new(RobustArray::create(n)?)
    }

    fn token(&self) -> String {
        self.array.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        Self::new(RobustArray::attach(token)?)
    }

    fn len(&self) -> usize {
        self.array.len()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        self.array.with_lock(f)
    }

    fn snapshot(&self) -> io::Result<Vec<i64>> {
        Ok(read_unlocked(&self.array, &self.raw))
    }
}

/// The reference's slots and lock, but `with_lock` reads the slots *before* taking the
/// lock, then runs `f` on that copy and writes it back under the lock (`v = arr[i]`,
/// then `with lock: arr[i] = v + 1`). The closures never overlap, and a dead holder's
/// lock is recovered, but a process that read while another held the lock writes back
/// stale values over another process's update: in the rendezvous, the announcer (or
/// the snapshotter, whose snapshot goes through `with_lock`) reads while worker 0 is
/// inside and writes its copy back after worker 0's update.
#[derive(Debug)]
pub struct ReadBeforeLock {
    array: RobustArray,
    /// A second mapping of the same region, read without the lock.
    raw: SharedMemory,
}

impl ShmArray for ReadBeforeLock {
    fn create(n: usize) -> io::Result<Self> {
        let array = RobustArray::create(n)?;
        let raw = SharedMemory::attach(&array.token())?;
        Ok(Self { array, raw })
    }

    fn token(&self) -> String {
        self.array.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let array = RobustArray::attach(token)?;
        let raw = SharedMemory::attach(token)?;
        Ok(Self { array, raw })
    }

    fn len(&self) -> usize {
        self.array.len()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        let mut copy = read_unlocked(&self.array, &self.raw);
        self.array.with_lock(|slots| {
            let r = f(&mut copy);
            slots.copy_from_slice(&copy);
            r
        })
    }
}
