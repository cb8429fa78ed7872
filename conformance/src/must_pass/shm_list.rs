//! Correct but unusual [`ShmList`]s, as students write them: the suite must accept each
//! on every run.
//!
//! | implementation | what is unusual |
//! | --- | --- |
//! | [`SpinRing`] | no pthread mutex: a lock built from one shared atomic flag, taken by `compare_exchange` while spinning (yielding); the items in a ring of atomics whose start moves; a stack (LIFO) |

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use racecourse_impl::process::shm::SharedMemory;
use racecourse_spec::shm_list::{RemovalOrder, ShmList};

/// What [`SpinRing`]'s region starts with; the ring's slots (atomics) follow.
#[repr(C)]
struct Head {
    /// 1 while a process holds the lock, 0 when free.
    flag: AtomicU32,
    /// Padding, so the next fields are 8-aligned.
    _pad: u32,
    /// The ring's capacity, written before the token is given out.
    capacity: AtomicU64,
    /// The slot of the oldest item. Guarded by `flag`.
    start: AtomicU64,
    /// How many items there are. Guarded by `flag`.
    len: AtomicU64,
}

/// A LIFO list in a ring of `capacity` atomic slots in shared memory, under a spin lock
/// made of one shared flag. Items go in after the newest and `remove` takes the newest;
/// `with_lock` lays the items out again one slot further on after its closure ran, so
/// the oldest item's slot (`start`) goes round the ring, moved by `with_lock` only.
///
/// The flag is not robust (a holder that dies leaves it set): the exercise's contract
/// does not ask for that.
#[derive(Debug)]
pub struct SpinRing {
    shm: SharedMemory,
    capacity: usize,
}

impl SpinRing {
    fn size(capacity: usize) -> usize {
        std::mem::size_of::<Head>() + 8 * capacity
    }

    fn head(&self) -> &Head {
        // SAFETY: `create`/`attach` checked the page-aligned region holds a `Head`; its
        // fields are atomics (and padding), so sharing it between processes is sound.
        unsafe { &*self.shm.as_ptr().cast::<Head>() }
    }

    fn slot(&self, i: usize) -> &AtomicU64 {
        let i = i % self.capacity;
        // SAFETY: the slots follow the 32-byte head, 8-aligned, and `create`/`attach`
        // checked the region holds `capacity` of them; `i < capacity`.
        unsafe {
            &*self
                .shm
                .as_ptr()
                .add(std::mem::size_of::<Head>())
                .cast::<AtomicU64>()
                .add(i)
        }
    }

    /// Spins on the flag until this process sets it; the guard clears it.
    fn lock(&self) -> Held<'_> {
        let flag = &self.head().flag;
        while flag
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        Held(flag)
    }

    /// The items, oldest first (the lock held).
    fn items(&self) -> Vec<u32> {
        let head = self.head();
        let start = head.start.load(Ordering::Relaxed) as usize;
        let len = (head.len.load(Ordering::Relaxed) as usize).min(self.capacity);
        (0..len)
            .map(|i| self.slot(start + i).load(Ordering::Relaxed) as u32)
            .collect()
    }

    fn full(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "the ring is full ({} items): remove some first",
                self.capacity
            ),
        )
    }
}

/// Clears the flag when dropped (also when a closure unwinds).
struct Held<'a>(&'a AtomicU32);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

impl ShmList for SpinRing {
    const ORDER: RemovalOrder = RemovalOrder::Lifo;

    fn create(capacity: usize) -> io::Result<Self> {
        if capacity == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a ring needs room for one item at least",
            ));
        }
        let shm = SharedMemory::create(Self::size(capacity))?;
        let this = Self { shm, capacity };
        this.head()
            .capacity
            .store(capacity as u64, Ordering::Release);
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
                format!("`{token}` names a region too small for a ring"),
            )
        };
        if shm.len() < std::mem::size_of::<Head>() {
            return Err(too_small());
        }
        // SAFETY: checked just above that the region holds a head.
        let capacity = unsafe { &*shm.as_ptr().cast::<Head>() }
            .capacity
            .load(Ordering::Acquire) as usize;
        if capacity == 0 || shm.len() < Self::size(capacity) {
            return Err(too_small());
        }
        Ok(Self { shm, capacity })
    }

    fn add(&self, x: u32) -> io::Result<()> {
        let _held = self.lock();
        let head = self.head();
        let start = head.start.load(Ordering::Relaxed) as usize;
        let len = head.len.load(Ordering::Relaxed) as usize;
        if len >= self.capacity {
            return Err(self.full());
        }
        self.slot(start + len)
            .store(u64::from(x), Ordering::Relaxed);
        head.len.store(len as u64 + 1, Ordering::Relaxed);
        Ok(())
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        let _held = self.lock();
        let head = self.head();
        let start = head.start.load(Ordering::Relaxed) as usize;
        let len = head.len.load(Ordering::Relaxed) as usize;
        if len == 0 {
            return Ok(None);
        }
        let newest = self.slot(start + len - 1).load(Ordering::Relaxed) as u32;
        head.len.store(len as u64 - 1, Ordering::Relaxed);
        Ok(Some(newest))
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        let _held = self.lock();
        Ok(self.items())
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        let _held = self.lock();
        let mut items = self.items();
        let r = f(&mut items);
        if items.len() > self.capacity {
            return Err(self.full());
        }
        // Lay the items out again one slot further on, so the ring's start moves.
        let head = self.head();
        let start = (head.start.load(Ordering::Relaxed) as usize + 1) % self.capacity;
        for (i, &x) in items.iter().enumerate() {
            self.slot(start + i).store(u64::from(x), Ordering::Relaxed);
        }
        head.start.store(start as u64, Ordering::Relaxed);
        head.len.store(items.len() as u64, Ordering::Relaxed);
        Ok(r)
    }
}
