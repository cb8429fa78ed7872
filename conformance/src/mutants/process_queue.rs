//! Wrong process queues (E5 (P)): most are the pipe reference [`PipeQueue`] behind a
//! wrapper that adds one defect a student could write (`Flawed<BUG>`), so the defect
//! is the only difference; [`InProcess`] and [`SmallFirst`] are queues of their own.
//! The suite must reject each (see the kill matrix).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::{Condvar, Mutex, PoisonError};

use racecourse_impl::process::process_queue::{
    failed, spawn_with_fds, PipeQueue, QueueChild, HEADER,
};
use racecourse_spec::job::{Job, Wire};
use racecourse_spec::process_queue::{ProcessQueue, QueueError, QueueHandle};

/// Each process reads the pipe through a buffer of its own (a `BufReader`): a `get`
/// keeps every frame one `read` brought in, and the frames it does not return are
/// lost to every other consumer (and with the process, when it ends).
pub const BUFFERED_READER: u8 = 1;
/// `put` never takes a slot: a bounded queue is not bounded.
pub const IGNORES_BOUND: u8 = 2;
/// The queue's fds are not close-on-exec (`pipe()` without `O_CLOEXEC`): every child
/// the process starts, of this queue or another, inherits them.
pub const INHERITABLE: u8 = 3;

/// The pipe reference with the defect `BUG` (one of the constants above).
#[derive(Debug)]
pub struct Flawed<const BUG: u8> {
    inner: PipeQueue,
    /// BUFFERED_READER: the bytes read and not yet returned.
    buffer: Mutex<Vec<u8>>,
}

impl<const BUG: u8> Flawed<BUG> {
    fn wrap(inner: PipeQueue) -> Result<Self, QueueError> {
        if BUG == INHERITABLE {
            let (read, write) = inner.raw_fds();
            for fd in [read, write] {
                // SAFETY: F_SETFD on an fd the queue owns changes its flags only.
                if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
                    return Err(failed("clearing close-on-exec", io::Error::last_os_error()));
                }
            }
        }
        Ok(Flawed {
            inner,
            buffer: Mutex::new(Vec::new()),
        })
    }

    /// BUFFERED_READER's `get`: the first whole frame of the buffer, reading chunks
    /// of 128 KiB as needed.
    fn buffered_get(&self) -> Result<Vec<u8>, QueueError> {
        let _readers = self.inner.lock_readers()?;
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if buffer.len() >= HEADER {
                let len =
                    u32::from_le_bytes(buffer[..HEADER].try_into().expect("4 bytes")) as usize;
                if buffer.len() >= HEADER + len {
                    let item = buffer[HEADER..HEADER + len].to_vec();
                    buffer.drain(..HEADER + len);
                    self.inner.give_slot();
                    return Ok(item);
                }
            }
            let mut chunk = vec![0; 128 * 1024];
            let n = loop {
                match self.inner.read_file().read(&mut chunk) {
                    Ok(0) => {
                        return Err(QueueError("the queue's pipe reported end of file".into()))
                    }
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(failed("reading from the queue's pipe", e)),
                }
            };
            buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

impl<const BUG: u8> ProcessQueue for Flawed<BUG> {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        Self::wrap(PipeQueue::new(capacity)?)
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        self.inner.spawn(job, arg)
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        Self::wrap(PipeQueue::open(handle)?)
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        if BUG == IGNORES_BOUND {
            return self.inner.write_frame(item, PipeQueue::item_len(item)?);
        }
        self.inner.put(item)
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        if BUG == BUFFERED_READER {
            return self.buffered_get();
        }
        self.inner.get()
    }
}

/// A queue in the memory of the process that made it (a `Mutex<VecDeque>` and a
/// condition variable, as the thread Queue): its children open a queue of their own,
/// and never see an item of the parent's or of each other's.
#[derive(Debug)]
pub struct InProcess {
    items: Mutex<VecDeque<Vec<u8>>>,
    changed: Condvar,
    capacity: usize,
}

impl InProcess {
    fn with_capacity(capacity: usize) -> Self {
        InProcess {
            items: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            capacity,
        }
    }
}

impl ProcessQueue for InProcess {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        Ok(Self::with_capacity(capacity))
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        spawn_with_fds(
            job,
            arg,
            format!("in-process:{}", self.capacity),
            Vec::new(),
        )
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        let capacity = handle
            .0
            .strip_prefix("in-process:")
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| QueueError(format!("`{}` is not an in-process handle", handle.0)))?;
        Ok(Self::with_capacity(capacity))
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        while self.capacity > 0 && items.len() >= self.capacity {
            items = self
                .changed
                .wait(items)
                .unwrap_or_else(PoisonError::into_inner);
        }
        items.push_back(item.to_vec());
        self.changed.notify_all();
        Ok(())
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(item) = items.pop_front() {
                self.changed.notify_all();
                return Ok(item);
            }
            items = self
                .changed
                .wait(items)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Items larger than `PIPE_BUF` (not atomic in a pipe) go through a pipe of their
/// own, and `get` takes a small item whenever one is waiting: each kind keeps its
/// order, but a producer's small item overtakes its earlier large one.
#[derive(Debug)]
pub struct SmallFirst {
    small: PipeQueue,
    large: PipeQueue,
}

/// The size above which [`SmallFirst`] sends an item through its large pipe.
const PIPE_BUF: usize = 4096;

impl ProcessQueue for SmallFirst {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        Ok(SmallFirst {
            small: PipeQueue::new(capacity)?,
            large: PipeQueue::new(capacity)?,
        })
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        let (small, mut pass) = self.small.for_child()?;
        let (large, more) = self.large.for_child()?;
        pass.extend(more);
        spawn_with_fds(job, arg, format!("{small}|{large}"), pass)
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        let (small, large) = handle
            .0
            .split_once('|')
            .ok_or_else(|| QueueError(format!("`{}` is not a handle of two queues", handle.0)))?;
        Ok(SmallFirst {
            small: PipeQueue::open(QueueHandle(small.into()))?,
            large: PipeQueue::open(QueueHandle(large.into()))?,
        })
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        if item.len() + HEADER <= PIPE_BUF {
            self.small.put(item)
        } else {
            self.large.put(item)
        }
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        // One consumer at a time: the small queue's readers' lock guards both.
        let _readers = self.small.lock_readers()?;
        let mut fds = [
            libc::pollfd {
                fd: self.small.read_file().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.large.read_file().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // SAFETY: poll reads and writes the two pollfd structs we own.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if n == -1 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(failed("polling the queue's pipes", e));
            }
            let from = if fds[0].revents & libc::POLLIN != 0 {
                &self.small
            } else {
                &self.large
            };
            let item = from.read_frame()?;
            from.give_slot();
            return Ok(item);
        }
    }
}
