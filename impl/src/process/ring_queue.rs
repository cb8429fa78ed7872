//! The E5 process Queue reference: [`RingQueue`], a byte stream in shared memory (a
//! [`Ring`]) shared by every producer and consumer, with length-prefixed frames, two
//! process-shared locks and a counting semaphore beside it for the bound.
//!
//! ```
//! use racecourse_impl::process::ring_queue::RingQueue;
//! use racecourse_spec::child_processes::Child;
//! use racecourse_spec::process_queue::{ProcessQueue, QueueHandle};
//!
//! fn producer((handle, n): (QueueHandle, u32)) -> Result<u32, String> {
//!     let queue = RingQueue::open(handle).map_err(|e| e.to_string())?;
//!     for i in 0..n {
//!         queue.put(&i.to_le_bytes()).map_err(|e| e.to_string())?;
//!     }
//!     Ok(n)
//! }
//! racecourse_impl::job!(static PRODUCER: fn((QueueHandle, u32)) -> u32 = producer);
//!
//! # fn main() {
//! let queue = RingQueue::new(2).unwrap();
//! let child = queue.spawn(&PRODUCER, 5).unwrap();
//! for i in 0..5u32 {
//!     assert_eq!(queue.get().unwrap(), i.to_le_bytes());
//! }
//! assert_eq!(child.join(), Ok(5));
//! # }
//! ```
//!
//! # Why
//! Issue 10 asks for round trips of small items at least 5 times Python's
//! `multiprocessing.Queue`. On this project's machines a system call costs
//! microseconds, and a bare OS-pipe ping-pong does 16-20k round trips a second: no
//! queue whose items pass through an OS pipe (as [`PipeQueue`]'s do) gets there.
//! Through shared memory an item costs a copy in and a copy out, and a system call
//! only when the other side sleeps and must be woken.
//!
//! # Design
//! One memfd ([`SharedMemory`]) holds a `Control` block, the one [`PipeQueue`] has
//! (the bound's semaphore and the two robust locks, the same code), and after it a
//! [`Ring`] of [`RING_BYTES`] (1 MiB: far more than [`MIN_BUFFER`], so 64 KiB items
//! pipeline).
//! - **The stream**: an item is a frame in the ring, a 4-byte little-endian length
//!   and the bytes.
//! - **Writers' lock**: a `put` takes a slot of the bound, then writes its frame
//!   whole while holding the writers' robust mutex: the writers are one writer, as
//!   the ring's one-writer rule asks. An item larger than the ring streams through
//!   it while a `get` reads it.
//! - **Readers' lock**: a `get` reads exactly one frame (the header, the length
//!   checked against [`MAX_ITEM`], then exactly that many bytes) while holding the
//!   other mutex, then gives the slot back.
//! - **Waiting** is the ring's: a side that cannot go on spins for
//!   [`SPIN`](super::ring::SPIN) (50 µs), then announces it sleeps and parks on a
//!   futex ([`Futex`]); the other side wakes it only if it announced it. A flowing
//!   queue makes no system call: a round trip between two processes that each have
//!   a core is a few copies and cache-line transfers. The bound waits as
//!   [`PipeQueue`]'s does (a futex on the free slots, woken by a `get` only if a
//!   `put` sleeps there); the locks wait in the kernel only when contended.
//! - **Children**: [`ProcessQueue::spawn`] passes a copy of the memfd under its own
//!   number ([`spawn_with_fds`]), and the handle is `rqueue:<fd>`; the child's
//!   [`open`](ProcessQueue::open) takes the fd ([`take_fd`]: close-on-exec again),
//!   maps it ([`SharedMemory::adopt`]) and checks both magics. It keeps the fd open, so
//!   a child can spawn with the queue it opened. The memfd is freed with its last fd
//!   and mapping.
//!
//! # A process that dies
//! The locks are robust: a process that dies holding one does not block the others,
//! the next locker recovers the lock. What it protected is as the dead process left
//! it: a producer that died in the middle of a `put` leaves a cut frame in the
//! stream (the next `get` waits for bytes that belong to the next frames, or reads
//! garbage), and a consumer that died in the middle of a `get` leaves the rest of its
//! frame, which the next `get` reads as a header. Either may also leave a slot of the
//! bound taken for ever. The ring itself stays consistent (a side publishes only the
//! bytes it copied). [`PipeQueue`] and Python's Queue have the same hazards; the
//! contract does not ask for more.

use std::os::fd::{AsRawFd, OwnedFd};

use racecourse_spec::job::{Job, Wire};
use racecourse_spec::process_queue::{ProcessQueue, QueueError, QueueHandle, MAX_ITEM, MIN_BUFFER};

use super::pipe::take_fd;
use super::process_queue::{failed, spawn_with_fds, Control, PipeQueue, QueueChild, HEADER};
use super::ring::{Futex, Ring};
use super::shm::SharedMemory;

/// The ring's capacity in bytes (1 MiB).
pub const RING_BYTES: usize = 1 << 20;

const _: () = assert!(RING_BYTES >= MIN_BUFFER + HEADER);

/// Where the ring starts in the region: after the control block, on a cache line.
const RING_AT: usize = Control::BYTES.next_multiple_of(64);

/// Marks an initialised [`Control`] of a [`RingQueue`].
const MAGIC: u32 = 0x5251_7565; // "RQue"

/// The token prefix of a [`RingQueue`] handle.
const TOKEN: &str = "rqueue";

/// A FIFO queue of byte items shared by processes, through shared memory (see the
/// module docs).
#[derive(Debug)]
pub struct RingQueue {
    /// A view of the ring in `memory`, valid while `memory` lives. Private: it is
    /// handed out only for as long as `&self` is borrowed.
    ring: Ring<'static>,
    memory: SharedMemory,
}

impl RingQueue {
    /// A queue of capacity `capacity` whose ring holds `ring_bytes` (a power of two,
    /// at least 64): [`new`](ProcessQueue::new) with [`RING_BYTES`]; smaller rings for
    /// tests.
    ///
    /// # Errors
    /// [`QueueError`] if the OS refuses the memory, or for a ring size that is not a
    /// power of two of at least 64 bytes.
    pub fn with_ring(capacity: usize, ring_bytes: usize) -> Result<Self, QueueError> {
        let capacity = Control::bound(capacity)?;
        let memory = SharedMemory::create(RING_AT + Ring::bytes_for(ring_bytes))
            .map_err(|e| failed("making the queue's shared memory", e))?;
        // SAFETY: the region is new, zero-filled and page-aligned, `RING_AT` is a
        // multiple of 64, the ring's part is `len - RING_AT` bytes of it, after the
        // control block, and no other process knows the region yet. The view's
        // `'static` stands for "as long as `memory`": both go into the queue, and
        // `ring()` hands the view out only for a borrow of it.
        let ring = unsafe {
            Ring::init(
                memory.as_ptr().add(RING_AT),
                memory.len() - RING_AT,
                ring_bytes,
            )
        }
        .map_err(|e| failed("making the queue's ring", e))?;
        // SAFETY: as above; the control block is initialised once, here, last (its
        // magic says the ring is ready too).
        unsafe { Control::init(&memory, capacity, MAGIC) }?;
        Ok(RingQueue { ring, memory })
    }

    fn control(&self) -> &Control {
        Control::of(&self.memory)
    }

    /// The ring, for as long as `self` is borrowed.
    fn ring(&self) -> Ring<'_> {
        self.ring
    }

    /// The capacity the queue was made with (0: unbounded).
    pub fn capacity(&self) -> usize {
        self.control().capacity()
    }

    /// The memfd's number in this process, for a look in `/proc`.
    pub fn raw_fd(&self) -> Option<i32> {
        self.memory.fd().map(AsRawFd::as_raw_fd)
    }

    /// What a child of this queue gets: its handle's token and the fd to pass under
    /// its own number (a copy of the memfd, close-on-exec here).
    ///
    /// # Errors
    /// [`QueueError`] if the memfd cannot be copied.
    pub fn for_child(&self) -> Result<(String, Vec<OwnedFd>), QueueError> {
        let fd = self
            .memory
            .fd()
            .ok_or_else(|| QueueError("the queue's memory has no fd left to pass".into()))?
            .try_clone()
            .map_err(|e| failed("copying the queue's memfd for the child", e))?;
        Ok((format!("{TOKEN}:{}", fd.as_raw_fd()), vec![fd]))
    }

    /// Maps the queue region whose memfd is `fd` (handed over under its own number),
    /// checking it is a ring queue's.
    fn adopt(fd: i32) -> Result<Self, QueueError> {
        let not_ours = |why: &str| {
            QueueError(format!(
                "fd {fd} is not a ring queue's shared memory ({why}): pass the handle the job was given"
            ))
        };
        let fd = take_fd(fd, Some(libc::S_IFREG), "QueueHandle")
            .map_err(|e| QueueError(e.to_string()))?;
        let memory =
            SharedMemory::adopt(fd).map_err(|e| failed("mapping the queue's shared memory", e))?;
        if memory.len() < RING_AT + Ring::bytes_for(64) {
            return Err(not_ours("too small"));
        }
        if !Control::of(&memory).is(MAGIC) {
            return Err(not_ours("no queue's mark in it"));
        }
        // SAFETY: the region is page-aligned, `RING_AT` a multiple of 64 inside it,
        // and only queue handles (ring views) write to the ring's part. `'static`
        // stands for "as long as `memory`", as in `with_ring`.
        let ring = unsafe { Ring::view(memory.as_ptr().add(RING_AT), memory.len() - RING_AT) }
            .map_err(|e| not_ours(&e.to_string()))?;
        Ok(RingQueue { ring, memory })
    }
}

/// `Ok` of a ring call that parks on a [`Futex`], which cannot fail.
fn infallible<T>(result: Result<T, std::convert::Infallible>) -> T {
    match result {
        Ok(t) => t,
        Err(never) => match never {},
    }
}

impl ProcessQueue for RingQueue {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        Self::with_ring(capacity, RING_BYTES)
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        let (token, pass) = self.for_child()?;
        spawn_with_fds(job, arg, token, pass)
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        let fd = handle
            .0
            .strip_prefix(TOKEN)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|fd| fd.parse().ok())
            .ok_or_else(|| {
                QueueError(format!(
                    "`{}` is not a handle of this queue type (`{TOKEN}:<fd>`): pass the handle the job was given",
                    handle.0
                ))
            })?;
        Self::adopt(fd)
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        let len = PipeQueue::item_len(item)?;
        let control = self.control();
        control.take_slot();
        let writers = match control.writers.lock() {
            Ok(guard) => guard,
            Err(e) => {
                control.give_slot();
                return Err(failed("taking the writers' lock", e));
            }
        };
        infallible(self.ring().write_all(&[&len.to_le_bytes(), item], &Futex));
        drop(writers);
        Ok(())
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        let control = self.control();
        let item = {
            let _readers = control
                .readers
                .lock()
                .map_err(|e| failed("taking the readers' lock", e))?;
            let ring = self.ring();
            let mut header = [0; HEADER];
            infallible(ring.read_exact(&mut header, &Futex).map_err(|(e, _)| e));
            let len = u32::from_le_bytes(header) as usize;
            if len > MAX_ITEM {
                return Err(QueueError(format!(
                    "an item announced {len} bytes, more than the {MAX_ITEM} an item may have: the stream is corrupt (a process died in the middle of a put or a get?)"
                )));
            }
            let mut item = vec![0; len];
            infallible(ring.read_exact(&mut item, &Futex).map_err(|(e, _)| e));
            item
        };
        control.give_slot();
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_keep_their_boundaries_across_the_wrap() {
        // 1 KiB of ring, items of 0 to 600 bytes: the frames cross the end of the
        // ring again and again.
        let queue = RingQueue::with_ring(0, 1024).unwrap();
        for round in 0..200usize {
            let sizes = [round % 7, 8, 300 + round % 301];
            for (i, &n) in sizes.iter().enumerate() {
                queue.put(&vec![(round + i) as u8; n]).unwrap();
            }
            for (i, &n) in sizes.iter().enumerate() {
                assert_eq!(
                    queue.get().unwrap(),
                    vec![(round + i) as u8; n],
                    "round {round}"
                );
            }
        }
    }

    #[test]
    fn items_larger_than_the_ring_stream_through_it() {
        let queue = Arc::new(RingQueue::with_ring(0, 4096).unwrap());
        let sizes = [0, 1, 8, 5000, 200_000, 0, 4092, 4093, 3];
        let item =
            |i: usize, n: usize| -> Vec<u8> { (0..n).map(|j| (j * 31 + i * 7) as u8).collect() };
        let producer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                for (i, &n) in sizes.iter().enumerate() {
                    queue.put(&item(i, n)).unwrap();
                }
            })
        };
        for (i, &n) in sizes.iter().enumerate() {
            assert!(queue.get().unwrap() == item(i, n), "item {i} of {n} bytes");
        }
        producer.join().unwrap();
    }

    #[test]
    fn the_bound_blocks_a_put_and_a_get_wakes_it() {
        let queue = Arc::new(RingQueue::new(2).unwrap());
        assert_eq!(queue.capacity(), 2);
        queue.put(b"a").unwrap();
        queue.put(b"b").unwrap();
        assert_eq!(queue.control().free(), 0);
        let returned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let producer = {
            let (queue, returned) = (Arc::clone(&queue), Arc::clone(&returned));
            std::thread::spawn(move || {
                queue.put(b"c").unwrap();
                returned.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !returned.load(std::sync::atomic::Ordering::SeqCst),
            "a put returned into a full queue"
        );
        assert_eq!(queue.get().unwrap(), b"a");
        producer.join().unwrap();
        assert_eq!(queue.get().unwrap(), b"b");
        assert_eq!(queue.get().unwrap(), b"c");
        assert_eq!(queue.control().free(), 2);
    }

    #[test]
    fn a_get_waits_for_a_put() {
        let queue = Arc::new(RingQueue::new(0).unwrap());
        let consumer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.get().unwrap())
        };
        // Long enough for the consumer to spin out and park on the futex.
        std::thread::sleep(std::time::Duration::from_millis(20));
        queue.put(b"late").unwrap();
        assert_eq!(consumer.join().unwrap(), b"late");
    }

    #[test]
    fn handles_are_checked() {
        for bad in [
            "pqueue:3:4:x",
            "rqueue",
            "rqueue:",
            "rqueue:x",
            "rqueue:3:4",
            "ring:3",
        ] {
            let e = RingQueue::open(QueueHandle(bad.into())).unwrap_err();
            assert!(e.0.contains("pass the handle"), "{bad}: {e}");
        }
        // A memfd that is no queue's: refused by its magic.
        let other = SharedMemory::create(RING_AT + Ring::bytes_for(64)).unwrap();
        let fd = other.fd().unwrap().try_clone().unwrap();
        let token = format!("rqueue:{}", std::os::fd::IntoRawFd::into_raw_fd(fd));
        let e = RingQueue::open(QueueHandle(token)).unwrap_err();
        assert!(e.0.contains("not a ring queue's shared memory"), "{e}");
        // A pipe queue's region is not a ring queue's either.
        let pipe = PipeQueue::new(0).unwrap();
        let (token, fds) = pipe.for_child().unwrap();
        drop(fds);
        assert!(RingQueue::open(QueueHandle(token)).is_err());
    }

    #[test]
    fn the_child_gets_the_memfd_and_nothing_else() {
        let queue = RingQueue::new(0).unwrap();
        let (token, fds) = queue.for_child().unwrap();
        assert_eq!(fds.len(), 1);
        assert_eq!(token, format!("rqueue:{}", fds[0].as_raw_fd()));
        assert_ne!(Some(fds[0].as_raw_fd()), queue.raw_fd(), "a copy, not ours");
    }
}
