//! The E5 process Queue through an OS pipe: [`PipeQueue`], one OS pipe shared by
//! every producer and consumer, with length-prefixed frames, two process-shared locks
//! and a counting semaphore in shared memory for the bound. It is the second of the
//! Queue's references (the suite accepts both); the first,
//! [`RingQueue`](super::ring_queue::RingQueue), keeps the same bound and locks (the
//! `Control` block here) but passes items through shared memory, with no system
//! call while the queue flows: an OS pipe costs one per `put` and per `get`, which
//! caps round trips at the pipe's (see issue 10 and `process_queue_bench`). The
//! mutants and must-pass queues of the suite are built on this one.
//!
//! ```
//! use racecourse_impl::process::process_queue::PipeQueue;
//! use racecourse_spec::child_processes::Child;
//! use racecourse_spec::process_queue::{ProcessQueue, QueueHandle};
//!
//! fn producer((handle, n): (QueueHandle, u32)) -> Result<u32, String> {
//!     let queue = PipeQueue::open(handle).map_err(|e| e.to_string())?;
//!     for i in 0..n {
//!         queue.put(&i.to_le_bytes()).map_err(|e| e.to_string())?;
//!     }
//!     Ok(n)
//! }
//! racecourse_impl::job!(static PRODUCER: fn((QueueHandle, u32)) -> u32 = producer);
//!
//! # fn main() {
//! let queue = PipeQueue::new(2).unwrap();
//! let child = queue.spawn(&PRODUCER, 5).unwrap();
//! for i in 0..5u32 {
//!     assert_eq!(queue.get().unwrap(), i.to_le_bytes());
//! }
//! assert_eq!(child.join(), Ok(5));
//! # }
//! ```
//!
//! # Design
//! - **The stream**: one pipe (128 KiB, see [`os_pipe`]); every process of the queue
//!   holds both ends, so no end of file ever comes (a queue has no end: Python's
//!   neither). An item is a frame: a 4-byte little-endian length and the bytes.
//! - **Writers' lock**: a `put` writes its frame whole while holding a robust
//!   process-shared mutex. A write of at most `PIPE_BUF` bytes is atomic by itself,
//!   but a larger frame is written in several parts when the pipe fills, and another
//!   writer's small frame, lock or not, would land between them: so every `put`
//!   takes the lock (uncontended, it costs no system call).
//! - **Readers' lock**: a `get` reads exactly one frame (its header, then exactly its
//!   length, never more: the bytes after it belong to whoever gets next) while
//!   holding the other mutex, so two consumers never share a frame.
//! - **The bound**: a counting semaphore in the same shared memory, `capacity` free
//!   slots; `put` takes a slot before writing (sleeping on a futex while there is
//!   none), `get` gives it back after reading. So at most `capacity` items are put
//!   and not yet got.
//! - **Children**: [`ProcessQueue::spawn`] passes copies of the two pipe ends under
//!   their own numbers ([`worker::spawn_passing`]: close-on-exec is cleared in the
//!   forked child only) and the shared memory's token; the child's
//!   [`open`](ProcessQueue::open) takes the fds ([`take_fd`]: close-on-exec again)
//!   and attaches the memory. The parent keeps its own ends: it is a process of the
//!   queue as well.
//!
//! A process that dies in the middle of a `put` of a large item leaves a cut frame in
//! the stream; the next `get` reads garbage or waits for the rest. Python's Queue has
//! the same hazard; the contract does not ask for more.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use racecourse_spec::child_processes::Child;
use racecourse_spec::job::{Job, JobError, Wire};
use racecourse_spec::process_queue::{ProcessQueue, QueueError, QueueHandle, MAX_ITEM};

use super::job::{encode, finish_one, task_of};
use super::pipe::{os_pipe, take_fd};
use super::ring::futex_wait;
use super::shm::{RobustGuard, RobustMutex, SharedMemory};
use super::worker::{self, Worker, WorkerOptions};

/// How long `join` is willing to wait: for ever, in practice (136 years).
const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

/// The size of a frame's length prefix.
pub const HEADER: usize = 4;

/// A child started with a handle of a queue; dropping it kills its process group and
/// reaps it.
#[derive(Debug)]
pub struct QueueChild<R> {
    worker: Worker,
    result: PhantomData<fn() -> R>,
}

impl<R: Wire> Child<R> for QueueChild<R> {
    fn pid(&self) -> u32 {
        self.worker.id()
    }

    fn join(self) -> Result<R, JobError> {
        finish_one(self.worker, FOREVER)
    }
}

/// A [`QueueError`] saying what failed.
pub fn failed(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError(format!("{what}: {e}"))
}

/// Starts a worker process running `job` on `(QueueHandle(token), arg)`, with the
/// open files `pass` handed over under their own numbers; closes `pass` (copies of
/// the caller's) once the child holds them.
///
/// # Errors
/// [`QueueError`] if the worker cannot be started.
pub fn spawn_with_fds<A: Wire, R: Wire>(
    job: &'static Job<(QueueHandle, A), R>,
    arg: A,
    token: String,
    pass: Vec<OwnedFd>,
) -> Result<QueueChild<R>, QueueError> {
    // A batch of one, as every job gets its arguments.
    let args = encode(std::slice::from_ref(&(QueueHandle(token), arg)));
    let borrowed: Vec<BorrowedFd<'_>> = pass.iter().map(AsFd::as_fd).collect();
    let worker = worker::spawn_passing(task_of(job), &args, WorkerOptions::new(), &borrowed)
        .map_err(|e| failed("starting the child process", e))?;
    drop(borrowed);
    drop(pass);
    Ok(QueueChild {
        worker,
        result: PhantomData,
    })
}

/// The shared part of a queue, at the start of its shared memory: the bound's
/// counting semaphore and the two locks. [`PipeQueue`] and
/// [`RingQueue`](super::ring_queue::RingQueue) both keep one.
#[repr(C)]
pub(crate) struct Control {
    /// Free slots of a bounded queue (unused when `capacity` is 0).
    free: AtomicU32,
    /// Processes asleep in `put` waiting for a slot (so `get` wakes only if needed).
    waiting: AtomicU32,
    /// The bound, 0 for none; written once by `init`.
    capacity: AtomicU32,
    /// Set to [`MAGIC`] once the locks are initialised.
    magic: AtomicU32,
    /// Held by a `put` while it writes its frame: the writers are one writer.
    pub(crate) writers: RobustMutex,
    /// Held by a `get` while it reads its frame: the readers are one reader.
    pub(crate) readers: RobustMutex,
}

/// Marks an initialised [`Control`] of a [`PipeQueue`].
const MAGIC: u32 = 0x5051_7565; // "PQue"

/// FUTEX_WAKE of one sleeper on `word`.
fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a 4-byte aligned word of a live shared mapping; it reads
    // nothing else.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

impl Control {
    /// The bytes a control block takes at the start of a queue's region.
    pub(crate) const BYTES: usize = std::mem::size_of::<Control>();

    /// A queue's capacity as the semaphore counts it.
    ///
    /// # Errors
    /// [`QueueError`] for a capacity larger than a `u32`.
    pub(crate) fn bound(capacity: usize) -> Result<u32, QueueError> {
        u32::try_from(capacity).map_err(|_| {
            QueueError(format!(
                "a capacity of {capacity} items is more than a queue can count: pass at most {}",
                u32::MAX
            ))
        })
    }

    /// The control block at the start of `memory`.
    ///
    /// # Panics
    /// If `memory` is shorter than a control block (every queue checks that when it
    /// makes or attaches its region).
    pub(crate) fn of(memory: &SharedMemory) -> &Control {
        assert!(
            memory.len() >= Self::BYTES,
            "a queue's region is shorter than its control block"
        );
        // SAFETY: the region is page-aligned and at least a Control long (asserted),
        // and lives as long as the borrow of `memory`; every field is an atomic or a
        // pthread mutex, made for shared access, for which any bytes another process
        // wrote are a value (the mutexes are used only once `is` saw the magic, or by
        // the process that initialised them).
        unsafe { &*(memory.as_ptr().cast::<Control>()) }
    }

    /// Initialises the control block of a new queue at the start of `memory`: the
    /// locks, the bound (`capacity` free slots, 0 for none), then `magic`.
    ///
    /// # Errors
    /// [`QueueError`] if a lock cannot be initialised.
    ///
    /// # Safety
    /// `memory` must be new and zero-filled, and known to no other process yet.
    pub(crate) unsafe fn init(
        memory: &SharedMemory,
        capacity: u32,
        magic: u32,
    ) -> Result<&Control, QueueError> {
        let control = Self::of(memory);
        let base = memory.as_ptr().cast::<Control>();
        // SAFETY: the region is at least a Control long (`of` checked it), new and
        // used by no other process (the caller's promise); each mutex is initialised
        // once, before anyone locks it.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*base).writers))
                .map_err(|e| failed("initialising the writers' lock", e))?;
            RobustMutex::init(std::ptr::addr_of_mut!((*base).readers))
                .map_err(|e| failed("initialising the readers' lock", e))?;
        }
        control.capacity.store(capacity, Ordering::SeqCst);
        control.free.store(capacity, Ordering::SeqCst);
        control.magic.store(magic, Ordering::SeqCst);
        Ok(control)
    }

    /// Whether `init` made this block with `magic` (a handle's region is checked so).
    pub(crate) fn is(&self, magic: u32) -> bool {
        self.magic.load(Ordering::SeqCst) == magic
    }

    /// The capacity the queue was made with (0: unbounded).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::SeqCst) as usize
    }

    /// The free slots now (tests).
    #[cfg(test)]
    pub(crate) fn free(&self) -> u32 {
        self.free.load(Ordering::SeqCst)
    }

    /// Takes a free slot of a bounded queue, sleeping on the futex of `free` while
    /// there is none.
    pub(crate) fn take_slot(&self) {
        if self.capacity.load(Ordering::Relaxed) == 0 {
            return;
        }
        while !self.try_take_slot() {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            futex_wait(&self.free, 0);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Takes a free slot of a bounded queue if there is one: false when it is full.
    pub(crate) fn try_take_slot(&self) -> bool {
        if self.capacity.load(Ordering::Relaxed) == 0 {
            return true;
        }
        let mut free = self.free.load(Ordering::SeqCst);
        while free > 0 {
            match self
                .free
                .compare_exchange(free, free - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => free = now,
            }
        }
        false
    }

    /// Gives a slot back (after a `get`), waking one waiting `put` if one sleeps.
    pub(crate) fn give_slot(&self) {
        if self.capacity.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.free.fetch_add(1, Ordering::SeqCst);
        // A sleeper counts itself before it sleeps, and sleeps only while `free` is
        // 0: if it is not counted yet, it will see the slot we just gave.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            futex_wake_one(&self.free);
        }
    }
}

/// A FIFO queue of byte items shared by processes (see the module docs).
#[derive(Debug)]
pub struct PipeQueue {
    memory: SharedMemory,
    read: File,
    write: File,
}

/// The token prefix of a [`PipeQueue`] handle.
const TOKEN: &str = "pqueue";

impl PipeQueue {
    fn control(&self) -> &Control {
        Control::of(&self.memory)
    }

    /// The raw fds of the queue's pipe (read, write), for a look in `/proc`.
    pub fn raw_fds(&self) -> (i32, i32) {
        (self.read.as_raw_fd(), self.write.as_raw_fd())
    }

    /// The capacity the queue was made with (0: unbounded).
    pub fn capacity(&self) -> usize {
        self.control().capacity()
    }

    /// Takes a free slot of a bounded queue, sleeping while there is none (the first
    /// half of `put`; public for implementations built on this one).
    pub fn take_slot(&self) {
        self.control().take_slot();
    }

    /// Takes a free slot of a bounded queue if there is one, without waiting: false
    /// when the queue is full (public for implementations that wait their own way).
    pub fn try_take_slot(&self) -> bool {
        self.control().try_take_slot()
    }

    /// Gives a slot back (after a `get`), waking one waiting `put`.
    pub fn give_slot(&self) {
        self.control().give_slot();
    }

    /// Reads exactly `into.len()` bytes; an end of file is an error (every process of
    /// the queue holds a write end, so it means the stream is broken).
    fn read_exact(&self, into: &mut [u8]) -> Result<(), QueueError> {
        let mut filled = 0;
        while filled < into.len() {
            match (&self.read).read(&mut into[filled..]) {
                Ok(0) => {
                    return Err(QueueError(
                        "the queue's pipe reported end of file: its write ends are all closed, \
                         so this handle was not opened from the queue's own handle"
                            .into(),
                    ))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(failed("reading from the queue's pipe", e)),
            }
        }
        Ok(())
    }

    /// Writes one frame (`len` is `item.len()`, checked) under the writers' lock,
    /// without taking a slot: the second half of `put`.
    ///
    /// # Errors
    /// [`QueueError`] for an OS error.
    pub fn write_frame(&self, item: &[u8], len: u32) -> Result<(), QueueError> {
        let header = len.to_le_bytes();
        let _writers = self
            .control()
            .writers
            .lock()
            .map_err(|e| failed("taking the writers' lock", e))?;
        if item.len() <= SMALL_FRAME {
            let mut frame = [0u8; HEADER + SMALL_FRAME];
            frame[..HEADER].copy_from_slice(&header);
            frame[HEADER..HEADER + item.len()].copy_from_slice(item);
            return write_all(
                &self.write,
                &mut [IoSlice::new(&frame[..HEADER + item.len()])],
            );
        }
        write_all(
            &self.write,
            &mut [IoSlice::new(&header), IoSlice::new(item)],
        )
    }

    /// Takes the readers' lock: while it is held, no other `get` reads the pipe.
    ///
    /// # Errors
    /// [`QueueError`] if the lock fails (not for a holder that died: that is
    /// recovered).
    pub fn lock_readers(&self) -> Result<RobustGuard<'_>, QueueError> {
        self.control()
            .readers
            .lock()
            .map_err(|e| failed("taking the readers' lock", e))
    }

    /// Reads exactly one frame, without the readers' lock and without giving a slot
    /// back: the middle of `get`.
    ///
    /// # Errors
    /// [`QueueError`] for an OS error or a malformed frame.
    pub fn read_frame(&self) -> Result<Vec<u8>, QueueError> {
        let mut header = [0; HEADER];
        self.read_exact(&mut header)?;
        let len = u32::from_le_bytes(header) as usize;
        if len > MAX_ITEM {
            return Err(QueueError(format!(
                "an item announced {len} bytes, more than the {MAX_ITEM} an item may have: the stream is corrupt (a producer died in the middle of a put?)"
            )));
        }
        let mut item = vec![0; len];
        self.read_exact(&mut item)?;
        Ok(item)
    }

    /// The read end of the queue's pipe.
    pub fn read_file(&self) -> &File {
        &self.read
    }

    /// What a child of this queue gets: its handle's token and the fds to pass under
    /// their own numbers (copies, close-on-exec here).
    ///
    /// # Errors
    /// [`QueueError`] if the fds cannot be copied.
    pub fn for_child(&self) -> Result<(String, Vec<OwnedFd>), QueueError> {
        let dup = |f: &File| {
            f.try_clone()
                .map(OwnedFd::from)
                .map_err(|e| failed("copying the queue's pipe end for the child", e))
        };
        let (read, write) = (dup(&self.read)?, dup(&self.write)?);
        let token = format!(
            "{TOKEN}:{}:{}:{}",
            read.as_raw_fd(),
            write.as_raw_fd(),
            self.memory.token()
        );
        Ok((token, vec![read, write]))
    }

    /// Checks an item's size: its length as a frame header.
    ///
    /// # Errors
    /// [`QueueError`] for an item larger than [`MAX_ITEM`].
    pub fn item_len(item: &[u8]) -> Result<u32, QueueError> {
        u32::try_from(item.len())
            .ok()
            .filter(|&n| n as usize <= MAX_ITEM)
            .ok_or_else(|| {
                QueueError(format!(
                    "an item of {} bytes is more than the {MAX_ITEM} a queue carries: split it",
                    item.len()
                ))
            })
    }

    /// Attaches the control region `token` names, checking it is a queue's.
    fn attach(token: &str) -> Result<SharedMemory, QueueError> {
        let memory = SharedMemory::attach(token).map_err(|e| {
            failed(
                "attaching the queue's shared memory (pass the handle the job was given)",
                e,
            )
        })?;
        if memory.len() < Control::BYTES {
            return Err(QueueError(format!(
                "`{token}` is not a queue's shared memory (too small): pass the handle the job was given"
            )));
        }
        Ok(memory)
    }
}

impl ProcessQueue for PipeQueue {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        let capacity = Control::bound(capacity)?;
        let memory = SharedMemory::create(Control::BYTES)
            .map_err(|e| failed("making the queue's shared memory", e))?;
        // SAFETY: the region is new and zero-filled, and no other process knows it yet.
        unsafe { Control::init(&memory, capacity, MAGIC) }?;
        let (read, write) = os_pipe().map_err(|e| QueueError(e.to_string()))?;
        let queue = PipeQueue {
            memory,
            read: File::from(read),
            write: File::from(write),
        };
        Ok(queue)
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
        let bad = || {
            QueueError(format!(
                "`{}` is not a handle of this queue type (`{TOKEN}:<fd>:<fd>:<token>`): pass the handle the job was given",
                handle.0
            ))
        };
        let mut parts = handle.0.splitn(4, ':');
        if parts.next() != Some(TOKEN) {
            return Err(bad());
        }
        let mut fd = || -> Result<i32, QueueError> {
            parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)
        };
        let (read, write) = (fd()?, fd()?);
        let token = parts.next().ok_or_else(bad)?;
        let memory = Self::attach(token)?;
        let take = |fd| {
            take_fd(fd, Some(libc::S_IFIFO), "QueueHandle").map_err(|e| QueueError(e.to_string()))
        };
        let queue = PipeQueue {
            memory,
            read: File::from(take(read)?),
            write: File::from(take(write)?),
        };
        if !queue.control().is(MAGIC) {
            return Err(QueueError(
                "the shared memory of this handle is not an initialised queue: pass the handle the job was given".into(),
            ));
        }
        Ok(queue)
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        let len = Self::item_len(item)?;
        self.take_slot();
        self.write_frame(item, len)
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        let item = {
            let _readers = self.lock_readers()?;
            self.read_frame()?
        };
        self.give_slot();
        Ok(item)
    }
}

/// Frames up to this size are copied into one buffer and written with one `write`
/// (cheaper than a `writev` of two parts).
const SMALL_FRAME: usize = 512;

/// Writes all of `parts` (a frame) with as few `writev` calls as the OS allows.
fn write_all(file: &File, parts: &mut [IoSlice<'_>]) -> Result<(), QueueError> {
    let mut parts = parts;
    let mut file = file;
    while !parts.is_empty() {
        match file.write_vectored(parts) {
            Ok(0) => return Err(QueueError("the queue's pipe accepted no bytes".into())),
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed("writing an item to the queue's pipe", e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_boundaries_in_one_process() {
        let queue = std::sync::Arc::new(PipeQueue::new(0).unwrap());
        let sizes = [0, 1, 8, 5000, 200_000, 0, 3];
        let producer = {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::spawn(move || {
                for (i, &n) in sizes.iter().enumerate() {
                    queue.put(&vec![i as u8; n]).unwrap();
                }
            })
        };
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(queue.get().unwrap(), vec![i as u8; n]);
        }
        producer.join().unwrap();
    }

    #[test]
    fn the_bound_counts_free_slots() {
        let queue = PipeQueue::new(2).unwrap();
        assert_eq!(queue.capacity(), 2);
        queue.put(b"a").unwrap();
        queue.put(b"b").unwrap();
        assert_eq!(queue.control().free(), 0);
        assert_eq!(queue.get().unwrap(), b"a");
        assert_eq!(queue.control().free(), 1);
        queue.put(b"c").unwrap();
        assert_eq!(queue.get().unwrap(), b"b");
        assert_eq!(queue.get().unwrap(), b"c");
        assert_eq!(queue.control().free(), 2);
    }

    #[test]
    fn a_full_queue_wakes_its_waiting_put() {
        let queue = std::sync::Arc::new(PipeQueue::new(1).unwrap());
        queue.put(b"first").unwrap();
        let producer = {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::spawn(move || queue.put(b"second").unwrap())
        };
        assert_eq!(queue.get().unwrap(), b"first");
        assert_eq!(queue.get().unwrap(), b"second");
        producer.join().unwrap();
    }

    #[test]
    fn handles_are_checked() {
        for bad in [
            "pipe:3:4:x",
            "pqueue:3",
            "pqueue:a:b:c",
            "pqueue:3:4:/proc/1/fd/x",
        ] {
            assert!(PipeQueue::open(QueueHandle(bad.into())).is_err(), "{bad}");
        }
    }
}
