//! Wrong pipes (E5 (P)): each is the OS-pipe reference [`OsPipe`] behind a wrapper that adds
//! one defect a student could write, `Flawed<BUG>`, so the defect is the only
//! difference. The suite must reject each (see the kill matrix).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use racecourse_impl::process::pipe::{
    failed, os_pipe, spawn_child, write_error, OsPipe, PipeChild,
};
use racecourse_spec::job::{Job, Wire};
use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError};

/// `send` writes the bytes as they are, and `recv` returns what one `read` of at most
/// 64 KiB gives: messages merge, large ones split, an empty one vanishes.
pub const UNFRAMED: u8 = 1;
/// `recv` takes end of file for "nothing yet" and tries again: it never returns once
/// the peer is gone.
pub const EOF_SPINS: u8 = 2;
/// `spawn` keeps a copy of the child's end in the parent (a `dup` made before the
/// spawn and never closed): the parent's `recv` waits for itself, and end of stream
/// never comes.
pub const KEEPS_CHILD_END: u8 = 3;
/// One OS pipe for both directions: each side can read back what it wrote itself.
pub const ONE_PIPE: u8 = 4;
/// The parent's end is passed to the child too (copies without close-on-exec): the
/// child holds the parent's fds.
pub const LEAKS_PARENT_END: u8 = 5;
/// `send` ignores what the write said (`let _ = ...; Ok(())`): a message to a closed
/// peer is accepted, and lost.
pub const IGNORES_SEND_ERRORS: u8 = 6;

/// The reference with the defect `BUG` (one of the constants above).
#[derive(Debug)]
pub struct Flawed<const BUG: u8> {
    inner: OsPipe,
    /// KEEPS_CHILD_END: the copies of the child's end.
    _kept: Vec<OwnedFd>,
}

/// A close-on-exec copy of `fd`.
fn dup(fd: &OwnedFd) -> Result<OwnedFd, PipeError> {
    fd.try_clone().map_err(|e| failed("duplicating an fd", e))
}

fn token(read: &OwnedFd, write: &OwnedFd) -> String {
    format!("pipe:{}:{}", read.as_raw_fd(), write.as_raw_fd())
}

impl<const BUG: u8> Pipe for Flawed<BUG> {
    type Child<R: Wire> = PipeChild<R>;

    fn spawn<A: Wire, R: Wire>(
        job: &'static Job<(ChildEnd, A), R>,
        arg: A,
    ) -> Result<(Self, PipeChild<R>), PipeError> {
        let mut kept = Vec::new();
        let (inner, child) = match BUG {
            ONE_PIPE => {
                let (read, write) = os_pipe()?;
                let (child_read, child_write) = (dup(&read)?, dup(&write)?);
                let token = token(&child_read, &child_write);
                let child = spawn_child(job, arg, token, vec![child_read, child_write])?;
                (OsPipe::from_fds(read, write), child)
            }
            KEEPS_CHILD_END | LEAKS_PARENT_END => {
                let (child_read, parent_write) = os_pipe()?;
                let (parent_read, child_write) = os_pipe()?;
                let token = token(&child_read, &child_write);
                let mut pass = Vec::new();
                if BUG == KEEPS_CHILD_END {
                    kept = vec![dup(&child_read)?, dup(&child_write)?];
                } else {
                    pass = vec![dup(&parent_read)?, dup(&parent_write)?];
                }
                pass.extend([child_read, child_write]);
                let child = spawn_child(job, arg, token, pass)?;
                (OsPipe::from_fds(parent_read, parent_write), child)
            }
            _ => {
                let (inner, child) = OsPipe::spawn(job, arg)?;
                (inner, child)
            }
        };
        Ok((Flawed { inner, _kept: kept }, child))
    }

    fn open(end: ChildEnd) -> Result<Self, PipeError> {
        Ok(Flawed {
            inner: OsPipe::open(end)?,
            _kept: Vec::new(),
        })
    }

    fn send(&mut self, message: &[u8]) -> Result<(), PipeError> {
        if BUG == IGNORES_SEND_ERRORS {
            let _ = self.inner.send(message);
            return Ok(());
        }
        if BUG != UNFRAMED {
            return self.inner.send(message);
        }
        let fd = self.inner.raw_fds().1;
        let mut rest = message;
        while !rest.is_empty() {
            // SAFETY: write reads at most `rest.len()` bytes from a live slice, on an
            // fd `inner` owns for as long as `self` lives.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(write_error(e));
            }
            rest = &rest[n as usize..];
        }
        Ok(())
    }

    fn recv(&mut self) -> Result<Vec<u8>, PipeError> {
        match BUG {
            UNFRAMED => {
                let fd = self.inner.raw_fds().0;
                let mut buf = vec![0; 64 * 1024];
                loop {
                    // SAFETY: read writes at most `buf.len()` bytes into our buffer,
                    // from an fd `inner` owns for as long as `self` lives.
                    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        return Err(failed("reading from the pipe", e));
                    }
                    if n == 0 {
                        return Err(PipeError::EndOfStream);
                    }
                    buf.truncate(n as usize);
                    return Ok(buf);
                }
            }
            EOF_SPINS => loop {
                match self.inner.recv() {
                    // "No message yet": try again.
                    Err(PipeError::EndOfStream) => std::thread::yield_now(),
                    other => return other,
                }
            },
            _ => self.inner.recv(),
        }
    }
}
