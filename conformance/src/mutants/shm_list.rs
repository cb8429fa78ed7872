//! Wrong [`ShmList`]s that real students write; the suite must reject each.
//!
//! | mutant | bug | what rejects it |
//! | --- | --- | --- |
//! | [`CopiedIntoChild`] | the list copied into each process (a plain list handed to a child) | every property |
//! | [`NoLock`] | the items in shared memory, no lock: each call copies them out, changes the copy and writes it back | every property (the rendezvous loses item 0) |
//! | [`ClearAll`] | `remove` returns the front item and clears the list (seed 001) | linearizable, no_loss |
//! | [`LifoDeclaredFifo`] | pops the back, declares FIFO | linearizable, declared_order |

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use racecourse_impl::process::shm::SharedMemory;
use racecourse_impl::process::shm_list::RobustList;
use racecourse_spec::shm_list::{RemovalOrder, ShmList};

/// The list lives in the process that made it: the token carries its items, and a
/// process that attaches gets a private copy of them, as a Python list passed to
/// `Process(args=..)` is pickled into the child. Every process then adds to and
/// removes from its own list.
#[derive(Debug)]
pub struct CopiedIntoChild {
    items: Mutex<Vec<u32>>,
    capacity: usize,
}

impl ShmList for CopiedIntoChild {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn create(capacity: usize) -> io::Result<Self> {
        Ok(Self {
            items: Mutex::new(Vec::new()),
            capacity,
        })
    }

    fn token(&self) -> String {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let items: Vec<String> = items.iter().map(u32::to_string).collect();
        format!("copy:{}:{}", self.capacity, items.join(","))
    }

    fn attach(token: &str) -> io::Result<Self> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("bad token {token:?}"));
        let rest = token.strip_prefix("copy:").ok_or_else(bad)?;
        let (capacity, items) = rest.split_once(':').ok_or_else(bad)?;
        let items = items
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| bad()))
            .collect::<io::Result<Vec<u32>>>()?;
        Ok(Self {
            items: Mutex::new(items),
            capacity: capacity.parse().map_err(|_| bad())?,
        })
    }

    fn add(&self, x: u32) -> io::Result<()> {
        self.with_lock(|items| items.push(x))
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        self.with_lock(|items| (!items.is_empty()).then(|| items.remove(0)))
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        self.with_lock(|items| items.clone())
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut items);
        items.truncate(self.capacity);
        Ok(r)
    }
}

/// The items in shared memory without a lock: word 0 counts them, the next words hold
/// them. Every call copies the items out, changes the copy and writes all of it back
/// (`items = list(shared); ...; shared[:] = items`), so a call that runs while another
/// holds a stale copy is overwritten.
#[derive(Debug)]
pub struct NoLock {
    shm: SharedMemory,
    capacity: usize,
}

impl NoLock {
    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i <= self.capacity);
        // SAFETY: `create`/`attach` checked that the page-aligned region holds
        // `capacity + 1` words; an AtomicU64 may be shared between processes that map
        // the same page.
        unsafe { &*self.shm.as_ptr().cast::<AtomicU64>().add(i) }
    }

    fn copy(&self) -> Vec<u32> {
        let len = (self.word(0).load(Ordering::SeqCst) as usize).min(self.capacity);
        (1..=len)
            .map(|i| self.word(i).load(Ordering::SeqCst) as u32)
            .collect()
    }

    fn write_back(&self, items: &[u32]) {
        for (i, &x) in items.iter().enumerate().take(self.capacity) {
            self.word(i + 1).store(u64::from(x), Ordering::SeqCst);
        }
        self.word(0)
            .store(items.len().min(self.capacity) as u64, Ordering::SeqCst);
    }
}

impl ShmList for NoLock {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn create(capacity: usize) -> io::Result<Self> {
        let shm = SharedMemory::create(8 * (capacity + 2))?;
        // SAFETY: the fresh region is page-aligned and holds `capacity + 2` words; nobody
        // else knows it yet. The last word records the capacity for `attach`.
        unsafe {
            shm.as_ptr()
                .cast::<u64>()
                .add(capacity + 1)
                .write(capacity as u64)
        };
        Ok(Self { shm, capacity })
    }

    fn token(&self) -> String {
        self.shm.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let shm = SharedMemory::attach(token)?;
        let words = shm.len() / 8;
        let too_small = || io::Error::new(io::ErrorKind::InvalidData, "region too small");
        if words < 2 {
            return Err(too_small());
        }
        // SAFETY: the region holds `words` words (checked), written before the token
        // was given out.
        let capacity = unsafe { shm.as_ptr().cast::<u64>().add(words - 1).read() } as usize;
        if capacity + 2 > words {
            return Err(too_small());
        }
        Ok(Self { shm, capacity })
    }

    fn add(&self, x: u32) -> io::Result<()> {
        self.with_lock(|items| items.push(x))
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        self.with_lock(|items| (!items.is_empty()).then(|| items.remove(0)))
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        Ok(self.copy())
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        let mut items = self.copy();
        let r = f(&mut items);
        self.write_back(&items);
        Ok(r)
    }
}

/// Seed 001: `remove` returns the front item and clears the whole list, under the
/// reference's (working) lock.
#[derive(Debug)]
pub struct ClearAll(RobustList);

impl ShmList for ClearAll {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn create(capacity: usize) -> io::Result<Self> {
        RobustList::create(capacity).map(Self)
    }

    fn token(&self) -> String {
        self.0.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        RobustList::attach(token).map(Self)
    }

    fn add(&self, x: u32) -> io::Result<()> {
        self.0.add(x)
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        self.0.with_lock(|items| {
            let front = (!items.is_empty()).then(|| items.remove(0));
            items.clear();
            front
        })
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        self.0.snapshot()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        self.0.with_lock(f)
    }
}

/// A stack that declares itself a queue: `remove` pops the back (the newest item),
/// under the reference's lock, and `ORDER` says FIFO.
#[derive(Debug)]
pub struct LifoDeclaredFifo(RobustList);

impl ShmList for LifoDeclaredFifo {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn create(capacity: usize) -> io::Result<Self> {
        RobustList::create(capacity).map(Self)
    }

    fn token(&self) -> String {
        self.0.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        RobustList::attach(token).map(Self)
    }

    fn add(&self, x: u32) -> io::Result<()> {
        self.0.add(x)
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        self.0.with_lock(|items| items.pop())
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        self.0.snapshot()
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        self.0.with_lock(f)
    }
}
