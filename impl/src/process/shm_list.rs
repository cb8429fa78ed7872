//! E4 reference (processes): a FIFO list of `u32` items in one shared region, under the
//! robust process-shared mutex of the shared value and array ([`LockedRegion`]).
//!
//! The region's words are the number of items, then `capacity` item words, the oldest
//! first. `remove` takes the front and moves the rest down: with the small capacities
//! of the exercise a shift costs less than the bookkeeping of a ring.

use std::io;

use racecourse_spec::shm_list::{RemovalOrder, ShmList};

use super::shm::LockedRegion;

/// Marks a region made by [`RobustList::create`] (see [`LockedRegion`]).
const MAGIC: u64 = u64::from_le_bytes(*b"rcshmlst");

/// A FIFO list in shared memory under one [`RobustMutex`](super::shm::RobustMutex):
/// word 0 counts the items, words `1..=capacity` hold them, oldest first.
#[derive(Debug)]
pub struct RobustList {
    region: LockedRegion<u64>,
}

impl RobustList {
    /// How many items the list can hold.
    pub fn capacity(&self) -> usize {
        self.region.len() - 1
    }
}

/// The number of items a region's words say, checked against its capacity (a region
/// written by a broken process must not make us index past the end).
fn len_of(words: &[u64]) -> io::Result<usize> {
    let len = usize::try_from(words[0]).unwrap_or(usize::MAX);
    if len > words.len() - 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the shared list says it holds {len} items but has room for {}: \
                 its region was overwritten; create a new list",
                words.len() - 1
            ),
        ));
    }
    Ok(len)
}

impl ShmList for RobustList {
    const ORDER: RemovalOrder = RemovalOrder::Fifo;

    fn create(capacity: usize) -> io::Result<Self> {
        let words = capacity.checked_add(1).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a capacity of {capacity} items does not fit; ask for fewer"),
            )
        })?;
        Ok(Self {
            region: LockedRegion::create(MAGIC, words)?,
        })
    }

    fn token(&self) -> String {
        self.region.token().to_owned()
    }

    fn attach(token: &str) -> io::Result<Self> {
        let region = LockedRegion::attach(token, MAGIC, "a shared list")?;
        if region.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{token}` names a shared list without its item count; create a new list"),
            ));
        }
        Ok(Self { region })
    }

    fn add(&self, x: u32) -> io::Result<()> {
        self.region.with_lock(|words| {
            let len = len_of(words)?;
            if len == words.len() - 1 {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("the shared list is full ({len} items): remove items first, or create a larger list"),
                ));
            }
            words[1 + len] = u64::from(x);
            words[0] = len as u64 + 1;
            Ok(())
        })?
    }

    fn remove(&self) -> io::Result<Option<u32>> {
        self.region.with_lock(|words| {
            let len = len_of(words)?;
            if len == 0 {
                return Ok(None);
            }
            let front = words[1] as u32;
            words.copy_within(2..=len, 1);
            words[0] = len as u64 - 1;
            Ok(Some(front))
        })?
    }

    fn snapshot(&self) -> io::Result<Vec<u32>> {
        self.region.with_lock(|words| {
            let len = len_of(words)?;
            Ok(words[1..=len].iter().map(|&w| w as u32).collect())
        })?
    }

    fn with_lock<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> io::Result<R> {
        self.region.with_lock(|words| {
            let len = len_of(words)?;
            let mut items: Vec<u32> = words[1..=len].iter().map(|&w| w as u32).collect();
            let r = f(&mut items);
            let capacity = words.len() - 1;
            if items.len() > capacity {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the closure left {} items in a shared list of capacity {capacity}: \
                         the list is unchanged; leave at most {capacity}",
                        items.len()
                    ),
                ));
            }
            for (word, &x) in words[1..].iter_mut().zip(&items) {
                *word = u64::from(x);
            }
            words[0] = items.len() as u64;
            Ok(r)
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_handles_share_one_fifo_list() {
        let a = RobustList::create(3).unwrap();
        let b = RobustList::attach(&a.token()).unwrap();
        assert_eq!(b.capacity(), 3);
        a.add(1).unwrap();
        b.add(2).unwrap();
        a.add(3).unwrap();
        let e = b.add(4).unwrap_err();
        assert!(e.to_string().contains("is full (3 items)"), "{e}");
        assert_eq!(a.snapshot().unwrap(), vec![1, 2, 3]);
        assert_eq!(b.remove().unwrap(), Some(1));
        assert_eq!(a.snapshot().unwrap(), vec![2, 3]);
        assert_eq!(a.remove().unwrap(), Some(2));
        assert_eq!(b.remove().unwrap(), Some(3));
        assert_eq!(b.remove().unwrap(), None);
        b.add(5).unwrap();
        assert_eq!(a.with_lock(|items| items.pop()).unwrap(), Some(5));
        let e = a.with_lock(|items| items.extend([1, 2, 3, 4])).unwrap_err();
        assert!(e.to_string().contains("leave at most 3"), "{e}");
        assert_eq!(b.snapshot().unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn attach_refuses_an_array() {
        use racecourse_spec::shm_array::ShmArray;
        let array = crate::process::shm_array::RobustArray::create(2).unwrap();
        let e = RobustList::attach(&array.token()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("does not name a shared list"), "{e}");
    }

    #[test]
    fn a_count_past_the_capacity_is_refused() {
        let a = RobustList::create(2).unwrap();
        a.region.with_lock(|w| w[0] = 9).unwrap();
        let e = a.remove().unwrap_err();
        assert!(
            e.to_string().contains("holds 9 items but has room for 2"),
            "{e}"
        );
    }
}
