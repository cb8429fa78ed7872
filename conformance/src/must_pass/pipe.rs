//! A Pipe (E5 (P)) that is correct in an unusual way. Real processes only.
//!
//! [`SeqPacket`] frames nothing itself: it is a `SOCK_SEQPACKET` socket pair, whose
//! packets keep their boundaries in the kernel, one fd per end. A packet has a size
//! limit, so a message goes as chunks of at most [`CHUNK`] bytes, each one packet
//! with a one-byte header saying whether more chunks follow; the empty message is one
//! packet holding only the header. End of file is a read of zero bytes (no packet is
//! ever empty), or `ECONNRESET`: a peer that closed with our packets still unread.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use racecourse_impl::process::pipe::{failed, parse_token, spawn_child, take_fd, PipeChild};
use racecourse_spec::job::{Job, Wire};
use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError, MAX_MESSAGE};

/// The largest chunk of a message in one packet.
pub const CHUNK: usize = 32 * 1024;

const MORE: u8 = 0;
const LAST: u8 = 1;

/// One end of a `SOCK_SEQPACKET` socket pair, messages in chunks (see the module
/// docs).
#[derive(Debug)]
pub struct SeqPacket {
    socket: OwnedFd,
    buf: Box<[u8]>,
}

const TOKEN: &str = "seqpacket";

impl SeqPacket {
    fn new(socket: OwnedFd) -> Self {
        SeqPacket {
            socket,
            buf: vec![0; CHUNK + 1].into_boxed_slice(),
        }
    }
}

impl Pipe for SeqPacket {
    type Child<R: Wire> = PipeChild<R>;

    fn spawn<A: Wire, R: Wire>(
        job: &'static Job<(ChildEnd, A), R>,
        arg: A,
    ) -> Result<(Self, PipeChild<R>), PipeError> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds into the array we own.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if r == -1 {
            return Err(failed("making a socket pair", io::Error::last_os_error()));
        }
        // SAFETY: socketpair succeeded: both fds are new and ours alone.
        let (mine, theirs) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let token = format!("{TOKEN}:{}", theirs.as_raw_fd());
        let child = spawn_child(job, arg, token, vec![theirs])?;
        Ok((SeqPacket::new(mine), child))
    }

    fn open(end: ChildEnd) -> Result<Self, PipeError> {
        let fds = parse_token(&end.0, TOKEN, 1)?;
        Ok(SeqPacket::new(take_fd(
            fds[0],
            Some(libc::S_IFSOCK),
            "ChildEnd",
        )?))
    }

    fn send(&mut self, message: &[u8]) -> Result<(), PipeError> {
        if message.len() > MAX_MESSAGE {
            return Err(PipeError::Failed(format!(
                "a message of {} bytes is more than the {MAX_MESSAGE} a pipe carries: split it",
                message.len()
            )));
        }
        let mut chunks = message.chunks(CHUNK).peekable();
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            let header = [if chunks.peek().is_some() { MORE } else { LAST }];
            let mut iov = [
                libc::iovec {
                    iov_base: header.as_ptr() as *mut libc::c_void,
                    iov_len: 1,
                },
                libc::iovec {
                    iov_base: chunk.as_ptr() as *mut libc::c_void,
                    iov_len: chunk.len(),
                },
            ];
            // SAFETY: an all-zero msghdr is valid (no name, no control data).
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = 2;
            loop {
                // SAFETY: `msg` points at two iovecs over live buffers for the call;
                // MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
                let n = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
                if n >= 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EPIPE) | Some(libc::ECONNRESET) => return Err(PipeError::Closed),
                    _ => return Err(failed("sending a packet", e)),
                }
            }
            if header[0] == LAST {
                return Ok(());
            }
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, PipeError> {
        let mut message = Vec::new();
        let mut started = false;
        loop {
            // SAFETY: recv writes at most `buf.len()` bytes into our buffer.
            let n = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            let end = if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECONNRESET) => true,
                    _ => return Err(failed("receiving a packet", e)),
                }
            } else {
                n == 0
            };
            if end {
                return Err(if started {
                    PipeError::Failed("the peer's end closed in the middle of a message".into())
                } else {
                    PipeError::EndOfStream
                });
            }
            let n = n as usize;
            started = true;
            message.extend_from_slice(&self.buf[1..n]);
            if message.len() > MAX_MESSAGE {
                return Err(PipeError::Failed(format!(
                    "a message of more than {MAX_MESSAGE} bytes arrived: the stream is corrupt"
                )));
            }
            if self.buf[0] == LAST {
                return Ok(message);
            }
        }
    }
}
