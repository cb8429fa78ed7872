//! The second E5 Pipe reference (processes): [`OsPipe`], two one-way OS pipes with
//! length-prefixed frames, and the pieces every pipe implementation here shares: how
//! a child is started with its end ([`spawn_child`]), how the child takes its end
//! over ([`take_fd`]), and the frames' length prefix ([`frame_header`],
//! [`frame_length`]). The reference the benchmark measures as "Pipe" is
//! [`RingPipe`](super::ring_pipe::RingPipe), which makes no system call per message;
//! `OsPipe` makes one `write` per `send` and at least one `read` per `recv`, and the
//! suite's mutants are built on it.
//!
//! ```
//! use racecourse_impl::process::pipe::OsPipe;
//! use racecourse_spec::child_processes::Child;
//! use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError};
//!
//! fn echo((end, n): (ChildEnd, u32)) -> Result<u32, String> {
//!     let mut pipe = OsPipe::open(end).map_err(|e| e.to_string())?;
//!     for _ in 0..n {
//!         let message = pipe.recv().map_err(|e| e.to_string())?;
//!         pipe.send(&message).map_err(|e| e.to_string())?;
//!     }
//!     Ok(n)
//! }
//! racecourse_impl::job!(static ECHO: fn((ChildEnd, u32)) -> u32 = echo);
//!
//! # fn main() {
//! let (mut parent, child) = OsPipe::spawn(&ECHO, 2).unwrap();
//! parent.send(b"").unwrap();
//! parent.send(&[7; 100_000]).unwrap();
//! assert_eq!(parent.recv().unwrap(), b"");
//! assert_eq!(parent.recv().unwrap(), vec![7; 100_000]);
//! assert_eq!(child.join(), Ok(2));
//! assert_eq!(parent.recv(), Err(PipeError::EndOfStream));
//! # }
//! ```
//!
//! # Passing the end
//! The two pipes are made close-on-exec (`pipe2(O_CLOEXEC)`), like every fd of this
//! crate. The child is a worker of this binary ([`worker`](super::worker)), started
//! with its two fds, and only those, passed under their own numbers
//! ([`worker::spawn_passing`]: close-on-exec is cleared in the forked child only, so no
//! other process started meanwhile can inherit them); the job gets their numbers as
//! its [`ChildEnd`] (`pipe:<read fd>:<write fd>`). As soon as the child is started the
//! parent closes its copies: from then on the only writer of the child-to-parent pipe
//! is the child, so its end (its `close`, or its death, however it died) is the end of
//! file the parent's `recv` reports as [`PipeError::EndOfStream`]. In the child,
//! [`take_fd`] checks each fd, makes it close-on-exec again (the child's own children
//! must not inherit it either) and refuses a second take.
//!
//! # Frames
//! A message is a 4-byte little-endian length and the bytes. `send` writes both with
//! one `write` (small messages, copied behind the header) or `writev` (a loop for
//! partial writes of large ones), into pipes of 128 KiB; `recv` reads through a
//! 128 KiB buffer, so a small message costs one `read`, as in a bare ping-pong, and a
//! large one is read straight into the message. An end of file between frames is the
//! end of the stream; inside a frame it is an error (the peer died mid-send).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use racecourse_spec::child_processes::Child;
use racecourse_spec::job::{Job, JobError, Wire};
use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError, MAX_MESSAGE};

use super::job::{encode, finish_one, task_of};
use super::worker::{self, Worker, WorkerOptions};

/// How long `join` is willing to wait: for ever, in practice (136 years).
const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

/// The size of a frame's length prefix.
pub const HEADER: usize = 4;

/// How much `recv` asks the OS for at a time: a whole pipe's worth (see
/// [`os_pipe`]), so that one `read` takes a 64 KiB message and its header at once.
const READ_CHUNK: usize = 128 * 1024;

/// A child started with its end of a pipe ([`spawn_child`]); dropping it kills its
/// process group and reaps it.
#[derive(Debug)]
pub struct PipeChild<R> {
    worker: Worker,
    result: PhantomData<fn() -> R>,
}

impl<R: Wire> Child<R> for PipeChild<R> {
    fn pid(&self) -> u32 {
        self.worker.id()
    }

    fn join(self) -> Result<R, JobError> {
        finish_one(self.worker, FOREVER)
    }
}

/// A [`PipeError::Failed`] saying what failed.
pub fn failed(what: &str, e: impl std::fmt::Display) -> PipeError {
    PipeError::Failed(format!("{what}: {e}"))
}

/// Starts a worker process running `job` on `(ChildEnd(token), arg)`, with the open
/// files `pass` (the child's end) handed over under their own numbers, then closes the
/// parent's copies of them: when this returns, the parent holds nothing of the
/// child's end.
///
/// # Errors
/// [`PipeError::Failed`] if the worker cannot be started.
pub fn spawn_child<A: Wire, R: Wire>(
    job: &'static Job<(ChildEnd, A), R>,
    arg: A,
    token: String,
    pass: Vec<OwnedFd>,
) -> Result<PipeChild<R>, PipeError> {
    // A batch of one, as every job gets its arguments.
    let args = encode(std::slice::from_ref(&(ChildEnd(token), arg)));
    let borrowed: Vec<BorrowedFd<'_>> = pass.iter().map(AsFd::as_fd).collect();
    let worker = worker::spawn_passing(task_of(job), &args, WorkerOptions::new(), &borrowed)
        .map_err(|e| failed("starting the child process", e))?;
    // The child has its copies now; ours would keep the pipe open after the child's
    // end is closed, and the parent's recv would never see the end of the stream.
    drop(borrowed);
    drop(pass);
    Ok(PipeChild {
        worker,
        result: PhantomData,
    })
}

/// The fds taken so far in this process by [`take_fd`].
static TAKEN: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// In a child: takes ownership of the inherited fd `fd`, which must be open and, if
/// `kind` is given, of that file type (`libc::S_IFIFO`, `libc::S_IFSOCK`), and makes
/// it close-on-exec again. Each fd can be taken once per process. `given` names the
/// handle the fd came in (`ChildEnd`, `QueueHandle`): the errors say to pass that.
///
/// # Errors
/// [`PipeError::Failed`] if `fd` is not open, of another type, or already taken.
pub fn take_fd(fd: RawFd, kind: Option<libc::mode_t>, given: &str) -> Result<OwnedFd, PipeError> {
    let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = taken.get_or_insert_with(HashSet::new);
    if fd < 3 || taken.contains(&fd) {
        return Err(PipeError::Failed(format!(
            "fd {fd} is not one this process can open (stdio, or opened already): \
             pass the {given} the job was given, once"
        )));
    }
    // SAFETY: fstat writes into a stat buffer we own; an invalid fd gives EBADF.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `stat` is valid for writes.
    if unsafe { libc::fstat(fd, &mut stat) } == -1 {
        return Err(failed(
            &format!(
                "fd {fd} of the {given} is not open in this process (was it passed to the child?)"
            ),
            io::Error::last_os_error(),
        ));
    }
    if let Some(kind) = kind {
        if stat.st_mode & libc::S_IFMT != kind {
            return Err(PipeError::Failed(format!(
                "fd {fd} of the {given} is not the kind of file it should be: pass the {given} the job was given"
            )));
        }
    }
    // SAFETY: F_SETFD on an open fd changes its flags only.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(failed(
            "making the end close-on-exec",
            io::Error::last_os_error(),
        ));
    }
    taken.insert(fd);
    // SAFETY: the fd is open (fstat succeeded), was inherited for this end, and is
    // taken once per process (the set above), so nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Parses a `<prefix>:<fd>:<fd>..` token into its fd numbers.
///
/// # Errors
/// [`PipeError::Failed`] if the token has another prefix or is malformed.
pub fn parse_token(token: &str, prefix: &str, count: usize) -> Result<Vec<RawFd>, PipeError> {
    let bad = || {
        PipeError::Failed(format!(
            "`{token}` is not a ChildEnd of this pipe type (`{prefix}:` and {count} fd numbers): pass the ChildEnd the job was given"
        ))
    };
    let mut parts = token.split(':');
    if parts.next() != Some(prefix) {
        return Err(bad());
    }
    let fds: Vec<RawFd> = parts
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if fds.len() != count {
        return Err(bad());
    }
    Ok(fds)
}

/// A new pipe, both ends close-on-exec: (read end, write end).
///
/// # Errors
/// [`PipeError::Failed`] with the OS error.
pub fn os_pipe() -> Result<(OwnedFd, OwnedFd), PipeError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(failed("making a pipe", io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded: both fds are new and ours alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Room for a 64 KiB message and its header at once: with the default 64 KiB, the
    // writer of such a frame blocks for its last bytes until the reader has drained
    // the rest, and a 64 KiB round trip costs four context switches instead of two
    // (measured: 12 times slower). Best effort: a smaller pipe is slower, not wrong.
    // SAFETY: F_SETPIPE_SZ on a pipe we own changes its capacity only.
    unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
    Ok((read, write))
}

/// The capacity asked for each OS pipe (see [`os_pipe`]).
const PIPE_SIZE: libc::c_int = 128 * 1024;

/// Frames up to this size are copied into one buffer and written with one `write`
/// (cheaper than a `writev` of two parts).
const SMALL_FRAME: usize = 512;

/// An OS error of a write as the pipe's error: a closed reader is [`PipeError::Closed`].
pub fn write_error(e: io::Error) -> PipeError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        PipeError::Closed
    } else {
        failed("writing to the pipe", e)
    }
}

/// Writes all of `parts` (a frame) with as few `writev` calls as the OS allows.
///
/// # Errors
/// [`PipeError::Closed`] if the reader is gone, else the OS error.
pub fn write_all_vectored(file: &mut File, parts: &mut [IoSlice<'_>]) -> Result<(), PipeError> {
    let mut parts = parts;
    while !parts.is_empty() {
        match file.write_vectored(parts) {
            Ok(0) => return Err(PipeError::Failed("the pipe accepted no bytes".into())),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(write_error(e)),
        }
    }
    Ok(())
}

/// The reading side of a framed byte stream: a buffer over a file.
#[derive(Debug)]
struct Reader {
    file: File,
    buf: Box<[u8]>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl Reader {
    fn new(file: File) -> Self {
        Reader {
            file,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// One `read` into `into`, retried on EINTR; 0 at end of file.
    fn read_some(file: &mut File, into: &mut [u8]) -> Result<usize, PipeError> {
        loop {
            match file.read(into) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(failed("reading from the pipe", e)),
            }
        }
    }

    /// Reads until at least `want` (at most the buffer's size) bytes are buffered;
    /// false if the end of file came first.
    fn fill(&mut self, want: usize) -> Result<bool, PipeError> {
        if self.end - self.start >= want {
            return Ok(true);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < want {
            let n = Self::read_some(&mut self.file, &mut self.buf[self.end..])?;
            if n == 0 {
                return Ok(false);
            }
            self.end += n;
        }
        Ok(true)
    }

    fn recv(&mut self) -> Result<Vec<u8>, PipeError> {
        if !self.fill(HEADER)? {
            return Err(if self.start == self.end {
                PipeError::EndOfStream
            } else {
                mid_header()
            });
        }
        let mut header = [0; HEADER];
        header.copy_from_slice(&self.buf[self.start..self.start + HEADER]);
        self.start += HEADER;
        let len = frame_length(header)?;
        let mut message = vec![0; len];
        let buffered = (self.end - self.start).min(len);
        message[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        let mut filled = buffered;
        while filled < len {
            let missing = len - filled;
            if missing >= READ_CHUNK {
                // Large: straight into the message.
                let n = Self::read_some(&mut self.file, &mut message[filled..])?;
                if n == 0 {
                    return Err(mid_frame());
                }
                filled += n;
            } else {
                if !self.fill(missing)? {
                    return Err(mid_frame());
                }
                message[filled..].copy_from_slice(&self.buf[self.start..self.start + missing]);
                self.start += missing;
                filled = len;
            }
        }
        Ok(message)
    }
}

/// The error of a stream that ended inside a message: the peer died mid-send.
pub fn mid_frame() -> PipeError {
    PipeError::Failed("the peer's end closed in the middle of a message".into())
}

/// The error of a stream that ended inside a frame's length prefix.
pub fn mid_header() -> PipeError {
    PipeError::Failed("the peer's end closed in the middle of a frame header".into())
}

/// The length prefix of `message`'s frame (see the module docs).
///
/// # Errors
/// [`PipeError::Failed`] for a message larger than [`MAX_MESSAGE`].
pub fn frame_header(message: &[u8]) -> Result<[u8; HEADER], PipeError> {
    u32::try_from(message.len())
        .ok()
        .filter(|&n| n as usize <= MAX_MESSAGE)
        .map(u32::to_le_bytes)
        .ok_or_else(|| {
            PipeError::Failed(format!(
                "a message of {} bytes is more than the {MAX_MESSAGE} a pipe carries: split it",
                message.len()
            ))
        })
}

/// The message length a received length prefix announces.
///
/// # Errors
/// [`PipeError::Failed`] for more than [`MAX_MESSAGE`] (a corrupt stream).
pub fn frame_length(header: [u8; HEADER]) -> Result<usize, PipeError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_MESSAGE {
        return Err(PipeError::Failed(format!(
            "a frame announced {len} bytes, more than the {MAX_MESSAGE} a message may have: the stream is corrupt"
        )));
    }
    Ok(len)
}

/// One end of a duplex pipe made of two one-way OS pipes, with length-prefixed frames
/// (see the module docs).
#[derive(Debug)]
pub struct OsPipe {
    reader: Reader,
    writer: File,
}

impl OsPipe {
    /// An end reading from `read` and writing to `write`.
    pub fn from_fds(read: OwnedFd, write: OwnedFd) -> Self {
        OsPipe {
            reader: Reader::new(File::from(read)),
            writer: File::from(write),
        }
    }

    /// The raw fds of this end (read, write), for a look in `/proc`.
    pub fn raw_fds(&self) -> (RawFd, RawFd) {
        (self.reader.file.as_raw_fd(), self.writer.as_raw_fd())
    }
}

/// The token prefix of an [`OsPipe`] child end.
const TOKEN: &str = "pipe";

impl Pipe for OsPipe {
    type Child<R: Wire> = PipeChild<R>;

    fn spawn<A: Wire, R: Wire>(
        job: &'static Job<(ChildEnd, A), R>,
        arg: A,
    ) -> Result<(Self, PipeChild<R>), PipeError> {
        let (child_read, parent_write) = os_pipe()?;
        let (parent_read, child_write) = os_pipe()?;
        let token = format!(
            "{TOKEN}:{}:{}",
            child_read.as_raw_fd(),
            child_write.as_raw_fd()
        );
        let child = spawn_child(job, arg, token, vec![child_read, child_write])?;
        Ok((OsPipe::from_fds(parent_read, parent_write), child))
    }

    fn open(end: ChildEnd) -> Result<Self, PipeError> {
        let fds = parse_token(&end.0, TOKEN, 2)?;
        let read = take_fd(fds[0], Some(libc::S_IFIFO), "ChildEnd")?;
        let write = take_fd(fds[1], Some(libc::S_IFIFO), "ChildEnd")?;
        Ok(OsPipe::from_fds(read, write))
    }

    fn send(&mut self, message: &[u8]) -> Result<(), PipeError> {
        let header = frame_header(message)?;
        if message.len() <= SMALL_FRAME {
            let mut frame = [0u8; HEADER + SMALL_FRAME];
            frame[..HEADER].copy_from_slice(&header);
            frame[HEADER..HEADER + message.len()].copy_from_slice(message);
            return self
                .writer
                .write_all(&frame[..HEADER + message.len()])
                .map_err(write_error);
        }
        write_all_vectored(
            &mut self.writer,
            &mut [IoSlice::new(&header), IoSlice::new(message)],
        )
    }

    fn recv(&mut self) -> Result<Vec<u8>, PipeError> {
        self.reader.recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (OsPipe, OsPipe) {
        let (r1, w1) = os_pipe().unwrap();
        let (r2, w2) = os_pipe().unwrap();
        (OsPipe::from_fds(r1, w2), OsPipe::from_fds(r2, w1))
    }

    #[test]
    fn frames_keep_their_boundaries_in_one_process() {
        let (mut a, mut b) = pair();
        let big = vec![5u8; 3 * READ_CHUNK + 17];
        let writer = std::thread::spawn(move || {
            for m in [&b""[..], b"x", b"yz"] {
                a.send(m).unwrap();
            }
            a.send(&big).unwrap();
            a.send(b"").unwrap();
            a
        });
        assert_eq!(b.recv().unwrap(), b"");
        assert_eq!(b.recv().unwrap(), b"x");
        assert_eq!(b.recv().unwrap(), b"yz");
        assert_eq!(b.recv().unwrap(), vec![5u8; 3 * READ_CHUNK + 17]);
        assert_eq!(b.recv().unwrap(), b"");
        drop(writer.join().unwrap());
        assert_eq!(b.recv(), Err(PipeError::EndOfStream));
    }

    #[test]
    fn a_send_to_a_closed_end_fails() {
        let (mut a, b) = pair();
        drop(b);
        assert_eq!(a.send(b"lost"), Err(PipeError::Closed));
    }

    #[test]
    fn tokens_are_checked() {
        assert!(parse_token("pipe:3:4", "pipe", 2).is_ok());
        assert!(parse_token("sock:3", "pipe", 2).is_err());
        assert!(parse_token("pipe:3", "pipe", 2).is_err());
        assert!(take_fd(1, None, "ChildEnd").is_err());
        let e = take_fd(100_000, None, "QueueHandle")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fd 100000 of the QueueHandle is not open"),
            "the error names the handle the fd came in: {e}"
        );
    }
}
