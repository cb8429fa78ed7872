//! E5 Pipe suite (processes): a student's [`Pipe`] between the checking process and a
//! child it starts (spawn start method), running the suite's scripts.
//!
//! Properties (see `EXERCISES.md`, E5 "Pipe", and the contract in
//! `racecourse_spec::pipe`):
//! - `boundaries`: sequences of messages drawn by proptest (fixed seed, fixed count:
//!   empty, tiny, a few KiB, and larger than the OS pipe buffer: 64 KiB by default,
//!   128 KiB in the reference), the first one
//!   fixed, go child to parent and parent to child; each `recv` gives exactly the next
//!   message sent;
//! - `duplex`: in each round both sides send before either receives (the parent first
//!   in even rounds, the child first in odd ones), and each receives exactly what the
//!   other sent;
//! - `end_of_stream`: after the child closed its end (still alive), after it died
//!   (`abort`), and after the parent closed its end (for the child), `recv` gives the
//!   messages in flight, then `EndOfStream`, and a `send` then fails with `Closed`;
//! - `no_fd_leak`: the child inherits no fd the parent holds (its end aside), and once
//!   `spawn` returned the parent holds nothing of the child's end, from the fd tables
//!   in `/proc` of both processes.
//!
//! ## Deciding without clocks
//! The two sides pace each other with counters in shared memory ([`Board`]): a
//! receiver starts receiving a batch once the sender has sent all of it, or is seen
//! blocked sending it (its thread asleep in three looks in a row: the OS buffer is
//! full). So the small messages of a batch are all in the pipe together when the
//! receiver reads, and a pipe that does not frame its messages merges them in every
//! run; a message larger than the OS buffer is split by such a pipe in every run.
//!
//! A `recv` that never returns after the peer closed is decided by evidence, not by
//! a window: the check knows the child's end (the child sends its fd table, read
//! from `/proc/self/fd`, as its first message), so a parent that still holds it, the
//! reason end of file can never come, is seen in `/proc/self/fd`; a `recv` that keeps
//! trying after end of file burns CPU time, and [`HELD`] of it after the end of the
//! stream is proof (a correct `recv` returns within microseconds of CPU). Anything
//! else stuck (no progress, no CPU, for [`STALL`]) is a stall: the only verdict that
//! takes a window, and none of the mutants needs it.

use std::collections::BTreeSet;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use proptest::prelude::{prop_oneof, Just};
use proptest::strategy::{Strategy, ValueTree};
use racecourse_impl::process::heartbeat;
use racecourse_impl::process::shm::SharedMemory;
use racecourse_impl::process::worker::panic_message;
use racecourse_spec::child_processes::Child;
use racecourse_spec::job::{Death, Job, JobError};
use racecourse_spec::pipe::{ChildEnd, Pipe, PipeError};
use serde::{Deserialize, Serialize};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::watch::{children, gettid, idle, sched, HELD};
use crate::runner::{Finding, Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::job as __job;
#[doc(hidden)]
pub use racecourse_spec::pipe::ChildEnd as __ChildEnd;

/// The exercise's name in test names and reports.
pub const NAME: &str = "pipe";

/// A check fails as stalled once nothing at all happened for this long: no counter
/// moved, no message arrived, neither process used CPU time.
pub const STALL: Duration = Duration::from_secs(5);

/// Sequences of messages per direction in `boundaries` (the first one fixed).
pub const CASES: usize = 8;

/// The fixed first sequence of `boundaries`: empty, tiny, tiny, larger than the OS
/// pipe buffer (64 KiB by default, 128 KiB in the reference), empty, tiny (message
/// lengths).
pub const FIRST: [usize; 6] = [0, 1, 2, 200_000, 0, 3];

/// Rounds of `duplex`.
pub const ROUNDS: u32 = 12;

/// Messages the child sends before it closes (or dies) in `end_of_stream`.
pub const BEFORE_END: u32 = 3;

properties! { $ __pipe_table;
    /// Messages arrive whole and in order, one `recv` per `send`, both ways, for
    /// sequences drawn by proptest (empty, tiny, and larger than the OS pipe buffer).
    Boundaries => boundaries [process],
    /// Both sides send before either receives, in every round, and each gets exactly
    /// what the other sent.
    Duplex => duplex [process],
    /// After the peer closed its end, or died, `recv` gives the messages in flight and
    /// then `EndOfStream`, never a hang; a `send` then fails with `Closed`.
    EndOfStream => end_of_stream [process],
    /// The child inherits no fd of the parent's but its end, and the parent keeps
    /// nothing of the child's end (fd tables in `/proc`).
    NoFdLeak => no_fd_leak [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5, processes",
    title: "a duplex pipe between a parent and a child process",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "pipe",
        bound: "racecourse_spec::pipe::Pipe",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

// ---------------------------------------------------------------------------------
// The board: counters in shared memory that the two processes pace each other by.

const C_STARTED: usize = 0;
const C_SENT: usize = 1;
const P_STARTED: usize = 2;
const P_SENT: usize = 3;
/// The kernel thread id of the parent's thread that sends and receives, published by
/// [`watched`]: every suite that shares this board leaves slot 4 to it.
const P_TID: usize = 4;
const C_RECEIVED: usize = 5;
const P_RECEIVED: usize = 6;
const CLOSED: usize = 7;
const GATE: usize = 8;
/// Bumped on every change, and the futex word waiters sleep on.
pub(crate) const CHANGES: usize = 15;
const SLOTS: usize = 16;

/// Counters in a shared region (see the module docs).
#[derive(Debug)]
pub struct Board {
    memory: SharedMemory,
}

impl Board {
    pub(crate) fn create() -> Result<Board, Violation> {
        SharedMemory::create(SLOTS * 4)
            .map(|memory| Board { memory })
            .map_err(|e| Violation::new("a shared region for the board", e.to_string()))
    }

    pub(crate) fn attach(token: &str) -> Result<Board, String> {
        SharedMemory::attach(token)
            .map(|memory| Board { memory })
            .map_err(|e| format!("attaching the board: {e}"))
    }

    /// The board's token, for a child to attach.
    pub(crate) fn token(&self) -> &str {
        self.memory.token()
    }

    fn slot(&self, i: usize) -> &AtomicU32 {
        assert!(i < SLOTS && self.memory.len() >= SLOTS * 4);
        // SAFETY: the region is at least SLOTS * 4 bytes, page-aligned, shared and
        // lives as long as `self`; it is only ever accessed through atomics.
        unsafe { &*(self.memory.as_ptr().cast::<AtomicU32>().add(i)) }
    }

    pub(crate) fn get(&self, i: usize) -> u32 {
        self.slot(i).load(Ordering::SeqCst)
    }

    /// Sets counter `i` and wakes every waiter to look again.
    pub(crate) fn set(&self, i: usize, value: u32) {
        self.slot(i).store(value, Ordering::SeqCst);
        self.wake();
    }

    /// Adds one to counter `i` and wakes every waiter to look again.
    pub(crate) fn add(&self, i: usize) {
        self.slot(i).fetch_add(1, Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        self.slot(CHANGES).fetch_add(1, Ordering::SeqCst);
        // SAFETY: FUTEX_WAKE on a 4-byte aligned word of a live shared mapping; it
        // reads nothing else. Not FUTEX_PRIVATE: the sleepers are in other processes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.slot(CHANGES).as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
            )
        };
    }

    /// Waits until `ready()`, looking again on every change or every `look`; gives up
    /// (`Err`) once `gone()` says the other side is gone.
    pub(crate) fn wait(
        &self,
        look: Duration,
        mut ready: impl FnMut() -> bool,
        gone: impl Fn() -> Option<String>,
    ) -> Result<(), String> {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: look.as_nanos().min(999_999_999) as libc::c_long,
        };
        loop {
            let seen = self.get(CHANGES);
            if ready() {
                return Ok(());
            }
            if let Some(why) = gone() {
                // The other side may have taken its step and ended between the two
                // looks (a child's last step is often just before its exit): its
                // step, made before it ended, is visible now.
                if ready() {
                    return Ok(());
                }
                return Err(why);
            }
            // SAFETY: FUTEX_WAIT on a 4-byte aligned word of a live shared mapping,
            // with a timespec that outlives the call; it returns at once if the word
            // moved.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.slot(CHANGES).as_ptr(),
                    libc::FUTEX_WAIT,
                    seen,
                    &timeout as *const libc::timespec,
                )
            };
        }
    }
}

/// Whether thread `tid` of process `pid` is asleep (waiting in the kernel), or gone.
fn thread_asleep(pid: u32, tid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) else {
        return true;
    };
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .is_none_or(|state| matches!(state, 'S' | 'Z' | 'X'))
}

/// Counts looks in a row that found the sender blocked: three make it so.
pub(crate) struct Blocked(pub(crate) u32);

impl Blocked {
    pub(crate) fn look(&mut self, asleep: bool) -> bool {
        self.0 = if asleep { self.0 + 1 } else { 0 };
        self.0 >= 3
    }
}

/// How often a receiver looks at a sender it waits for.
pub(crate) const LOOK: Duration = Duration::from_millis(2);

/// How often a wait for a counter alone looks again (a change wakes it at once): slow,
/// so that a waiting process burns no CPU time the stall watch would take for work.
pub(crate) const SLOW: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------
// Fd tables.

/// One open fd of a process, as `/proc/self/fd` and `fcntl` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFd {
    pub(crate) fd: RawFd,
    dev: u64,
    ino: u64,
    /// `O_RDONLY`, `O_WRONLY` or `O_RDWR`: the two ends of one OS pipe share an
    /// inode, and differ here.
    access: i32,
    pub(crate) cloexec: bool,
    link: String,
}

impl OpenFd {
    /// What the fd refers to: the same file (pipe end, socket) in any process.
    pub(crate) fn object(&self) -> (u64, u64, i32) {
        (self.dev, self.ino, self.access)
    }

    pub(crate) fn describe(&self) -> String {
        let access = match self.access {
            libc::O_RDONLY => "read",
            libc::O_WRONLY => "write",
            _ => "read-write",
        };
        format!("fd {} ({}, {access})", self.fd, self.link)
    }
}

/// This process's open fds.
pub(crate) fn open_fds() -> Vec<OpenFd> {
    let numbers: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => return Vec::new(),
    };
    // The directory's own fd is closed by now: fstat below skips it.
    numbers
        .into_iter()
        .filter_map(|fd| {
            // SAFETY: fstat writes into a stat buffer we own; a closed fd gives EBADF.
            let mut stat: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            if unsafe { libc::fstat(fd, &mut stat) } == -1 {
                return None;
            }
            // SAFETY: fcntl F_GETFD / F_GETFL read the fd's flags only.
            let (fd_flags, fl_flags) = unsafe {
                (
                    libc::fcntl(fd, libc::F_GETFD),
                    libc::fcntl(fd, libc::F_GETFL),
                )
            };
            let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some(OpenFd {
                fd,
                dev: stat.st_dev,
                ino: stat.st_ino,
                access: fl_flags & libc::O_ACCMODE,
                cloexec: fd_flags & libc::FD_CLOEXEC != 0,
                link,
            })
        })
        .collect()
}

/// What the child reports as its first message: the fds it inherited (open at the
/// job's start and not close-on-exec: they survived the exec) and its end (those,
/// and the fds `open` added).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Listing {
    inherited: Vec<OpenFd>,
    end: Vec<OpenFd>,
}

/// Opens the child's end and lists its fds (see [`Listing`]).
fn open_listed<P: Pipe>(end: ChildEnd) -> Result<(P, Listing), String> {
    let before = open_fds();
    let inherited: Vec<OpenFd> = before
        .iter()
        .filter(|f| f.fd > 2 && !f.cloexec)
        .cloned()
        .collect();
    let pipe = P::open(end).map_err(|e| format!("open of the child's end failed: {e}"))?;
    let known: BTreeSet<RawFd> = before.iter().map(|f| f.fd).collect();
    let inherited_objects: BTreeSet<_> = inherited.iter().map(OpenFd::object).collect();
    let end = open_fds()
        .into_iter()
        .filter(|f| f.fd > 2 && (!known.contains(&f.fd) || inherited_objects.contains(&f.object())))
        .collect();
    Ok((pipe, Listing { inherited, end }))
}

fn encode_listing(listing: &Listing) -> Vec<u8> {
    postcard::to_stdvec(listing).expect("serializing to a Vec cannot fail")
}

// ---------------------------------------------------------------------------------
// Messages.

/// The lengths of the sequences `boundaries` sends: [`FIRST`] each way, then
/// sequences drawn by proptest from a fixed seed, the same in both processes.
fn sequences() -> Vec<Vec<usize>> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let length = prop_oneof![
        3 => Just(0usize),
        4 => 1..16usize,
        2 => 16..4096usize,
        1 => 131_073..300_000usize,
    ];
    let strategy = proptest::collection::vec(length, 0..8);
    let mut all = vec![FIRST.to_vec(), FIRST.to_vec()];
    while all.len() < 2 * CASES {
        all.push(
            strategy
                .new_tree(&mut runner)
                .expect("a fixed strategy draws")
                .current(),
        );
    }
    all
}

/// The content of message `index` of sequence `seq`: `len` bytes, different for every
/// message.
fn content(seq: usize, index: usize, len: usize) -> Vec<u8> {
    let salt = (seq * 131 + index * 7 + 1) as u64;
    (0..len as u64)
        .map(|j| ((j.wrapping_add(salt).wrapping_mul(0x9E37_79B1) >> 11) as u8) ^ (salt as u8))
        .collect()
}

/// Why `got` is not message `index` (of `len` bytes) of sequence `seq`, if it is not.
fn mismatch(seq: usize, index: usize, len: usize, got: &[u8]) -> Option<String> {
    let want = content(seq, index, len);
    if got == want.as_slice() {
        return None;
    }
    let first = want.iter().zip(got).position(|(a, b)| a != b);
    Some(format!(
        "message {index} of sequence {seq} (lengths {:?}) should be {len} bytes; recv gave {} bytes{}",
        sequences()[seq],
        got.len(),
        match first {
            Some(at) => format!(", differing from byte {at}"),
            None if got.len() < len => " (a prefix: the message was split)".to_string(),
            None => " (the message and more: messages merged)".to_string(),
        }
    ))
}

/// The `i`th message of round `round` from `from` in `duplex`.
fn duplex_message(from: &str, round: u32, i: u32) -> Vec<u8> {
    let mut m = format!("{from} round {round} message {i}").into_bytes();
    m.resize(
        m.len() + (round as usize * 37 + i as usize * 101) % 900,
        b'.',
    );
    m
}

/// How many messages each side sends in round `round` of `duplex`.
fn duplex_count(round: u32) -> u32 {
    1 + round % 3
}

// ---------------------------------------------------------------------------------
// The child's side.

/// What the suite's child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Script {
    /// `boundaries`: each sequence pair in turn, child to parent then parent to child.
    Boundaries {
        /// The board's token.
        board: String,
    },
    /// `duplex`.
    Duplex {
        /// The board's token.
        board: String,
    },
    /// `no_fd_leak`: send the listing, wait for one message, return.
    Listing,
    /// `end_of_stream` while alive: the listing, [`BEFORE_END`] messages, close, wait
    /// at the gate.
    CloseAlive {
        /// The board's token.
        board: String,
    },
    /// `end_of_stream` by death: the listing, [`BEFORE_END`] messages, `abort`.
    Die,
    /// `end_of_stream` for the child: receive until an error; report what came.
    RecvToEnd,
}

/// The parent of this process, gone? (the child's give-up check).
pub(crate) fn parent_gone(parent: u32) -> impl Fn() -> Option<String> {
    move || {
        (std::os::unix::process::parent_id() != parent)
            .then(|| "the parent process is gone".to_string())
    }
}

/// The child's side of every check: runs `script` on its end.
pub fn child_main<P: Pipe>((end, script): (ChildEnd, Script)) -> Result<String, String> {
    let parent = std::os::unix::process::parent_id();
    let send = |pipe: &mut P, m: &[u8], what: &str| {
        pipe.send(m)
            .map_err(|e| format!("the child's send of {what} failed: {e}"))
    };
    match script {
        Script::Boundaries { board } => {
            let board = Board::attach(&board)?;
            let mut pipe = P::open(end).map_err(|e| format!("open failed: {e}"))?;
            let seqs = sequences();
            for case in 0..CASES {
                let (out, back) = (2 * case, 2 * case + 1);
                board.set(C_STARTED, case as u32 + 1);
                for (i, &len) in seqs[out].iter().enumerate() {
                    send(&mut pipe, &content(out, i, len), "a message")?;
                }
                board.set(C_SENT, case as u32 + 1);
                let mut blocked = Blocked(0);
                let n = case as u32 + 1;
                board.wait(
                    LOOK,
                    || {
                        board.get(P_SENT) >= n
                            || (board.get(P_STARTED) >= n
                                && blocked.look(thread_asleep(parent, board.get(P_TID))))
                    },
                    parent_gone(parent),
                )?;
                for (i, &len) in seqs[back].iter().enumerate() {
                    let got = pipe.recv().map_err(|e| {
                        format!("the child's recv of message {i} of sequence {back} failed: {e}")
                    })?;
                    if let Some(why) = mismatch(back, i, len, &got) {
                        return Err(format!("in the child, {why}"));
                    }
                }
                board.set(C_RECEIVED, case as u32 + 1);
            }
            Ok("all sequences".into())
        }
        Script::Duplex { board } => {
            let board = Board::attach(&board)?;
            let mut pipe = P::open(end).map_err(|e| format!("open failed: {e}"))?;
            for round in 0..ROUNDS {
                let n = round + 1;
                let count = duplex_count(round);
                let parent_first = round % 2 == 0;
                if parent_first {
                    board.wait(SLOW, || board.get(P_SENT) >= n, parent_gone(parent))?;
                }
                for i in 0..count {
                    send(&mut pipe, &duplex_message("child", round, i), "a message")?;
                }
                board.set(C_SENT, n);
                // The parent receives first in even rounds, the child in odd ones.
                if parent_first {
                    board.wait(SLOW, || board.get(P_RECEIVED) >= n, parent_gone(parent))?;
                } else {
                    board.wait(SLOW, || board.get(P_SENT) >= n, parent_gone(parent))?;
                }
                for i in 0..count {
                    let got = pipe
                        .recv()
                        .map_err(|e| format!("the child's recv in round {round} failed: {e}"))?;
                    let want = duplex_message("parent", round, i);
                    if got != want {
                        return Err(format!(
                            "in round {round} the child's recv {i} gave {:?}, not the parent's message {:?}",
                            String::from_utf8_lossy(&got[..got.len().min(40)]),
                            String::from_utf8_lossy(&want[..want.len().min(40)]),
                        ));
                    }
                }
                board.set(C_RECEIVED, n);
            }
            Ok("all rounds".into())
        }
        Script::Listing => {
            let (mut pipe, listing) = open_listed::<P>(end)?;
            send(&mut pipe, &encode_listing(&listing), "its fd table")?;
            pipe.recv()
                .map_err(|e| format!("the child's recv of the parent's go-ahead failed: {e}"))?;
            Ok("listed".into())
        }
        Script::CloseAlive { board } => {
            let board = Board::attach(&board)?;
            let (mut pipe, listing) = open_listed::<P>(end)?;
            send(&mut pipe, &encode_listing(&listing), "its fd table")?;
            for i in 0..BEFORE_END {
                send(&mut pipe, &content(99, i as usize, 10), "a message")?;
            }
            pipe.close();
            board.set(CLOSED, 1);
            board.wait(
                Duration::from_millis(100),
                || board.get(GATE) != 0,
                parent_gone(parent),
            )?;
            Ok("closed".into())
        }
        Script::Die => {
            let (mut pipe, listing) = open_listed::<P>(end)?;
            send(&mut pipe, &encode_listing(&listing), "its fd table")?;
            for i in 0..BEFORE_END {
                send(&mut pipe, &content(99, i as usize, 10), "a message")?;
            }
            std::process::abort()
        }
        Script::RecvToEnd => {
            let mut pipe = P::open(end).map_err(|e| format!("open failed: {e}"))?;
            let mut count = 0;
            loop {
                match pipe.recv() {
                    Ok(m) if m == content(98, count, 10) => count += 1,
                    Ok(m) => {
                        return Err(format!(
                            "message {count} was {m:?}, not what the parent sent"
                        ))
                    }
                    Err(PipeError::EndOfStream) => {
                        return Ok(format!(
                            "{count} messages, then the end of the stream; {}",
                            send_after_end(&mut pipe)
                        ))
                    }
                    Err(e) => {
                        return Err(format!(
                            "after {count} messages recv failed with {e:?}, not EndOfStream"
                        ))
                    }
                }
            }
        }
    }
}

/// What a `send` did after `recv` gave `EndOfStream` (it must fail with `Closed`).
fn send_after_end<P: Pipe>(pipe: &mut P) -> String {
    match pipe.send(b"after the end") {
        Err(PipeError::Closed) => SEND_CLOSED.to_string(),
        Ok(()) => "then send said Ok: a message to a closed peer was accepted, and lost (send must fail with Closed)".to_string(),
        Err(e) => format!("then send failed with {e:?}, not Closed"),
    }
}

/// [`send_after_end`]'s words for a correct pipe.
const SEND_CLOSED: &str = "then send failed with Closed";

/// The child job for the pipe type `P`; declare one with the macro `__register_worker!`.
pub struct PipeWorker<P> {
    job: &'static Job<(ChildEnd, Script), String>,
    _pipe: std::marker::PhantomData<fn() -> P>,
}

impl<P> PipeWorker<P> {
    #[doc(hidden)]
    pub const fn __new(job: &'static Job<(ChildEnd, Script), String>) -> Self {
        PipeWorker {
            job,
            _pipe: std::marker::PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for PipeWorker<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<P>())
    }
}

/// Declares the child job of a pipe type: `__register_worker!(static NAME: Type)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __register_pipe {
    ($vis:vis static $name:ident : $ty:ty $(;)?) => {
        $vis static $name: $crate::pipe::PipeWorker<$ty> = {
            $crate::pipe::__job!(static $name: fn(($crate::pipe::__ChildEnd, $crate::pipe::Script)) -> ::std::string::String = $crate::pipe::child_main::<$ty>);
            $crate::pipe::PipeWorker::__new(&$name)
        };
    };
}

#[doc(hidden)]
pub use crate::__register_pipe as __register_worker;

// ---------------------------------------------------------------------------------
// The parent's side: each blocking step on a thread of its own, watched.

/// What the watcher sees move: the board and the children's CPU time. Not the
/// step's own CPU time: a `recv` that spins on a dead peer must not pass for one at
/// work (no correct step of the parent computes for seconds).
fn signature(board: Option<&Board>) -> u64 {
    let cpu: u64 = children().iter().map(|c| c.cpu.as_millis() as u64).sum();
    cpu.wrapping_mul(31)
        .wrapping_add(board.map_or(0, |b| u64::from(b.get(CHANGES))) << 24)
}

/// Extra evidence a watcher looks at while a step runs: `Some` is a verdict.
pub(crate) type Evidence<'a> = &'a mut dyn FnMut(libc::pid_t) -> Option<Violation>;

/// Runs `step` on a thread of its own (its tid published in `P_TID` if there is a
/// board), and waits for it: fails once `evidence` gives a verdict, or on a stall (see
/// [`STALL`]). A step still stuck after a verdict is left behind: it ends with this
/// process.
pub(crate) fn watched<T: Send + 'static>(
    what: &str,
    board: Option<&Arc<Board>>,
    evidence: Evidence<'_>,
    step: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Violation> {
    let tid = Arc::new(AtomicI32::new(0));
    let (tx, rx) = mpsc::channel();
    let published = Arc::clone(&tid);
    let shared = board.cloned();
    std::thread::Builder::new()
        .name("racecourse-pipe-parent".into())
        .spawn(move || {
            let me = gettid();
            published.store(me, Ordering::SeqCst);
            if let Some(board) = shared {
                board.set(P_TID, me as u32);
            }
            let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(step)));
        })
        .map_err(|e| Violation::new("a thread for the parent's side", e.to_string()))?;
    while tid.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let board = board.map(|b| &**b);
    let mut last = signature(board);
    let mut since = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(2)) {
            Ok(Ok(value)) => {
                heartbeat::beat();
                return Ok(value);
            }
            Ok(Err(payload)) => {
                return Err(Violation::new(
                    what,
                    format!("the parent's side panicked: {}", panic_message(&*payload)),
                )
                .of_kind(Kind::Panic))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Violation::new(
                    what,
                    "the parent's thread ended without an outcome",
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(verdict) = evidence(tid.load(Ordering::SeqCst)) {
                    return Err(verdict);
                }
                let now = signature(board);
                if now != last {
                    last = now;
                    since = Instant::now();
                    heartbeat::beat();
                } else if since.elapsed() >= STALL {
                    return Err(Violation::new(
                        what,
                        format!(
                            "nothing happened for {STALL:?}: no message, no counter moved, no process used CPU time"
                        ),
                    )
                    .of_kind(Kind::Stall));
                }
            }
        }
    }
}

pub(crate) fn no_evidence(_: libc::pid_t) -> Option<Violation> {
    None
}

fn failed(what: &str, e: impl std::fmt::Display) -> Violation {
    Violation::new(what, e.to_string())
}

/// Spawns the child of `worker` on `script`.
fn spawn<P: Pipe>(
    worker: &'static PipeWorker<P>,
    script: Script,
    what: &str,
) -> Result<(P, P::Child<String>), Violation> {
    P::spawn(worker.job, script).map_err(|e| failed(what, format!("spawn failed: {e}")))
}

/// Joins `child` (watched), expecting its script to succeed.
fn join_ok<C: Child<String> + Send + 'static>(
    child: C,
    what: &str,
    board: Option<&Arc<Board>>,
) -> Result<String, Violation> {
    match watched(what, board, &mut no_evidence, move || child.join())? {
        Ok(said) => Ok(said),
        Err(JobError::Failed(why)) => Err(Violation::new(what, why)),
        Err(e) => Err(Violation::new(what, format!("the child's job failed: {e}"))),
    }
}

/// The parent's wait for the child's counters: gives up if the child is gone.
pub(crate) fn child_gone(pid: u32) -> impl Fn() -> Option<String> {
    move || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let state = stat
            .as_deref()
            .and_then(|s| s.rsplit_once(") "))
            .and_then(|(_, rest)| rest.chars().next());
        match state {
            None | Some('Z') | Some('X') => Some("the child process ended".to_string()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------
// The checks.

/// Ends a paced check: the parent's side gave its end back (`Ok`), or failed with a
/// reason and whether the child had ended first (its recv or send failed, or a wait
/// found it gone). If so, the child's own report says more (a mismatch it found), so
/// it is joined; otherwise the child is killed with its handle and the parent's
/// reason stands.
fn conclude<P, C: Child<String> + Send + 'static>(
    child: C,
    what: &str,
    board: &Arc<Board>,
    outcome: Result<P, (String, bool)>,
) -> Result<(), Violation> {
    match outcome {
        Ok(pipe) => {
            drop(pipe);
            join_ok(child, what, Some(board)).map(drop)
        }
        Err((why, true)) => {
            match watched(what, Some(board), &mut no_evidence, move || child.join())? {
                Err(JobError::Failed(child_why)) if child_why.starts_with("in ") => {
                    Err(Violation::new(what, child_why))
                }
                // The child's outcome too: why it ended is half the story.
                Err(e) => Err(Violation::new(what, format!("{why} ({e})"))),
                Ok(said) => Err(Violation::new(
                    what,
                    format!("{why} (its job returned: {said})"),
                )),
            }
        }
        Err((why, false)) => {
            drop(child);
            Err(Violation::new(what, why))
        }
    }
}

/// A failure of the parent's side caused by the child's end (see [`conclude`]).
fn peer(why: String) -> (String, bool) {
    (why, true)
}

/// A failure the parent's side found itself.
fn own(why: String) -> (String, bool) {
    (why, false)
}

fn boundaries<P: Pipe>(worker: &'static PipeWorker<P>) -> Result<(), Violation> {
    let what = "each recv to give exactly the next message sent, whole, both ways";
    let board = Arc::new(Board::create()?);
    let script = Script::Boundaries {
        board: board.memory.token().to_owned(),
    };
    let (mut pipe, child) = spawn(worker, script, what)?;
    let pid = child.pid();
    let shared = Arc::clone(&board);
    let outcome = watched(what, Some(&board), &mut no_evidence, move || {
        let board = shared;
        let seqs = sequences();
        for case in 0..CASES {
            let (out, back) = (2 * case, 2 * case + 1);
            let n = case as u32 + 1;
            let mut blocked = Blocked(0);
            board
                .wait(
                    LOOK,
                    || {
                        board.get(C_SENT) >= n
                            || (board.get(C_STARTED) >= n && blocked.look(idle(pid)))
                    },
                    child_gone(pid),
                )
                .map_err(peer)?;
            for (i, &len) in seqs[out].iter().enumerate() {
                let got = pipe.recv().map_err(|e| {
                    peer(format!(
                        "the parent's recv of message {i} of sequence {out} failed: {e}"
                    ))
                })?;
                if let Some(why) = mismatch(out, i, len, &got) {
                    return Err(own(format!("in the parent, {why}")));
                }
            }
            board.set(P_STARTED, n);
            for (i, &len) in seqs[back].iter().enumerate() {
                if let Err(e) = pipe.send(&content(back, i, len)) {
                    return Err(peer(format!("the parent's send failed: {e}")));
                }
            }
            board.set(P_SENT, n);
            board
                .wait(SLOW, || board.get(C_RECEIVED) >= n, child_gone(pid))
                .map_err(peer)?;
        }
        Ok(pipe)
    })?;
    conclude(child, what, &board, outcome)
}

fn duplex<P: Pipe>(worker: &'static PipeWorker<P>) -> Result<(), Violation> {
    let what = "both sides to send before either receives, and each to receive exactly what the other sent";
    let board = Arc::new(Board::create()?);
    let script = Script::Duplex {
        board: board.memory.token().to_owned(),
    };
    let (mut pipe, child) = spawn(worker, script, what)?;
    let pid = child.pid();
    let shared = Arc::clone(&board);
    let outcome = watched(what, Some(&board), &mut no_evidence, move || {
        let board = shared;
        for round in 0..ROUNDS {
            let n = round + 1;
            let count = duplex_count(round);
            let parent_first = round % 2 == 0;
            if !parent_first {
                board
                    .wait(SLOW, || board.get(C_SENT) >= n, child_gone(pid))
                    .map_err(peer)?;
            }
            for i in 0..count {
                pipe.send(&duplex_message("parent", round, i))
                    .map_err(|e| peer(format!("the parent's send in round {round} failed: {e}")))?;
            }
            board.set(P_SENT, n);
            if parent_first {
                board
                    .wait(SLOW, || board.get(C_SENT) >= n, child_gone(pid))
                    .map_err(peer)?;
            } else {
                board
                    .wait(SLOW, || board.get(C_RECEIVED) >= n, child_gone(pid))
                    .map_err(peer)?;
            }
            for i in 0..count {
                let got = pipe
                    .recv()
                    .map_err(|e| peer(format!("the parent's recv in round {round} failed: {e}")))?;
                let want = duplex_message("child", round, i);
                if got != want {
                    return Err(own(format!(
                        "in round {round} ({} sent first) the parent's recv {i} gave {:?}, not the child's message {:?}",
                        if parent_first { "the parent" } else { "the child" },
                        String::from_utf8_lossy(&got[..got.len().min(40)]),
                        String::from_utf8_lossy(&want[..want.len().min(40)]),
                    )));
                }
            }
            board.set(P_RECEIVED, n);
            if parent_first {
                board
                    .wait(SLOW, || board.get(C_RECEIVED) >= n, child_gone(pid))
                    .map_err(peer)?;
            }
        }
        Ok(pipe)
    })?;
    conclude(child, what, &board, outcome)
}

/// This process's fds that are not close-on-exec, as objects: they are inherited by
/// every child whatever the pipe does (from the test runner, say), so they are no
/// leak of the implementation's.
pub(crate) fn ambient() -> BTreeSet<(u64, u64, i32)> {
    open_fds()
        .iter()
        .filter(|f| f.fd > 2 && !f.cloexec)
        .map(OpenFd::object)
        .collect()
}

/// Receives and decodes the child's listing (its first message), watched.
fn recv_listing<P: Pipe>(mut pipe: P, what: &str) -> Result<(P, Listing), Violation> {
    let got = watched(what, None, &mut no_evidence, move || {
        let got = pipe.recv();
        (pipe, got)
    })?;
    let (pipe, got) = got;
    let bytes = got.map_err(|e| {
        failed(
            what,
            format!("the parent's recv of the child's first message failed: {e}"),
        )
    })?;
    let listing = postcard::from_bytes(&bytes).map_err(|e| {
        failed(
            what,
            format!(
                "the child's first message (its fd table, {} bytes) did not decode: {e}",
                bytes.len()
            ),
        )
    })?;
    Ok((pipe, listing))
}

/// The fds of this process that hold an object of the child's end (the ambient fds,
/// which every child inherits, aside).
fn holding_child_end(listing: &Listing, ambient: &BTreeSet<(u64, u64, i32)>) -> Vec<OpenFd> {
    let end: BTreeSet<_> = listing
        .end
        .iter()
        .map(OpenFd::object)
        .filter(|o| !ambient.contains(o))
        .collect();
    open_fds()
        .into_iter()
        .filter(|f| f.fd > 2 && end.contains(&f.object()))
        .collect()
}

pub(crate) fn describe_all(fds: &[OpenFd]) -> String {
    fds.iter()
        .map(OpenFd::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_fd_leak<P: Pipe>(worker: &'static PipeWorker<P>) -> Result<(), Violation> {
    let what = "the child to hold no fd of the parent's but its end, and the parent nothing of the child's end";
    let ambient = ambient();
    let (pipe, child) = spawn(worker, Script::Listing, what)?;
    let (mut pipe, listing) = recv_listing(pipe, what)?;
    let mut child_side: Vec<OpenFd> = listing
        .inherited
        .iter()
        .chain(&listing.end)
        .filter(|f| !ambient.contains(&f.object()))
        .cloned()
        .collect();
    child_side.sort_by_key(|f| f.fd);
    child_side.dedup_by_key(|f| f.fd);
    let objects: BTreeSet<_> = child_side.iter().map(OpenFd::object).collect();
    let parent_side: Vec<OpenFd> = open_fds()
        .into_iter()
        .filter(|f| f.fd > 2 && objects.contains(&f.object()))
        .collect();
    let verdict = if parent_side.is_empty() {
        Ok(())
    } else {
        let shared: BTreeSet<_> = parent_side.iter().map(OpenFd::object).collect();
        let in_child: Vec<OpenFd> = child_side
            .into_iter()
            .filter(|f| shared.contains(&f.object()))
            .collect();
        Err(Violation::new(
            what,
            format!(
                "after spawn the parent holds {} and the child {}: the same pipe ends, in both processes \
                 (a copy of the child's end kept by the parent, the parent's end passed to the child, or close-on-exec missing)",
                describe_all(&parent_side),
                describe_all(&in_child)
            ),
        ))
    };
    let _ = pipe.send(b"go");
    drop(pipe);
    verdict?;
    join_ok(child, what, None).map(drop)
}

/// Receives `count` messages of sequence 99 (the child's before it ends), watched.
fn recv_before_end<P: Pipe>(pipe: P, what: &str) -> Result<P, Violation> {
    let (pipe, got) = watched(what, None, &mut no_evidence, move || {
        let mut pipe = pipe;
        let mut got = Ok(());
        for i in 0..BEFORE_END as usize {
            match pipe.recv() {
                Ok(m) => {
                    if let Some(why) = mismatch(99, i, 10, &m) {
                        got = Err(why);
                        break;
                    }
                }
                Err(e) => {
                    got = Err(format!("recv of message {i} of {BEFORE_END} the child sent before its end failed: {e}"));
                    break;
                }
            }
        }
        (pipe, got)
    })?;
    got.map_err(|why| Violation::new(what, why))?;
    Ok(pipe)
}

/// The parent's `recv` once the child's end is closed: must be `EndOfStream`, and a
/// `send` after it must fail with `Closed`. While the `recv` runs, a parent holding
/// the child's end, or a `recv` burning [`HELD`] of CPU time, is the verdict (see the
/// module docs).
fn recv_end<P: Pipe>(
    pipe: P,
    listing: &Listing,
    ambient: &BTreeSet<(u64, u64, i32)>,
    what: &str,
) -> Result<(), Violation> {
    let mut start_cpu = None;
    let mut evidence = |tid: libc::pid_t| {
        let held = holding_child_end(listing, ambient);
        if !held.is_empty() {
            return Some(Violation::new(
                what,
                format!(
                    "recv is still waiting, and can never see the end of the stream: the parent itself holds an end the child held, {}",
                    describe_all(&held)
                ),
            ));
        }
        let (_, cpu) = sched(tid)?;
        let start = *start_cpu.get_or_insert(cpu);
        (cpu.saturating_sub(start) >= HELD).then(|| {
            Violation::new(
                what,
                format!(
                    "recv is still running after the end of the stream: it burnt {:?} of CPU time since, trying again instead of returning EndOfStream",
                    cpu.saturating_sub(start)
                ),
            )
        })
    };
    let (pipe, got) = watched(what, None, &mut evidence, move || {
        let mut pipe = pipe;
        let got = pipe.recv();
        (pipe, got)
    })?;
    match got {
        Err(PipeError::EndOfStream) => {
            let sent = watched(what, None, &mut no_evidence, move || {
                let mut pipe = pipe;
                send_after_end(&mut pipe)
            })?;
            if sent == SEND_CLOSED {
                Ok(())
            } else {
                Err(Violation::new(
                    what,
                    format!("recv gave EndOfStream, {sent}"),
                ))
            }
        }
        Ok(m) => Err(Violation::new(
            what,
            format!(
                "recv gave one more message ({} bytes) instead of EndOfStream",
                m.len()
            ),
        )),
        Err(e) => Err(Violation::new(
            what,
            format!("recv failed with {e:?} instead of EndOfStream"),
        )),
    }
}

fn end_of_stream<P: Pipe>(worker: &'static PipeWorker<P>) -> Result<(), Violation> {
    // 1. The child closes its end and lives on.
    {
        let what =
            "after the child closed its end (still running): its 3 messages, then EndOfStream, then a send fails with Closed";
        let board = Arc::new(Board::create()?);
        let script = Script::CloseAlive {
            board: board.memory.token().to_owned(),
        };
        let ambient = ambient();
        let (pipe, child) = spawn(worker, script, what)?;
        let pid = child.pid();
        let outcome = (|| {
            let (pipe, listing) = recv_listing(pipe, what)?;
            let pipe = recv_before_end(pipe, what)?;
            let shared = Arc::clone(&board);
            watched(what, Some(&board), &mut no_evidence, move || {
                shared.wait(SLOW, || shared.get(CLOSED) != 0, child_gone(pid))
            })?
            .map_err(|why| {
                Violation::new(what, format!("the child did not close its end: {why}"))
            })?;
            recv_end(pipe, &listing, &ambient, what)
        })();
        board.set(GATE, 1);
        outcome?;
        join_ok(child, what, Some(&board))?;
    }
    // 2. The child dies (abort) without closing.
    {
        let what = "after the child died (abort) without closing: its 3 messages, then EndOfStream, then a send fails with Closed";
        let ambient = ambient();
        let (pipe, child) = spawn(worker, Script::Die, what)?;
        let (pipe, listing) = recv_listing(pipe, what)?;
        let pipe = recv_before_end(pipe, what)?;
        match watched(what, None, &mut no_evidence, move || child.join())? {
            Err(JobError::Crashed(Death::Signaled(libc::SIGABRT))) => {}
            other => {
                return Err(Violation::new(
                    what,
                    format!("the child should have died of SIGABRT; join gave {other:?}"),
                ))
            }
        }
        recv_end(pipe, &listing, &ambient, what)?;
    }
    // 3. The parent closes its end: the child's recv must end.
    {
        let what = "after the parent sent 3 messages and closed its end, the child's recv: 3 messages, then EndOfStream, then a send fails with Closed";
        let (mut pipe, child) = spawn(worker, Script::RecvToEnd, what)?;
        for i in 0..BEFORE_END as usize {
            pipe.send(&content(98, i, 10))
                .map_err(|e| failed(what, format!("the parent's send failed: {e}")))?;
        }
        pipe.close();
        let said = join_ok(child, what, None)?;
        let expected = format!("{BEFORE_END} messages, then the end of the stream; {SEND_CLOSED}");
        if said != expected {
            return Err(Violation::new(what, format!("the child got {said}")));
        }
    }
    Ok(())
}

/// Checks `property` of the pipe type run by `worker`, in real processes.
pub fn check<P: Pipe>(worker: &'static PipeWorker<P>, property: Property) -> Result<(), Finding> {
    let outcome = match property {
        Property::Boundaries => boundaries(worker),
        Property::Duplex => duplex(worker),
        Property::EndOfStream => end_of_stream(worker),
        Property::NoFdLeak => no_fd_leak(worker),
    };
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "a real child process (spawn start method); the two sides pace each other with counters in shared memory".to_string(),
                replay_env: Vec::new(),
            },
            format!("property {}", property.name()),
        )
    })
}

crate::__register_pipe!(static RING_PIPE: racecourse_impl::process::ring_pipe::RingPipe);
crate::__register_pipe!(static OS_PIPE: racecourse_impl::process::pipe::OsPipe);
crate::__register_pipe!(static SEQPACKET: crate::must_pass::pipe::SeqPacket);
crate::__register_pipe!(static UNFRAMED: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::UNFRAMED }>);
crate::__register_pipe!(static EOF_SPINS: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::EOF_SPINS }>);
crate::__register_pipe!(static KEEPS_CHILD_END: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::KEEPS_CHILD_END }>);
crate::__register_pipe!(static ONE_PIPE: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::ONE_PIPE }>);
crate::__register_pipe!(static LEAKS_PARENT_END: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::LEAKS_PARENT_END }>);
crate::__register_pipe!(static IGNORES_SEND_ERRORS: crate::mutants::pipe::Flawed<{ crate::mutants::pipe::IGNORES_SEND_ERRORS }>);

/// The pipe's implementations (reference, must-pass, mutants), on real processes.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let implementation = |name, role, check| Implementation {
        exercise: NAME,
        name,
        role,
        check,
    };
    let mutant = |must_fail| Role::Mutant { must_fail };
    vec![
        implementation("ring_pipe", Role::Reference, |p| {
            check(&RING_PIPE, Property::named(p))
        }),
        implementation("os_pipe", Role::Reference, |p| {
            check(&OS_PIPE, Property::named(p))
        }),
        implementation("seqpacket", Role::MustPass, |p| {
            check(&SEQPACKET, Property::named(p))
        }),
        implementation("unframed", mutant(&["boundaries"]), |p| {
            check(&UNFRAMED, Property::named(p))
        }),
        implementation("eof_spins", mutant(&["end_of_stream"]), |p| {
            check(&EOF_SPINS, Property::named(p))
        }),
        implementation(
            "keeps_child_end",
            mutant(&["end_of_stream", "no_fd_leak"]),
            |p| check(&KEEPS_CHILD_END, Property::named(p)),
        ),
        implementation(
            "one_pipe",
            mutant(&["duplex", "end_of_stream", "no_fd_leak"]),
            |p| check(&ONE_PIPE, Property::named(p)),
        ),
        implementation("leaks_parent_end", mutant(&["no_fd_leak"]), |p| {
            check(&LEAKS_PARENT_END, Property::named(p))
        }),
        implementation("ignores_send_errors", mutant(&["end_of_stream"]), |p| {
            check(&IGNORES_SEND_ERRORS, Property::named(p))
        }),
    ]
}

/// Generates the pipe tests (real processes), named `pipe::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::pipe! {
///     mine => my_crate::pipe { pipe: MyPipe },
/// }
/// ```
///
/// The type must implement [`Pipe`]; the macro registers the child job that runs it
/// in re-executed processes. `not_attempted` generates one ignored test saying so.
#[macro_export]
macro_rules! pipe {
    (not_attempted) => {
        $crate::__not_attempted!(pipe);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { pipe: $ty:ident }),+ $(,)?) => {
        $crate::__pipe_table! { pipe [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::pipe!(runtimes: [process], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kill matrix rejected the must-pass `seqpacket` once in ten runs under two
    /// CPU hogs: the parent looked at the child's counter (not there yet), the child
    /// set it and ended, and the parent's next look found it gone. A step made before
    /// the end must count.
    #[test]
    fn a_step_made_just_before_the_other_side_ended_counts() {
        let board = Board::create().unwrap();
        let mut looks = 0;
        let ready = || {
            looks += 1;
            looks > 1
        };
        let gone = || Some("the child process ended".to_string());
        assert_eq!(board.wait(Duration::from_millis(1), ready, gone), Ok(()));
    }

    #[test]
    fn a_side_that_ended_without_the_step_is_reported() {
        let board = Board::create().unwrap();
        let gone = || Some("the child process ended".to_string());
        assert_eq!(
            board.wait(Duration::from_millis(1), || false, gone),
            Err("the child process ended".to_string())
        );
    }
}
