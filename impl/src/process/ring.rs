//! A byte stream through shared memory: [`Ring`], for one writer and one reader at a
//! time, in any two processes that map it; how a side that must wait sleeps is the
//! caller's ([`Park`]).
//!
//! ```
//! use racecourse_impl::process::ring::{Futex, Ring};
//! use racecourse_impl::process::shm::SharedMemory;
//!
//! # fn main() {
//! let memory = SharedMemory::create(Ring::bytes_for(4096)).unwrap();
//! // SAFETY: the region is new, zero-filled, page-aligned and large enough.
//! let ring = unsafe { Ring::init(memory.as_ptr(), memory.len(), 4096) }.unwrap();
//! ring.write_all(&[b"hello, ", b"ring"], &Futex).unwrap();
//! let mut got = [0; 11];
//! ring.read_exact(&mut got, &Futex).unwrap();
//! assert_eq!(&got, b"hello, ring");
//! # }
//! ```
//!
//! # Why
//! An OS pipe costs a system call per `write` and per `read` at both ends, and on this
//! project's machines (virtual machines where a system call costs microseconds) that,
//! not copying, is the price of a small message: a bare pipe ping-pong does about 20k
//! round trips a second. Through shared memory, a message costs a copy in and a copy
//! out, and a system call only when the other side is asleep and must be woken.
//!
//! # How
//! The ring is `capacity` bytes (a power of two) after a header holding two counters,
//! each on its own cache line: `tail`, the bytes ever written, and `head`, the bytes
//! ever read. The writer copies behind `tail` and then publishes the new `tail`
//! (release); the reader copies from `head` up to the `tail` it loaded (acquire) and
//! then publishes the new `head`. `tail - head` is what the ring holds, at most
//! `capacity`. Only one writer and one reader may use the ring at once: the caller
//! makes sure of it (a `&mut` end, or a lock per side).
//!
//! # Waiting
//! A side that cannot go on (the reader before enough bytes arrived, the writer while
//! the ring is full) first spins for [`SPIN`] (the other side, on another core, is
//! often microseconds away from the step it waits for), then announces it sleeps (a
//! flag in the header, one per side), looks again, and parks ([`Park::park`]). It
//! skips the spin when the other side last published from the CPU the waiter is
//! running on: the other side is then most likely queued behind the waiter on that
//! CPU (or asleep), and a spin would only delay it. Each side records that CPU
//! (`sched_getcpu`, no system call) on its own counter's line as it publishes. On a
//! machine with few cores the two sides often share one (a pipe's wake-up pulls the
//! woken side to the waker's CPU); without this, each hand-off between them burned a
//! whole spin (a ping-pong at a tenth of a bare pipe's rate). The
//! other side, after each step, looks at the flag and wakes the sleeper
//! ([`Park::unpark`]) only if it is set: a stream that flows costs no system call.
//! Both the announcement and the look are sequentially consistent, so either the
//! sleeper sees the step or the stepper sees the flag (no lost wake-up). A park may
//! return early (a stale wake-up): the sleeper looks again.
//!
//! [`Futex`] parks on the flag itself (for sides that live as long as the ring, as a
//! queue's do); a pipe parks on an OS pipe of its own, whose end of file tells it that
//! the peer is gone ([`Park::park`] returns an error, and the caller decides what is
//! left to read).

use std::hint;
use std::io;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a side spins before it parks: long enough for a peer on another core to
/// take its next step, short enough not to matter when the peer is far away.
pub const SPIN: Duration = Duration::from_micros(50);

/// Marks an initialised [`Header`].
const MAGIC: u64 = 0x7263_5269_6e67_0002; // "rcRing", version 2

/// One side's counter and the CPU it last published from, on a cache line of its own
/// (no false sharing between the two sides).
#[repr(C, align(64))]
struct Line {
    counter: AtomicU64,
    /// The CPU plus one (0: not known yet) of the side's last publication.
    cpu: AtomicU32,
}

impl Line {
    /// Publishes `counter` (release), noting the CPU we publish from first.
    fn publish(&self, counter: u64) {
        let cpu = current_cpu();
        if self.cpu.load(Ordering::Relaxed) != cpu {
            self.cpu.store(cpu, Ordering::Relaxed);
        }
        self.counter.store(counter, Ordering::Release);
    }
}

/// The CPU this thread runs on now, plus one; 0 when it cannot be known.
fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes nothing and returns the CPU number or -1.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).map_or(0, |cpu| cpu.wrapping_add(1))
}

/// The ring's header, at the start of its region.
#[repr(C)]
struct Header {
    magic: AtomicU64,
    capacity: AtomicU64,
    /// Bytes ever written (the writer's line).
    tail: Line,
    /// Bytes ever read (the reader's line).
    head: Line,
    /// 1 while the reader is (about to be) parked waiting for bytes.
    reader_parked: AtomicU32,
    /// 1 while the writer is (about to be) parked waiting for room.
    writer_parked: AtomicU32,
}

/// The header's size, rounded up to a cache line: the data starts there.
const HEADER: usize = std::mem::size_of::<Header>().next_multiple_of(64);

/// How a side that must wait sleeps, and how the other side wakes it.
pub trait Park {
    /// Why parking or waking failed (a pipe's peer is gone, say).
    type Error;

    /// Sleeps until [`unpark`](Self::unpark) is called for `flag` (by the other side),
    /// or earlier: it must return at once if `flag` is no longer 1, and may return
    /// for no reason at all (the caller looks again).
    ///
    /// # Errors
    /// When the other side can never wake it (it is gone).
    fn park(&self, flag: &AtomicU32) -> Result<(), Self::Error>;

    /// Wakes the side parked on `flag` (called once the flag was seen set, and
    /// cleared).
    ///
    /// # Errors
    /// When the other side cannot be reached (it is gone).
    fn unpark(&self, flag: &AtomicU32) -> Result<(), Self::Error>;
}

/// Parks on the flag itself with `FUTEX_WAIT`, shared between processes: for sides
/// that never need to learn that the other one is gone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Futex;

impl Park for Futex {
    type Error = std::convert::Infallible;

    fn park(&self, flag: &AtomicU32) -> Result<(), Self::Error> {
        futex_wait(flag, 1);
        Ok(())
    }

    fn unpark(&self, flag: &AtomicU32) -> Result<(), Self::Error> {
        futex_wake_all(flag);
        Ok(())
    }
}

/// `FUTEX_WAIT` on `word` while it is `expected` (shared between processes: not
/// `FUTEX_PRIVATE`, the waker is in another process). Returns at once if the word is
/// not `expected`, on a wake-up, or on a signal.
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a 4-byte aligned word we hold a reference to, with no
    // timeout; the kernel only reads the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// `FUTEX_WAKE` of every sleeper on `word`, in any process.
pub fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a 4-byte aligned word we hold a reference to; it reads
    // nothing else.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

/// A view of a ring in shared memory (see the module docs); as many views as there
/// are processes (or threads) using the ring, one writer and one reader at a time.
#[derive(Debug, Clone, Copy)]
pub struct Ring<'a> {
    header: &'a Header,
    data: *mut u8,
    capacity: u64,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("tail", &self.tail.counter.load(Ordering::Relaxed))
            .field("head", &self.head.counter.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

// SAFETY: a Ring is a view of shared memory that other processes write at any time;
// every access through it is an atomic or a copy of a range the protocol gives to
// the side that copies, so using it from another thread adds no hazard.
unsafe impl Send for Ring<'_> {}
// SAFETY: as above.
unsafe impl Sync for Ring<'_> {}

impl<'a> Ring<'a> {
    /// The bytes a ring of `capacity` data bytes takes in its region.
    pub const fn bytes_for(capacity: usize) -> usize {
        HEADER + capacity
    }

    /// Initialises a ring of `capacity` bytes (a power of two, at least 64) at `base`.
    ///
    /// # Errors
    /// `InvalidInput` for a capacity that is not a power of two, or a region too small.
    ///
    /// # Safety
    /// `base` must be 64-byte aligned, valid for reads and writes of `len` bytes for
    /// `'a`, zero-filled, and not yet used by any other view (no other process may
    /// use it before this returns).
    pub unsafe fn init(base: *mut u8, len: usize, capacity: usize) -> io::Result<Ring<'a>> {
        if !capacity.is_power_of_two() || capacity < 64 || len < Self::bytes_for(capacity) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a ring needs a power-of-two capacity of at least 64 bytes and {} bytes of region for it (capacity {capacity}, region {len})",
                    Self::bytes_for(capacity)
                ),
            ));
        }
        // SAFETY: the caller gives us `base` aligned, valid and zero-filled (a valid
        // Header: all its fields are atomics, for which zero is a value).
        let header = unsafe { &*base.cast::<Header>() };
        header.capacity.store(capacity as u64, Ordering::Relaxed);
        header.magic.store(MAGIC, Ordering::Release);
        // SAFETY: as above; the checks on `len` cover the data.
        unsafe { Self::view(base, len) }
    }

    /// A view of the ring [`init`](Self::init) made at `base` (in this process or
    /// another one that maps the same memory).
    ///
    /// # Errors
    /// `InvalidData` if the region holds no initialised ring, or one larger than it.
    ///
    /// # Safety
    /// `base` must be 64-byte aligned and valid for reads and writes of `len` bytes
    /// for `'a`, and nothing but ring views may write to it.
    pub unsafe fn view(base: *mut u8, len: usize) -> io::Result<Ring<'a>> {
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the shared region holds no ring ({what}): attach the region the ring was made in"),
            )
        };
        if len < HEADER {
            return Err(invalid("too small"));
        }
        // SAFETY: aligned and valid for `HEADER` bytes (checked), and a Header is all
        // atomics: any bytes are a value.
        let header = unsafe { &*base.cast::<Header>() };
        if header.magic.load(Ordering::Acquire) != MAGIC {
            return Err(invalid("not initialised"));
        }
        let capacity = header.capacity.load(Ordering::Relaxed);
        if !capacity.is_power_of_two() || (len as u64) < HEADER as u64 + capacity {
            return Err(invalid("a capacity larger than the region"));
        }
        Ok(Ring {
            header,
            // SAFETY: HEADER < len (checked above), so the pointer stays in the region.
            data: unsafe { base.add(HEADER) },
            capacity,
        })
    }

    /// The ring's capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// The bytes in the ring now (written and not yet read).
    pub fn len(&self) -> usize {
        let tail = self.header.tail.counter.load(Ordering::Acquire);
        let head = self.header.head.counter.load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    /// Whether the ring holds no byte now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies as much of `bytes` as fits now and publishes it; returns how much.
    /// Writer side only.
    pub fn try_write(&self, bytes: &[u8]) -> usize {
        let tail = self.header.tail.counter.load(Ordering::Relaxed);
        let head = self.header.head.counter.load(Ordering::Acquire);
        let room = self.capacity - tail.wrapping_sub(head);
        let n = (bytes.len() as u64).min(room) as usize;
        if n == 0 {
            return 0;
        }
        let at = (tail & (self.capacity - 1)) as usize;
        let first = n.min(self.capacity as usize - at);
        // SAFETY: the `n` bytes from `tail` (modulo capacity) are free (the reader
        // finished with them: `head` was loaded with acquire), and only the writer
        // touches them until `tail` is published below; both ranges are in the data.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.add(at), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), self.data, n - first);
        }
        self.header.tail.publish(tail.wrapping_add(n as u64));
        n
    }

    /// Copies as many bytes as are there now, up to `into.len()`, and frees them;
    /// returns how many. Reader side only.
    pub fn try_read(&self, into: &mut [u8]) -> usize {
        let head = self.header.head.counter.load(Ordering::Relaxed);
        let tail = self.header.tail.counter.load(Ordering::Acquire);
        let n = (into.len() as u64).min(tail.wrapping_sub(head)) as usize;
        if n == 0 {
            return 0;
        }
        let at = (head & (self.capacity - 1)) as usize;
        let first = n.min(self.capacity as usize - at);
        // SAFETY: the `n` bytes from `head` were published by the writer (`tail`
        // loaded with acquire) and stay as they are until `head` is published below;
        // both ranges are in the data, `into` is ours.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data.add(at), into.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(self.data, into.as_mut_ptr().add(first), n - first);
        }
        self.header.head.publish(head.wrapping_add(n as u64));
        n
    }

    /// Writes all of `parts`, in order, waiting for room as needed; the reader is
    /// woken if it sleeps. Writer side only.
    ///
    /// # Errors
    /// The [`Park`]'s error when the reader is gone; some of the bytes may have been
    /// written.
    pub fn write_all<P: Park>(&self, parts: &[&[u8]], park: &P) -> Result<(), P::Error> {
        for part in parts {
            let mut rest = *part;
            loop {
                let n = self.try_write(rest);
                rest = &rest[n..];
                if rest.is_empty() {
                    break;
                }
                // The reader may be asleep waiting for what we wrote: wake it before
                // we sleep waiting for it.
                self.wake(&self.header.reader_parked, park)?;
                self.wait(&self.header.writer_parked, &self.header.head, park, || {
                    self.len() < self.capacity()
                })?;
            }
        }
        self.wake(&self.header.reader_parked, park)
    }

    /// Reads exactly `into.len()` bytes, waiting for them as needed; the writer is
    /// woken if it sleeps. Reader side only.
    ///
    /// # Errors
    /// The [`Park`]'s error when the writer is gone and the ring holds fewer bytes
    /// than asked for: `Err((error, read))`, `read` being how many were read (and
    /// copied into `into`) before.
    pub fn read_exact<P: Park>(&self, into: &mut [u8], park: &P) -> Result<(), (P::Error, usize)> {
        let mut filled = 0;
        loop {
            filled += self.try_read(&mut into[filled..]);
            if filled == into.len() {
                break;
            }
            self.wake(&self.header.writer_parked, park)
                .map_err(|e| (e, filled))?;
            if let Err(e) = self.wait(&self.header.reader_parked, &self.header.tail, park, || {
                !self.is_empty()
            }) {
                // The writer is gone; whatever it wrote before is in the ring.
                filled += self.try_read(&mut into[filled..]);
                if filled == into.len() {
                    break;
                }
                return Err((e, filled));
            }
        }
        self.wake(&self.header.writer_parked, park)
            .map_err(|e| (e, filled))
    }

    /// Wakes the side parked on `flag`, if it announced it sleeps.
    fn wake<P: Park>(&self, flag: &AtomicU32, park: &P) -> Result<(), P::Error> {
        // Orders our last publication before the look at the flag (the sleeper
        // orders its flag before its look at our counter): one of us sees the other.
        fence(Ordering::SeqCst);
        if flag.load(Ordering::Relaxed) == 1 && flag.swap(0, Ordering::SeqCst) == 1 {
            park.unpark(flag)?;
        }
        Ok(())
    }

    /// Waits until `ready()`: spins for [`SPIN`] (unless `peer`, the other side's
    /// line, says it last ran on our CPU), then parks on `flag` until woken.
    fn wait<P: Park>(
        &self,
        flag: &AtomicU32,
        peer: &Line,
        park: &P,
        ready: impl Fn() -> bool,
    ) -> Result<(), P::Error> {
        let cpu = current_cpu();
        if cpu != 0 && peer.cpu.load(Ordering::Relaxed) == cpu {
            return self.sleep(flag, park, &ready);
        }
        let start = Instant::now();
        let mut spins = 0u32;
        while !ready() {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() >= SPIN {
                return self.sleep(flag, park, &ready);
            }
            hint::spin_loop();
        }
        Ok(())
    }

    /// Parks on `flag` until `ready()` (see the module docs).
    fn sleep<P: Park>(
        &self,
        flag: &AtomicU32,
        park: &P,
        ready: &impl Fn() -> bool,
    ) -> Result<(), P::Error> {
        loop {
            flag.store(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if ready() {
                flag.store(0, Ordering::Relaxed);
                return Ok(());
            }
            let parked = park.park(flag);
            flag.store(0, Ordering::Relaxed);
            parked?;
            if ready() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::shm::SharedMemory;

    fn ring(memory: &SharedMemory, capacity: usize) -> Ring<'_> {
        // SAFETY: the region is new, zero-filled, page-aligned and large enough.
        unsafe { Ring::init(memory.as_ptr(), memory.len(), capacity) }.unwrap()
    }

    #[test]
    fn bytes_wrap_around_the_end() {
        let memory = SharedMemory::create(Ring::bytes_for(64)).unwrap();
        let ring = ring(&memory, 64);
        let mut got = [0; 40];
        for round in 0..10u8 {
            let bytes: Vec<u8> = (0..40).map(|i| i ^ round).collect();
            assert_eq!(ring.try_write(&bytes), 40);
            assert_eq!(ring.try_write(&bytes), 24, "only the rest of 64 bytes fits");
            assert_eq!(ring.try_read(&mut got), 40);
            assert_eq!(got.to_vec(), bytes);
            assert_eq!(ring.try_read(&mut got[..24]), 24);
            assert_eq!(&got[..24], &bytes[..24]);
            assert!(ring.is_empty());
        }
    }

    #[test]
    fn a_stream_larger_than_the_ring_flows_between_threads() {
        let memory = SharedMemory::create(Ring::bytes_for(256)).unwrap();
        let ring = ring(&memory, 256);
        let sent: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut got = vec![0; sent.len()];
        std::thread::scope(|s| {
            s.spawn(|| {
                for chunk in sent.chunks(1000) {
                    ring.write_all(&[&chunk[..10], &chunk[10..]], &Futex)
                        .unwrap();
                }
            });
            for chunk in got.chunks_mut(777) {
                ring.read_exact(chunk, &Futex).unwrap();
            }
        });
        assert!(got == sent, "the stream arrived changed");
    }

    #[test]
    fn a_view_checks_the_region() {
        let memory = SharedMemory::create(Ring::bytes_for(128)).unwrap();
        // SAFETY: the region is page-aligned, large enough and used by no one else.
        unsafe {
            let e = Ring::view(memory.as_ptr(), memory.len()).unwrap_err();
            assert!(e.to_string().contains("not initialised"), "{e}");
            let e = Ring::init(memory.as_ptr(), memory.len(), 100).unwrap_err();
            assert!(e.to_string().contains("power-of-two"), "{e}");
            Ring::init(memory.as_ptr(), memory.len(), 128).unwrap();
            assert_eq!(
                Ring::view(memory.as_ptr(), memory.len())
                    .unwrap()
                    .capacity(),
                128
            );
            let e = Ring::view(memory.as_ptr(), Ring::bytes_for(64)).unwrap_err();
            assert!(e.to_string().contains("larger than the region"), "{e}");
        }
    }

    /// A park that fails once the writer is gone: the reader gets what was written,
    /// then the error and how many bytes it read.
    #[test]
    fn a_gone_writer_ends_a_read_with_what_it_wrote() {
        struct Gone;
        impl Park for Gone {
            type Error = &'static str;
            fn park(&self, _: &AtomicU32) -> Result<(), &'static str> {
                Err("gone")
            }
            fn unpark(&self, _: &AtomicU32) -> Result<(), &'static str> {
                Ok(())
            }
        }
        let memory = SharedMemory::create(Ring::bytes_for(64)).unwrap();
        let ring = ring(&memory, 64);
        ring.write_all(&[b"abc"], &Gone).unwrap();
        let mut got = [0; 5];
        assert_eq!(ring.read_exact(&mut got, &Gone), Err(("gone", 3)));
        assert_eq!(&got[..3], b"abc");
    }
}
