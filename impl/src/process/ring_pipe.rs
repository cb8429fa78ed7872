//! The E5 Pipe reference (processes): [`RingPipe`], two [`Ring`]s in one shared
//! region, one each way, with OS pipes as doorbells for the side that sleeps and for
//! the end of the stream.
//!
//! ```
//! use racecourse_impl::process::ring_pipe::RingPipe;
//! use racecourse_spec::child_processes::Child;
//! use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError};
//!
//! fn echo((end, n): (ChildEnd, u32)) -> Result<u32, String> {
//!     let mut pipe = RingPipe::open(end).map_err(|e| e.to_string())?;
//!     for _ in 0..n {
//!         let message = pipe.recv().map_err(|e| e.to_string())?;
//!         pipe.send(&message).map_err(|e| e.to_string())?;
//!     }
//!     Ok(n)
//! }
//! racecourse_impl::job!(static ECHO: fn((ChildEnd, u32)) -> u32 = echo);
//!
//! # fn main() {
//! let (mut parent, child) = RingPipe::spawn(&ECHO, 2).unwrap();
//! parent.send(b"").unwrap();
//! parent.send(&[7; 300_000]).unwrap(); // more than the ring holds: it streams
//! assert_eq!(parent.recv().unwrap(), b"");
//! assert_eq!(parent.recv().unwrap(), vec![7; 300_000]);
//! assert_eq!(child.join(), Ok(2));
//! assert_eq!(parent.recv(), Err(PipeError::EndOfStream));
//! # }
//! ```
//!
//! # Why
//! [`OsPipe`](super::pipe::OsPipe) costs a `write` per `send` and a `read` per `recv`
//! (at least), and on this project's virtual machines the system calls, not the
//! copies, are the price of a small message: no pipe that makes a system call per
//! message can send small messages ten times as fast as Python's `Pipe` does (issue
//! 10). Through shared memory a message costs a copy in and a copy out, and a system
//! call only when the other side sleeps and must be woken.
//!
//! # How
//! The parent makes one memfd region ([`SharedMemory`]) holding two rings of
//! [`CAPACITY`] bytes (ring 0 parent to child, ring 1 child to parent, each with one
//! writer and one reader: the two ends) and a control line with a "closed" flag per
//! side. A message is a frame, as in `OsPipe`: a 4-byte little-endian length, then
//! the bytes, written with one [`Ring::write_all`]; `recv` reads the length, then the
//! message ([`Ring::read_exact`]). A message larger than the ring streams through it
//! while the peer reads (the writer waits for room). 128 KiB is the size of
//! `OsPipe`'s OS pipes, so the suite's "larger than the buffer" messages stay larger.
//!
//! # Sleeping: doorbells
//! A side that must wait (for bytes, or for room) spins for [`SPIN`](super::ring::SPIN),
//! then announces it sleeps and parks (see [`ring`](super::ring)). Here it parks in a
//! `read` of its own *doorbell*, an OS pipe whose only write end the peer holds; the
//! peer wakes it by writing one byte. The write ends are non-blocking (`O_NONBLOCK` on
//! that end only): a doorbell that is full already holds a wake-up, so `EAGAIN` is
//! ignored. A byte that arrives for a sleep that is already over only makes a later
//! sleep look again (stale wake-ups are allowed by [`Park`]). A flowing stream, or two
//! sides that both spin (each process has a core), makes no system call at all.
//!
//! Why pipes and not a futex on the flag ([`Futex`](super::ring::Futex)): a futex
//! sleeper never learns that the peer died. The doorbell's write end lives in the
//! peer's fd table only, so the kernel closes it when the peer closes its end or dies
//! (however it died, `SIGKILL` included), and the sleeper's `read` returns end of
//! file.
//!
//! # The end of the stream, and death
//! - `recv`: a park that reads end of file fails; the ring's `read_exact` then takes
//!   whatever the peer wrote before it went. Nothing at a frame boundary is
//!   [`PipeError::EndOfStream`]; a cut frame (the peer died in the middle of a `send`)
//!   is [`PipeError::Failed`].
//! - `send`: [`PipeError::Closed`] once the peer closed its end (its close sets its
//!   flag in the control line, which every `send` reads: no system call), when waking
//!   a peer that sleeps meets `EPIPE` (it died asleep), or when a wait for room reads
//!   end of file. A peer that died *without* closing, while not asleep, leaves no
//!   trace in shared memory: a `send` whose frame fits in the ring then succeeds, the
//!   message lost with the peer; the next one that must wake it or wait for room
//!   reports `Closed`. Learning it sooner would cost a system call per message, the
//!   very cost this pipe exists to avoid. Once a side saw the peer gone, every later
//!   `send` reports `Closed`.
//! - Like `OsPipe`, a doorbell write to a gone peer relies on `SIGPIPE` being ignored
//!   (Rust's runtime ignores it before `main`, in the workers too): the write fails
//!   with `EPIPE` instead of killing the process.
//!
//! # Passing the end
//! The child gets three fds through [`spawn_child`], under their own numbers: its
//! doorbell's read end, the write end of the parent's doorbell, and the memfd
//! (`ring:<read>:<write>:<memfd>`). [`Pipe::open`] takes them over ([`take_fd`]: open,
//! of the right kind, close-on-exec again, once), maps the memfd
//! ([`SharedMemory::adopt`]) and closes it ([`SharedMemory::close_fd`]: the mapping
//! stays). The parent closes its memfd as soon as the child is started, so neither
//! process holds an fd of the other's end: the region lives in the two mappings only,
//! and is freed with the last of them.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use racecourse_spec::job::{Job, Wire};
use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError};

use super::pipe::{
    failed, frame_header, frame_length, mid_frame, mid_header, os_pipe, parse_token, spawn_child,
    take_fd, PipeChild, HEADER,
};
use super::ring::{Park, Ring};
use super::shm::SharedMemory;

/// The bytes each ring holds (as much as `OsPipe`'s OS pipes).
pub const CAPACITY: usize = 128 * 1024;

/// The token prefix of a [`RingPipe`] child end.
const TOKEN: &str = "ring";

/// Ring `i` starts at `RING_AT[i]` in the region (64-aligned: the ring's header is a
/// multiple of 64 bytes, and so is the capacity).
const RING_AT: [usize; 2] = [0, Ring::bytes_for(CAPACITY)];

/// Where the control line starts.
const CONTROL_AT: usize = 2 * Ring::bytes_for(CAPACITY);

/// The region's size: two rings and the control line.
const REGION: usize = CONTROL_AT + 64;

/// The parent's side number (it writes ring 0 and reads ring 1); the child's is 1.
const PARENT: usize = 0;
const CHILD: usize = 1;

/// The control line: `closed[side]` is 1 once that side closed its end.
#[derive(Debug)]
#[repr(C, align(64))]
struct Control {
    closed: [AtomicU32; 2],
}

/// Why a doorbell could not wait or ring.
#[derive(Debug)]
enum Bell {
    /// The peer's end is gone: end of file on our doorbell, or `EPIPE` on theirs.
    Gone,
    /// Any other OS error.
    Os(io::Error),
}

/// The two OS pipes of one end: our doorbell's read end, and the write end of the
/// peer's (non-blocking).
#[derive(Debug)]
struct Doorbell {
    mine: OwnedFd,
    theirs: OwnedFd,
}

impl Doorbell {
    /// Sleeps in a `read` of our doorbell until the peer rings it (or has rung it
    /// before), or its end closes; returns at once if the flag was cleared already.
    fn wait(&self, flag: &AtomicU32) -> Result<(), Bell> {
        if flag.load(Ordering::SeqCst) != 1 {
            return Ok(());
        }
        // Every byte waiting is a wake-up: take them all, the caller looks again.
        let mut bytes = [0u8; 64];
        // SAFETY: a read into a buffer we own, at most its length.
        let n = unsafe { libc::read(self.mine.as_raw_fd(), bytes.as_mut_ptr().cast(), 64) };
        match n {
            0 => Err(Bell::Gone),
            n if n > 0 => Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(Bell::Os(e))
                }
            }
        }
    }

    /// Writes one byte into the peer's doorbell.
    fn ring(&self) -> Result<(), Bell> {
        loop {
            // SAFETY: a write of one byte from a buffer we own.
            let n = unsafe { libc::write(self.theirs.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
            if n == 1 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                // Full: the peer has wake-ups enough waiting.
                Some(libc::EAGAIN) => return Ok(()),
                Some(libc::EPIPE) => return Err(Bell::Gone),
                _ => return Err(Bell::Os(e)),
            }
        }
    }
}

/// The doorbell as a `send` parks and wakes: a peer that cannot be woken is gone.
struct Sending<'a>(&'a Doorbell);

impl Park for Sending<'_> {
    type Error = Bell;

    fn park(&self, flag: &AtomicU32) -> Result<(), Bell> {
        self.0.wait(flag)
    }

    fn unpark(&self, _: &AtomicU32) -> Result<(), Bell> {
        self.0.ring()
    }
}

/// The doorbell as a `recv` parks and wakes: a writer that cannot be woken because it
/// is gone needs no wake-up, and what it wrote is still to be read (the park that
/// follows reports the end of file).
struct Receiving<'a>(&'a Doorbell);

impl Park for Receiving<'_> {
    type Error = Bell;

    fn park(&self, flag: &AtomicU32) -> Result<(), Bell> {
        self.0.wait(flag)
    }

    fn unpark(&self, _: &AtomicU32) -> Result<(), Bell> {
        match self.0.ring() {
            Err(Bell::Gone) => Ok(()),
            other => other,
        }
    }
}

/// A doorbell pipe: (read end, write end), both close-on-exec, the write end
/// non-blocking.
fn doorbell() -> Result<(OwnedFd, OwnedFd), PipeError> {
    let (read, write) = os_pipe()?;
    // SAFETY: F_SETFL on a pipe end we own; O_NONBLOCK is a status flag of the write
    // end's open file only (the read end is another open file and stays blocking).
    if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } == -1 {
        return Err(failed(
            "making a doorbell non-blocking",
            io::Error::last_os_error(),
        ));
    }
    Ok((read, write))
}

/// One end of a duplex pipe through shared memory (see the module docs).
#[derive(Debug)]
pub struct RingPipe {
    /// The ring we read (the peer's outgoing one).
    incoming: Ring<'static>,
    /// The ring we write.
    outgoing: Ring<'static>,
    /// The closed flags, in the region.
    control: &'static Control,
    /// [`PARENT`] or [`CHILD`].
    side: usize,
    /// Set once this end saw the peer gone (its end of file or `EPIPE`).
    peer_gone: bool,
    doorbell: Doorbell,
    /// The mapping the rings and the control line live in (its fd is closed): held,
    /// never read, so that the views above stay valid.
    _memory: SharedMemory,
}

impl RingPipe {
    /// The end of `side` over `memory` (a mapping of a region made by [`Self::region`],
    /// whose fd is closed here) with the doorbell ends `mine` (read) and `theirs`
    /// (write).
    fn from_parts(
        mut memory: SharedMemory,
        side: usize,
        mine: OwnedFd,
        theirs: OwnedFd,
    ) -> Result<Self, PipeError> {
        if memory.len() != REGION {
            return Err(PipeError::Failed(format!(
                "the shared region of the ChildEnd has {} bytes, not the {REGION} of a RingPipe: pass the ChildEnd the job was given",
                memory.len()
            )));
        }
        memory.close_fd();
        let base = memory.as_ptr();
        // SAFETY: the mapping is page-aligned and REGION bytes long (checked), so each
        // ring's range is 64-aligned and inside it; only ring views and the control
        // line write to it. 'static stands for "as long as `memory`": the views are
        // private fields of the struct that owns the mapping, never handed out with
        // that lifetime, and no Drop uses them after the mapping goes.
        let view = |i: usize| unsafe {
            Ring::view(base.add(RING_AT[i]), RING_AT[1]).map_err(|e| {
                failed(
                    "the shared region of the ChildEnd holds no RingPipe (pass the ChildEnd the job was given)",
                    e,
                )
            })
        };
        let (outgoing, incoming) = (view(side)?, view(1 - side)?);
        // SAFETY: CONTROL_AT is 64-aligned and CONTROL_AT + 64 <= REGION; the line is
        // all atomics (zero-filled at creation, a valid value), and lives as long as
        // `memory` (see above).
        let control = unsafe { &*base.add(CONTROL_AT).cast::<Control>() };
        Ok(RingPipe {
            incoming,
            outgoing,
            control,
            side,
            peer_gone: false,
            doorbell: Doorbell { mine, theirs },
            _memory: memory,
        })
    }

    /// A new region with both rings initialised: the memory, and a second fd of its
    /// memfd (for the child).
    fn region() -> Result<(SharedMemory, OwnedFd), PipeError> {
        let memory =
            SharedMemory::create(REGION).map_err(|e| failed("making the shared region", e))?;
        for at in RING_AT {
            // SAFETY: the region is new and zero-filled (a fresh memfd), page-aligned,
            // and no other process maps it yet; each ring's range is 64-aligned and
            // inside it (REGION covers both and the control line).
            unsafe { Ring::init(memory.as_ptr().add(at), RING_AT[1], CAPACITY) }
                .map_err(|e| failed("initialising a ring", e))?;
        }
        let fd = memory
            .fd()
            .expect("a new region has its fd")
            .try_clone()
            .map_err(|e| failed("duplicating the region's fd", e))?;
        Ok((memory, fd))
    }

    /// Both ends in this process (each with its own mapping of one region): for
    /// tests and for threads.
    ///
    /// # Errors
    /// [`PipeError::Failed`] if the region or the doorbells cannot be made.
    pub fn pair() -> Result<(RingPipe, RingPipe), PipeError> {
        let (memory, fd) = Self::region()?;
        let other = SharedMemory::adopt(fd).map_err(|e| failed("mapping the region", e))?;
        let (parent_mine, child_theirs) = doorbell()?;
        let (child_mine, parent_theirs) = doorbell()?;
        Ok((
            Self::from_parts(memory, PARENT, parent_mine, parent_theirs)?,
            Self::from_parts(other, CHILD, child_mine, child_theirs)?,
        ))
    }

    /// Whether the peer is known to be gone (closed its end, or seen dead).
    fn peer_closed(&self) -> bool {
        self.peer_gone || self.control.closed[1 - self.side].load(Ordering::Acquire) == 1
    }
}

impl Drop for RingPipe {
    fn drop(&mut self) {
        // Tells the peer's sends; its recv learns it from its doorbell's end of file
        // once our fds close, right after this.
        self.control.closed[self.side].store(1, Ordering::Release);
    }
}

impl Pipe for RingPipe {
    type Child<R: Wire> = PipeChild<R>;

    fn spawn<A: Wire, R: Wire>(
        job: &'static Job<(ChildEnd, A), R>,
        arg: A,
    ) -> Result<(Self, PipeChild<R>), PipeError> {
        let (memory, memfd) = Self::region()?;
        let (parent_mine, child_theirs) = doorbell()?;
        let (child_mine, parent_theirs) = doorbell()?;
        let token = format!(
            "{TOKEN}:{}:{}:{}",
            child_mine.as_raw_fd(),
            child_theirs.as_raw_fd(),
            memfd.as_raw_fd()
        );
        // Closes our copies of the three, and `from_parts` our memfd: the parent keeps
        // the mapping only.
        let child = spawn_child(job, arg, token, vec![child_mine, child_theirs, memfd])?;
        let pipe = Self::from_parts(memory, PARENT, parent_mine, parent_theirs)?;
        Ok((pipe, child))
    }

    fn open(end: ChildEnd) -> Result<Self, PipeError> {
        let fds = parse_token(&end.0, TOKEN, 3)?;
        let mine = take_fd(fds[0], Some(libc::S_IFIFO), "ChildEnd")?;
        let theirs = take_fd(fds[1], Some(libc::S_IFIFO), "ChildEnd")?;
        let memfd = take_fd(fds[2], Some(libc::S_IFREG), "ChildEnd")?;
        let memory =
            SharedMemory::adopt(memfd).map_err(|e| failed("mapping the pipe's region", e))?;
        Self::from_parts(memory, CHILD, mine, theirs)
    }

    fn send(&mut self, message: &[u8]) -> Result<(), PipeError> {
        let header = frame_header(message)?;
        if self.peer_closed() {
            return Err(PipeError::Closed);
        }
        match self
            .outgoing
            .write_all(&[&header, message], &Sending(&self.doorbell))
        {
            Ok(()) => Ok(()),
            Err(Bell::Gone) => {
                self.peer_gone = true;
                Err(PipeError::Closed)
            }
            Err(Bell::Os(e)) => Err(failed("waiting for room in the pipe", e)),
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, PipeError> {
        let park = Receiving(&self.doorbell);
        let mut header = [0; HEADER];
        match self.incoming.read_exact(&mut header, &park) {
            Ok(()) => {}
            Err((Bell::Gone, read)) => {
                self.peer_gone = true;
                return Err(if read == 0 {
                    PipeError::EndOfStream
                } else {
                    mid_header()
                });
            }
            Err((Bell::Os(e), _)) => return Err(failed("waiting for a message", e)),
        }
        let mut message = vec![0; frame_length(header)?];
        match self.incoming.read_exact(&mut message, &park) {
            Ok(()) => Ok(message),
            Err((Bell::Gone, _)) => {
                self.peer_gone = true;
                Err(mid_frame())
            }
            Err((Bell::Os(e), _)) => Err(failed("waiting for the rest of a message", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecourse_spec::child_processes::Child;
    use racecourse_spec::job::{Death, JobError};

    #[test]
    fn frames_keep_their_boundaries_across_the_wrap() {
        let (mut a, mut b) = RingPipe::pair().unwrap();
        // 997 + 4 bytes a frame: the frames cross the end of the ring at every offset
        // class, about three times round.
        for i in 0..400u32 {
            let m: Vec<u8> = (0..997 + i % 5).map(|j| (i + j) as u8).collect();
            a.send(&m).unwrap();
            a.send(b"").unwrap();
            assert_eq!(b.recv().unwrap(), m, "message {i}");
            assert_eq!(b.recv().unwrap(), b"", "the empty message after {i}");
        }
        assert!(a.outgoing.is_empty());
    }

    #[test]
    fn a_message_larger_than_the_ring_streams_through_it_both_ways() {
        let (mut a, mut b) = RingPipe::pair().unwrap();
        let big: Vec<u8> = (0..3 * CAPACITY + 17).map(|i| (i % 251) as u8).collect();
        // The echo receives before it sends: two sides that both send more than the
        // ring holds before either receives wait for each other for ever (as with OS
        // pipes).
        let echo = std::thread::spawn(move || {
            b.send(b"x").unwrap();
            let got = b.recv().unwrap();
            b.send(&got).unwrap();
            got
        });
        a.send(&big).unwrap();
        assert_eq!(a.recv().unwrap(), b"x");
        assert!(
            a.recv().unwrap() == big,
            "the large message came back changed"
        );
        assert!(
            echo.join().unwrap() == big,
            "the large message arrived changed"
        );
        assert_eq!(a.recv(), Err(PipeError::EndOfStream));
    }

    #[test]
    fn close_ends_the_stream_after_what_was_sent() {
        let (mut a, mut b) = RingPipe::pair().unwrap();
        a.send(b"one").unwrap();
        a.send(b"two").unwrap();
        drop(a);
        assert_eq!(b.recv().unwrap(), b"one");
        assert_eq!(b.recv().unwrap(), b"two");
        assert_eq!(b.recv(), Err(PipeError::EndOfStream));
        assert_eq!(b.recv(), Err(PipeError::EndOfStream));
        assert_eq!(b.send(b"lost"), Err(PipeError::Closed));
    }

    #[test]
    fn a_recv_waiting_wakes_at_the_close() {
        let (a, mut b) = RingPipe::pair().unwrap();
        let waiting = std::thread::spawn(move || b.recv());
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(a);
        assert_eq!(waiting.join().unwrap(), Err(PipeError::EndOfStream));
    }

    #[test]
    fn a_cut_frame_is_a_failure() {
        let (a, mut b) = RingPipe::pair().unwrap();
        // A peer that died in the middle of a send: a header for 100 bytes, then 10.
        a.outgoing.try_write(&100u32.to_le_bytes());
        a.outgoing.try_write(&[1; 10]);
        drop(a);
        assert_eq!(b.recv(), Err(mid_frame()));
        let (a, mut b) = RingPipe::pair().unwrap();
        a.outgoing.try_write(&[0; 2]);
        drop(a);
        assert_eq!(b.recv(), Err(mid_header()));
    }

    #[test]
    fn a_send_waiting_for_room_ends_at_the_close() {
        let (mut a, b) = RingPipe::pair().unwrap();
        let sending = std::thread::spawn(move || a.send(&vec![0; 2 * CAPACITY]));
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(b);
        assert_eq!(sending.join().unwrap(), Err(PipeError::Closed));
    }

    fn die((end, n): (ChildEnd, u32)) -> Result<u32, String> {
        let mut pipe = RingPipe::open(end).map_err(|e| e.to_string())?;
        for i in 0..n {
            pipe.send(&i.to_le_bytes()).map_err(|e| e.to_string())?;
        }
        // Waits for the parent's go, then dies without closing anything.
        pipe.recv().map_err(|e| e.to_string())?;
        std::process::abort()
    }
    crate::job!(static DIE: fn((ChildEnd, u32)) -> u32 = die);

    #[test]
    fn the_peers_death_ends_the_stream_after_what_it_sent() {
        let (mut pipe, child) = RingPipe::spawn(&DIE, 3).unwrap();
        for i in 0..3u32 {
            assert_eq!(pipe.recv().unwrap(), i.to_le_bytes());
        }
        pipe.send(b"go").unwrap();
        assert_eq!(
            child.join(),
            Err(JobError::Crashed(Death::Signaled(libc::SIGABRT)))
        );
        // The child died running, not asleep: a send into a ring with room cannot
        // know (no system call), the next one, which must wait for room, does.
        assert_eq!(pipe.send(&vec![0; CAPACITY / 2]), Ok(()));
        assert_eq!(pipe.send(&vec![0; CAPACITY / 2]), Err(PipeError::Closed));
        assert_eq!(pipe.send(b""), Err(PipeError::Closed));
        assert_eq!(pipe.recv(), Err(PipeError::EndOfStream));
    }

    #[test]
    fn tokens_are_checked() {
        assert!(RingPipe::open(ChildEnd("pipe:3:4".into())).is_err());
        assert!(RingPipe::open(ChildEnd("ring:3:4".into())).is_err());
    }
}
