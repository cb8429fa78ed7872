//! E5, Pipe (processes): a duplex channel between a parent and the child process it
//! starts, carrying whole messages.
//!
//! In Python: `parent, child = Pipe(); p = Process(target=f, args=(child,)); p.start();
//! child.close(); parent.send_bytes(b"..."); parent.recv_bytes()`. Here the child is
//! a fresh execution of the same binary (the spawn start method) running a
//! [`Job`]; the job receives a [`ChildEnd`], a passable name of its end (an
//! inherited fd number, say), and opens it with [`Pipe::open`].
//!
//! ```
//! # fn main() {}
//! # fn demo<P: racecourse_spec::pipe::Pipe>(
//! #     echo: &'static racecourse_spec::job::Job<(racecourse_spec::pipe::ChildEnd, u32), u32>,
//! # ) -> Result<(), racecourse_spec::pipe::PipeError> {
//! use racecourse_spec::child_processes::Child;
//! use racecourse_spec::pipe::PipeError;
//!
//! // The child: `fn echo((end, n): (ChildEnd, u32)) -> Result<u32, String>` opens
//! // its end with `P::open(end)` and sends back each of `n` messages it receives.
//! let (mut parent, child) = P::spawn(echo, 2)?;
//! parent.send(b"")?;
//! parent.send(&[7; 100_000])?;
//! assert_eq!(parent.recv()?, b"");
//! assert_eq!(parent.recv()?.len(), 100_000);
//! assert_eq!(child.join(), Ok(2));
//! assert_eq!(parent.recv(), Err(PipeError::EndOfStream));
//! # Ok(())
//! # }
//! ```
//!
//! ## Why byte vectors
//! A message is a `Vec<u8>`, not a serde value. What this exercise is about is the
//! channel: message boundaries across a byte stream, both directions at once, and the
//! end of the stream. Bytes make the boundary property exact (the empty message, one
//! byte, and messages larger than the OS pipe buffer are all plain cases), they let a
//! benchmark measure the pipe rather than a serializer, and they are what Python's
//! `Connection` itself is built on (`send(obj)` is `send_bytes(pickle.dumps(obj))`).
//! Values go over it serialized by the caller, in one line (`postcard::to_stdvec`).
//!
//! ## What a caller may rely on
//! - Messages arrive whole, in the order they were sent, one `recv` per `send`,
//!   whatever their sizes (empty, a few bytes, many times the OS pipe buffer) and
//!   however the sends of the two sides interleave.
//! - Both directions work at once: each side may send before it receives.
//! - Once the peer has closed its end, or its process has ended (however it died),
//!   `recv` returns the messages still in flight and then
//!   [`PipeError::EndOfStream`], never hangs.
//! - Once `recv` returned `EndOfStream`, or the peer closed its end, `send` fails
//!   with [`PipeError::Closed`] (a message nobody will read is never accepted
//!   silently).
//! - Only the two processes hold the pipe: the child gets its end and no other file
//!   descriptor of the parent's, and the parent keeps nothing of the child's end.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::child_processes::Child;
use crate::job::{Job, Wire};

/// Names the child's end of a pipe, for [`Pipe::open`] in the child process: what
/// [`Pipe::spawn`] hands the job (an inherited fd number, say, or a path). It means
/// something only in the process it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildEnd(pub String);

/// Why a pipe operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeError {
    /// The peer closed its end, or its process ended, and every message it sent has
    /// been received: nothing will ever come.
    EndOfStream,
    /// The peer's end is closed: nobody will receive this message (`send` only).
    Closed,
    /// Anything else (an OS error, a malformed frame, a child that could not be
    /// started): the message says what failed.
    Failed(String),
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipeError::EndOfStream => f.write_str("end of stream: the peer closed its end"),
            PipeError::Closed => {
                f.write_str("the peer closed its end: nobody will receive this message")
            }
            PipeError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for PipeError {}

/// One end of a duplex pipe between a parent and a child process (the course's
/// `multiprocessing.Pipe()`).
///
/// # Contract
/// - [`spawn`](Self::spawn) **must** start the child as a fresh process (spawn start
///   method) that runs `job`, with `(end, arg)`; the child opens its end from `end`
///   with [`open`](Self::open). The child **must** get its end and no other open file
///   of the parent's (everything else is close-on-exec), and when `spawn` returns the
///   parent **must** hold nothing of the child's end: otherwise the parent's `recv`
///   would wait for itself, and never see the end of the stream.
/// - [`send`](Self::send) and [`recv`](Self::recv) **must** preserve message
///   boundaries: each `recv` gives exactly one message, byte for byte as it was sent
///   and in the order sent, for any sequence of messages of any size up to
///   [`MAX_MESSAGE`] (the empty message included).
/// - The pipe **must** be duplex: each side may send before it receives, and messages
///   that fit the OS buffers never wait for the other side to receive.
/// - Once the peer's end is closed ([`close`](Self::close), drop, or the end of its
///   process, however it died), `recv` **must** return the messages still in flight
///   and then [`PipeError::EndOfStream`], as soon as the OS reports the end of file:
///   it **must not** hang, and **must not** wait for anything but data or the end of
///   file on its own end.
/// - A `send` **must** fail with `Closed`, and never kill the process (`SIGPIPE`),
///   once the peer's end is known to be closed: the peer closed or dropped it, or
///   this end's `recv` returned `EndOfStream`. A peer whose process died without
///   closing its end (killed, aborted) may go unnoticed by a `send` whose message fits
///   the pipe's buffer until then: the message is lost, as one sent just before the
///   death would be. (A pipe through shared memory sees the death only when it waits
///   or makes a system call.)
pub trait Pipe: Sized + Send + 'static {
    /// A child started by [`spawn`](Self::spawn).
    type Child<R: Wire>: Child<R> + Send;

    /// Makes a pipe, starts a child process running `job` with `(its end, arg)`, and
    /// returns the parent's end and the child, while the child runs.
    ///
    /// # Errors
    /// [`PipeError::Failed`] if the pipe cannot be made or the child cannot be started.
    fn spawn<A: Wire, R: Wire>(
        job: &'static Job<(ChildEnd, A), R>,
        arg: A,
    ) -> Result<(Self, Self::Child<R>), PipeError>;

    /// In the child: opens the end that `end` names (once per process).
    ///
    /// # Errors
    /// [`PipeError::Failed`] if `end` names nothing this process holds.
    fn open(end: ChildEnd) -> Result<Self, PipeError>;

    /// Sends one message, whole.
    ///
    /// # Errors
    /// [`PipeError::Closed`] if the peer's end is closed; [`PipeError::Failed`] for a
    /// message larger than [`MAX_MESSAGE`] or an OS error.
    ///
    /// # Blocking
    /// While the OS buffer is full, until the peer receives (or closes).
    fn send(&mut self, message: &[u8]) -> Result<(), PipeError>;

    /// Receives the next message, whole.
    ///
    /// # Errors
    /// [`PipeError::EndOfStream`] once the peer's end is closed and every message sent
    /// before has been received; [`PipeError::Failed`] for an OS error or a malformed
    /// frame.
    ///
    /// # Blocking
    /// Until a whole message, or the end of the stream, arrives.
    fn recv(&mut self) -> Result<Vec<u8>, PipeError>;

    /// Closes this end: the peer's `recv` returns what was sent, then
    /// [`PipeError::EndOfStream`]. Dropping an end closes it too.
    fn close(self) {
        drop(self)
    }
}

/// The largest message every implementation **must** carry (64 MiB); larger ones may
/// be refused by `send`.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
