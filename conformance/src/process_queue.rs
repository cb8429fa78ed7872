//! E5 process Queue suite (processes): a student's [`ProcessQueue`] shared by the
//! checking process and producer and consumer children it starts (spawn start
//! method), running the suite's scripts.
//!
//! Properties (see `EXERCISES.md`, E5 "Process Queue (P)", and the contract in
//! `racecourse_spec::process_queue`):
//! - `exactly_once`: two producers put 60 items each (8 bytes to 70 000, tagged with
//!   producer and number) into a queue of capacity 3 while two consumers get them;
//!   then the parent puts one stop item per consumer: every item is got exactly
//!   once, whole;
//! - `fifo`: two producers put mixed sizes (the empty item, 8 bytes, more than
//!   `PIPE_BUF`), 60 KiB in all, and end; then one consumer gets them all: each
//!   producer's items come out in its order;
//! - `two_consumers`: a producer puts 6 small items and ends; a consumer takes one
//!   and ends; a second consumer must get the other 5 (an item a consumer took from
//!   the stream but did not return is lost);
//! - `bound`: a producer puts 5 items into a queue of capacity 3: it must be seen
//!   blocked with exactly 3 put, get one more in after each `get` of the parent's, and
//!   never be seen blocked with room;
//! - `no_fd_leak`: with two queues made, a child of the first inherits nothing of the
//!   second's (nor anything else of the parent's but its queue), and after `open`
//!   holds no fd a process it starts would inherit (fd tables in `/proc`).
//!
//! ## Deciding without clocks
//! Each child counts on a board in shared memory ([`Board`]): started (its queue
//! open), and items put or got so far. "Blocked" is seen, not timed: every thread
//! of a process asleep in three looks in a row (a process starved of CPU is runnable,
//! never asleep). Lost items are proven, not waited for: when every live child of
//! the check (and the parent's `get`, if it runs one) is blocked, all started, while
//! more items were put than got, no correct queue can be in that state (an item in
//! the queue wakes a `get`), so some item is lost. A child that ended normally
//! proves nothing (the check is joining it, and the items it left are for children
//! it starts next); one that crashed is named as the cause. A queue that spins
//! before it sleeps (`RingQueue` spins 50 µs) is running, not blocked, while it
//! spins: it only delays the proof. Anything else stuck (nothing moved for
//! [`STALL`]) is a stall.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use racecourse_spec::child_processes::Child;
use racecourse_spec::job::{Job, JobError};
use racecourse_spec::process_queue::{ProcessQueue, QueueHandle};
use serde::{Deserialize, Serialize};

use crate::pipe::{
    ambient, child_gone, describe_all, no_evidence, open_fds, parent_gone, watched, Blocked, Board,
    OpenFd,
};
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::watch::{children, idle, sched};
use crate::runner::{Finding, Found, Runtime};

pub use crate::pipe::STALL;

#[doc(hidden)]
pub use racecourse_impl::job as __job;
#[doc(hidden)]
pub use racecourse_spec::process_queue::QueueHandle as __QueueHandle;

/// The exercise's name in test names and reports.
pub const NAME: &str = "process_queue";

/// Items each producer puts in `exactly_once`.
pub const ITEMS: u32 = 60;

/// The capacity of the queue in `exactly_once`.
pub const CAPACITY: usize = 3;

/// The capacity of the queue in `bound`, and the items its producer puts.
pub const BOUND: u32 = 3;
/// Items the producer of `bound` puts.
pub const BOUND_PUTS: u32 = BOUND + 2;

/// Items the producer of `two_consumers` puts.
pub const RACE_ITEMS: u32 = 6;

properties! { $ __process_queue_table;
    /// Every item put by two producer processes is got exactly once, whole, by two
    /// consumer processes racing for them (a queue of capacity 3, items up to 70 000
    /// bytes).
    ExactlyOnce => exactly_once [process],
    /// The items of each producer come out in the order it put them (mixed sizes: the
    /// empty item, 8 bytes, more than `PIPE_BUF`).
    Fifo => fifo [process],
    /// Items one consumer did not return are still there for the next: a consumer
    /// that took one item and ended leaves the other 5 to a second consumer.
    TwoConsumers => two_consumers [process],
    /// A producer blocks with exactly `c` items in a queue of capacity `c`, never with
    /// room, and each `get` lets exactly one more `put` in.
    Bound => bound [process],
    /// A child holds its queue's fds and nothing else of the parent's (not another
    /// queue's), and after `open` nothing a process it starts would inherit.
    NoFdLeak => no_fd_leak [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5, processes",
    title: "a FIFO queue shared by producer and consumer processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "queue",
        bound: "racecourse_spec::process_queue::ProcessQueue",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

// ---------------------------------------------------------------------------------
// The board: slot `r` counts what child `r` put or got, slot `STARTED + r` says it
// opened its queue. Slot 4 is the parent's thread id (`watched`), 15 the changes.

/// The first of the started flags.
const STARTED: usize = 5;
/// Counts the items the parent got itself (`bound`).
const PARENT_GOT: usize = 10;

// ---------------------------------------------------------------------------------
// Items.

/// The producer tag of a stop item.
const STOP: u32 = u32::MAX;
/// The tag recorded for the empty item.
const EMPTY: u32 = u32::MAX - 1;
/// A stop item's size: more than `PIPE_BUF`, like the large items, so an
/// implementation that keeps large and small items apart still delivers every item
/// before the stops.
const STOP_LEN: usize = 5000;

/// Item `seq` of producer `producer`, `len` bytes (at least 8): the tags, then bytes
/// that differ for every item.
fn item(producer: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len.max(8));
    bytes.extend_from_slice(&producer.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    let salt = u64::from(producer) * 7919 + u64::from(seq) * 31 + 1;
    bytes
        .extend((8..len as u64).map(|j| (j.wrapping_mul(salt).wrapping_add(salt >> 3) >> 2) as u8));
    bytes
}

/// Decodes an item: `(producer, seq)`, or why it is not an item any producer put.
fn decode(bytes: &[u8], len_of: impl Fn(u32, u32) -> Option<usize>) -> Result<(u32, u32), String> {
    if bytes.is_empty() {
        return Ok((EMPTY, 0));
    }
    if bytes.len() < 8 {
        return Err(format!("an item of {} bytes, shorter than any item put (8 bytes at least, or empty): a cut item", bytes.len()));
    }
    let producer = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    let seq = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let Some(len) = len_of(producer, seq) else {
        return Err(format!("an item tagged producer {producer}, number {seq}, which nobody put: a cut or merged item"));
    };
    if bytes != item(producer, seq, len).as_slice() {
        return Err(format!(
            "item {seq} of producer {producer} came out as {} bytes that differ from the {len} put: cut, merged or garbled",
            bytes.len()
        ));
    }
    Ok((producer, seq))
}

/// The sizes producer `producer` puts in `exactly_once`.
fn once_sizes(producer: u32) -> Vec<usize> {
    (0..ITEMS)
        .map(|i| match (i + producer) % 6 {
            0 => 70_000,
            1 | 3 => 8,
            2 => 4_090,
            4 => 5_000,
            _ => 300,
        })
        .collect()
}

/// The sizes producer `producer` puts in `fifo` (60 KiB in all for two, so every
/// `put` has room in any queue's buffer); 0 is the empty item.
fn fifo_sizes(producer: u32) -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..24)
        .map(|i| {
            if (i + producer).is_multiple_of(3) {
                5_000
            } else {
                8 + i as usize
            }
        })
        .collect();
    if producer == 0 {
        sizes[5] = 0;
    }
    sizes
}

/// The sizes of `two_consumers`.
fn race_sizes() -> Vec<usize> {
    vec![8, 16, 24, 8, 40, 8]
}

fn stop_item() -> Vec<u8> {
    item(STOP, 0, STOP_LEN)
}

// ---------------------------------------------------------------------------------
// The child's side.

/// What the suite's child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Script {
    /// Put items of `sizes` tagged `producer`, counting them in slot `role`.
    Produce {
        /// The board's token.
        board: String,
        /// The board slot of this child.
        role: usize,
        /// The producer's tag.
        producer: u32,
        /// Item sizes (0: the empty item, tagged [`EMPTY`]).
        sizes: Vec<usize>,
    },
    /// Get items until a stop item, or `count` items, counting them in slot `role`,
    /// and return their tags in the order got.
    Consume {
        /// The board's token.
        board: String,
        /// The board slot of this child.
        role: usize,
        /// Stop after this many items (else at a stop item).
        count: Option<u32>,
        /// Which test's sizes to check items against.
        sizes: Sizes,
    },
    /// `no_fd_leak`: list the fds inherited, open, list the inheritable ones.
    Listing,
}

/// Which sizes a consumer checks items against.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Sizes {
    /// `exactly_once`.
    Once,
    /// `fifo`.
    Fifo,
    /// `two_consumers`.
    Race,
}

impl Sizes {
    fn len_of(self, producer: u32, seq: u32) -> Option<usize> {
        if producer == STOP {
            return (seq == 0).then_some(STOP_LEN);
        }
        let sizes = match self {
            Sizes::Once => once_sizes(producer),
            Sizes::Fifo => fifo_sizes(producer),
            Sizes::Race => race_sizes(),
        };
        (producer < 2)
            .then(|| sizes.get(seq as usize).copied())
            .flatten()
            .filter(|&n| n >= 8)
    }
}

/// What a child reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// A consumer's items, `(producer, seq)`, in the order it got them.
    pub got: Vec<(u32, u32)>,
    /// `no_fd_leak`: the fds inherited (open at the job's start, not close-on-exec).
    pub inherited: Vec<OpenFd>,
    /// `no_fd_leak`: the fds not close-on-exec after `open`.
    pub inheritable: Vec<OpenFd>,
}

/// The child's side of every check.
pub fn child_main<Q: ProcessQueue>(
    (handle, script): (QueueHandle, Script),
) -> Result<Report, String> {
    let parent = std::os::unix::process::parent_id();
    let _ = parent_gone(parent);
    match script {
        Script::Produce {
            board,
            role,
            producer,
            sizes,
        } => {
            let board = Board::attach(&board)?;
            let queue = Q::open(handle).map_err(|e| format!("open failed: {e}"))?;
            board.set(STARTED + role, 1);
            for (seq, &len) in sizes.iter().enumerate() {
                let bytes = if len == 0 {
                    Vec::new()
                } else {
                    item(producer, seq as u32, len)
                };
                queue
                    .put(&bytes)
                    .map_err(|e| format!("the producer's put of item {seq} failed: {e}"))?;
                board.set(role, seq as u32 + 1);
            }
            drop(queue);
            Ok(Report::default())
        }
        Script::Consume {
            board,
            role,
            count,
            sizes,
        } => {
            let board = Board::attach(&board)?;
            let queue = Q::open(handle).map_err(|e| format!("open failed: {e}"))?;
            board.set(STARTED + role, 1);
            let mut got = Vec::new();
            while count.is_none_or(|n| (got.len() as u32) < n) {
                let bytes = queue.get().map_err(|e| {
                    format!("the consumer's get failed after {} items: {e}", got.len())
                })?;
                let tag = decode(&bytes, |p, s| sizes.len_of(p, s))
                    .map_err(|why| format!("in a consumer, {why}"))?;
                if tag.0 == STOP {
                    break;
                }
                got.push(tag);
                board.set(role, got.len() as u32);
            }
            Ok(Report {
                got,
                ..Report::default()
            })
        }
        Script::Listing => {
            let inherited = open_fds()
                .into_iter()
                .filter(|f| f.fd > 2 && !f.cloexec)
                .collect();
            let queue = Q::open(handle).map_err(|e| format!("open failed: {e}"))?;
            let inheritable = open_fds()
                .into_iter()
                .filter(|f| f.fd > 2 && !f.cloexec)
                .collect();
            drop(queue);
            Ok(Report {
                got: Vec::new(),
                inherited,
                inheritable,
            })
        }
    }
}

/// The child job for the queue type `Q`; declare one with `__register_worker!`.
pub struct QueueWorker<Q> {
    job: &'static Job<(QueueHandle, Script), Report>,
    _queue: std::marker::PhantomData<fn() -> Q>,
}

impl<Q> QueueWorker<Q> {
    #[doc(hidden)]
    pub const fn __new(job: &'static Job<(QueueHandle, Script), Report>) -> Self {
        QueueWorker {
            job,
            _queue: std::marker::PhantomData,
        }
    }
}

impl<Q> std::fmt::Debug for QueueWorker<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<Q>())
    }
}

/// Declares the child job of a queue type: `__register_worker!(static NAME: Type)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __register_process_queue {
    ($vis:vis static $name:ident : $ty:ty $(;)?) => {
        $vis static $name: $crate::process_queue::QueueWorker<$ty> = {
            $crate::process_queue::__job!(static $name: fn(($crate::process_queue::__QueueHandle, $crate::process_queue::Script)) -> $crate::process_queue::Report = $crate::process_queue::child_main::<$ty>);
            $crate::process_queue::QueueWorker::__new(&$name)
        };
    };
}

#[doc(hidden)]
pub use crate::__register_process_queue as __register_worker;

// ---------------------------------------------------------------------------------
// The parent's side.

/// Who counts what in one check: the board slots of its producers and consumers,
/// and the items the parent put itself.
#[derive(Clone, Copy)]
struct Counts<'a> {
    producers: &'a [usize],
    consumers: &'a [usize],
    parent_put: u32,
}

/// The proof of a lost item (see the module docs): more items put than got, while
/// every live child (`live`: board slot and pid) has started and is blocked, and so is
/// the parent's thread `parent`, if it runs a `get`.
fn lost(
    board: &Board,
    counts: Counts<'_>,
    live: &[(usize, u32)],
    parent: Option<libc::pid_t>,
) -> Option<String> {
    let put: u32 = counts.producers.iter().map(|&r| board.get(r)).sum::<u32>() + counts.parent_put;
    let got: u32 =
        counts.consumers.iter().map(|&r| board.get(r)).sum::<u32>() + board.get(PARENT_GOT);
    if got >= put {
        return None;
    }
    let mut crashed = None;
    for &(role, pid) in live {
        if child_gone(pid)().is_some() {
            // A child that ended as a job does is being joined, and its join returns
            // as soon as the parent's thread runs: the items it left are for
            // children the check has not started yet (a loaded machine can delay
            // that join past three looks). Only a crash is evidence.
            match crash(pid) {
                Some(how) => {
                    crashed.get_or_insert(how);
                }
                None => return None,
            }
        } else if board.get(STARTED + role) == 0 || !idle(pid) {
            return None;
        }
    }
    if let Some(tid) = parent {
        if sched(tid).is_none_or(|(state, _)| state != 'S') {
            return None;
        }
    }
    // The cause, not its consequence: a child that died left its items to nobody.
    if let Some(how) = crashed {
        return Some(format!(
            "a child process of the queue crashed ({how}) and every other process is blocked, {put} items put and {got} got: a child's queue calls must not kill it"
        ));
    }
    Some(format!(
        "{put} items were put and {got} got, and every process of the queue is blocked: {} items are lost (a get cannot wait while an item is in the queue)",
        put - got
    ))
}

/// How child `pid`, ended but not yet reaped, died, if it did not end as a job does
/// (exit code 0, its outcome written): its wait status is the last field of its
/// `/proc` stat line while it is a zombie.
fn crash(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    // Field 52 (`exit_code`); `rest` starts at field 3.
    let status: i32 = rest.split_whitespace().nth(49)?.parse().ok()?;
    if libc::WIFSIGNALED(status) {
        Some(format!(
            "process {pid} was killed by {}",
            racecourse_impl::process::child::signal_name(libc::WTERMSIG(status))
        ))
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
        Some(format!(
            "process {pid} exited with code {}",
            libc::WEXITSTATUS(status)
        ))
    } else {
        None
    }
}

/// Evidence for a watched step: [`lost`], seen in three looks in a row.
fn lost_evidence<'a>(
    what: &'a str,
    board: &'a Board,
    counts: Counts<'a>,
    live: Vec<(usize, u32)>,
    parent_get: bool,
) -> impl FnMut(libc::pid_t) -> Option<Violation> + 'a {
    let mut blocked = Blocked(0);
    move |tid| {
        let why = lost(board, counts, &live, parent_get.then_some(tid));
        blocked
            .look(why.is_some())
            .then(|| Violation::new(what, why.unwrap_or_default()))
    }
}

/// The children of one check, each with its board slot.
type Cast<C> = Vec<(usize, C)>;

fn live<C: Child<Report>>(cast: &Cast<C>) -> Vec<(usize, u32)> {
    cast.iter().map(|(r, c)| (*r, c.pid())).collect()
}

/// Joins the child of slot `role` (watched, with the proof of a lost item).
fn join<C: Child<Report> + Send + 'static>(
    cast: &mut Cast<C>,
    role: usize,
    what: &str,
    board: &Arc<Board>,
    counts: Counts<'_>,
) -> Result<Report, Violation> {
    let everyone = live(cast);
    let at = cast
        .iter()
        .position(|(r, _)| *r == role)
        .expect("a child of this slot");
    let (_, child) = cast.remove(at);
    let mut evidence = lost_evidence(what, board, counts, everyone, false);
    match watched(what, Some(board), &mut evidence, move || child.join())? {
        Ok(report) => Ok(report),
        Err(JobError::Failed(why)) => Err(Violation::new(what, why)),
        Err(e) => Err(Violation::new(what, format!("the child's job failed: {e}"))),
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Violation {
    Violation::new(what, e.to_string())
}

fn new_queue<Q: ProcessQueue>(capacity: usize, what: &str) -> Result<Q, Violation> {
    Q::new(capacity).map_err(|e| failed(what, format!("new({capacity}) failed: {e}")))
}

fn spawn<Q: ProcessQueue>(
    queue: &Q,
    worker: &'static QueueWorker<Q>,
    script: Script,
    what: &str,
) -> Result<Q::Child<Report>, Violation> {
    queue
        .spawn(worker.job, script)
        .map_err(|e| failed(what, format!("spawn failed: {e}")))
}

fn produce(board: &Board, role: usize, producer: u32, sizes: Vec<usize>) -> Script {
    Script::Produce {
        board: board.token().to_owned(),
        role,
        producer,
        sizes,
    }
}

fn consume(board: &Board, role: usize, count: Option<u32>, sizes: Sizes) -> Script {
    Script::Consume {
        board: board.token().to_owned(),
        role,
        count,
        sizes,
    }
}

/// Runs `step` on the queue in the parent (watched, with the proof of a lost item,
/// the parent's own thread counted among the blocked if `parent_get`), and gives the
/// queue back with the step's outcome.
fn parent_step<Q: ProcessQueue, T: Send + 'static>(
    queue: Q,
    what: &str,
    board: &Arc<Board>,
    counts: Counts<'_>,
    live: Vec<(usize, u32)>,
    parent_get: bool,
    step: impl FnOnce(&Q) -> T + Send + 'static,
) -> Result<(Q, T), Violation> {
    let mut evidence = lost_evidence(what, board, counts, live, parent_get);
    watched(what, Some(board), &mut evidence, move || {
        let outcome = step(&queue);
        (queue, outcome)
    })
}

fn exactly_once<Q: ProcessQueue>(worker: &'static QueueWorker<Q>) -> Result<(), Violation> {
    let what = "every item put by 2 producers to be got exactly once, whole, by 2 consumers racing";
    let board = Arc::new(Board::create()?);
    let queue = new_queue::<Q>(CAPACITY, what)?;
    let counts = Counts {
        producers: &[0, 1],
        consumers: &[2, 3],
        parent_put: 0,
    };
    let mut cast: Cast<Q::Child<Report>> = Vec::new();
    for role in [2, 3] {
        cast.push((
            role,
            spawn(
                &queue,
                worker,
                consume(&board, role, None, Sizes::Once),
                what,
            )?,
        ));
    }
    for producer in [0u32, 1] {
        let role = producer as usize;
        cast.push((
            role,
            spawn(
                &queue,
                worker,
                produce(&board, role, producer, once_sizes(producer)),
                what,
            )?,
        ));
    }
    for role in [0, 1] {
        join(&mut cast, role, what, &board, counts)?;
    }
    let live_now = live(&cast);
    let (queue, stopped) = parent_step(queue, what, &board, counts, live_now, false, |q| {
        (0..2).try_for_each(|_| q.put(&stop_item()))
    })?;
    stopped.map_err(|e| failed(what, format!("the parent's put of a stop item failed: {e}")))?;
    let mut got: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    for role in [2, 3] {
        for tag in join(&mut cast, role, what, &board, counts)?.got {
            *got.entry(tag).or_default() += 1;
        }
    }
    drop(queue);
    let mut problems = Vec::new();
    for producer in [0u32, 1] {
        for seq in 0..ITEMS {
            match got.remove(&(producer, seq)).unwrap_or(0) {
                1 => {}
                0 => problems.push(format!("item {seq} of producer {producer} was never got")),
                n => problems.push(format!(
                    "item {seq} of producer {producer} was got {n} times"
                )),
            }
        }
    }
    problems.extend(
        got.keys()
            .map(|(p, s)| format!("an item tagged producer {p}, number {s} was got, never put")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        let more = problems.len().saturating_sub(5);
        problems.truncate(5);
        Err(Violation::new(
            what,
            format!(
                "{}{}",
                problems.join("; "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            ),
        ))
    }
}

fn fifo<Q: ProcessQueue>(worker: &'static QueueWorker<Q>) -> Result<(), Violation> {
    let what = "the items of each producer to come out in the order it put them";
    let board = Arc::new(Board::create()?);
    let queue = new_queue::<Q>(0, what)?;
    let counts = Counts {
        producers: &[0, 1],
        consumers: &[2],
        parent_put: 0,
    };
    let mut cast: Cast<Q::Child<Report>> = Vec::new();
    for producer in [0u32, 1] {
        let role = producer as usize;
        cast.push((
            role,
            spawn(
                &queue,
                worker,
                produce(&board, role, producer, fifo_sizes(producer)),
                what,
            )?,
        ));
    }
    for role in [0, 1] {
        join(&mut cast, role, what, &board, counts)?;
    }
    let total = (fifo_sizes(0).len() + fifo_sizes(1).len()) as u32;
    cast.push((
        2,
        spawn(
            &queue,
            worker,
            consume(&board, 2, Some(total), Sizes::Fifo),
            what,
        )?,
    ));
    let got = join(&mut cast, 2, what, &board, counts)?.got;
    for producer in [0u32, 1] {
        let want: Vec<(u32, u32)> = fifo_sizes(producer)
            .iter()
            .enumerate()
            .map(|(seq, &len)| {
                if len == 0 {
                    (EMPTY, 0)
                } else {
                    (producer, seq as u32)
                }
            })
            .collect();
        let theirs: Vec<(u32, u32)> = got
            .iter()
            .copied()
            .filter(|&(p, s)| p == producer || (p == EMPTY && producer == 0 && s == 0))
            .collect();
        if theirs != want {
            let at = theirs
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(theirs.len()));
            let show = |v: &[(u32, u32)]| {
                v.iter()
                    .map(|&(p, s)| {
                        if p == EMPTY {
                            "empty".to_string()
                        } else {
                            s.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            return Err(Violation::new(
                what,
                format!(
                    "producer {producer} put items 0..{} in order (sizes {:?}); they came out as [{}], out of order from position {at}",
                    want.len(),
                    fifo_sizes(producer),
                    show(&theirs),
                ),
            ));
        }
    }
    Ok(())
}

fn two_consumers<Q: ProcessQueue>(worker: &'static QueueWorker<Q>) -> Result<(), Violation> {
    let what =
        "a consumer that took 1 of 6 items and ended to leave the other 5 to a second consumer";
    let board = Arc::new(Board::create()?);
    let queue = new_queue::<Q>(0, what)?;
    let counts = Counts {
        producers: &[0],
        consumers: &[2, 3],
        parent_put: 0,
    };
    let mut cast: Cast<Q::Child<Report>> = Vec::new();
    cast.push((
        0,
        spawn(&queue, worker, produce(&board, 0, 0, race_sizes()), what)?,
    ));
    join(&mut cast, 0, what, &board, counts)?;
    cast.push((
        2,
        spawn(
            &queue,
            worker,
            consume(&board, 2, Some(1), Sizes::Race),
            what,
        )?,
    ));
    let first = join(&mut cast, 2, what, &board, counts)?.got;
    cast.push((
        3,
        spawn(
            &queue,
            worker,
            consume(&board, 3, Some(RACE_ITEMS - 1), Sizes::Race),
            what,
        )?,
    ));
    let rest = join(&mut cast, 3, what, &board, counts)?.got;
    let got: Vec<u32> = first.iter().chain(&rest).map(|&(_, s)| s).collect();
    if got != (0..RACE_ITEMS).collect::<Vec<_>>() {
        return Err(Violation::new(
            what,
            format!("the two consumers got items {got:?}, not 0..{RACE_ITEMS} in order"),
        ));
    }
    Ok(())
}

/// Waits until the producer of slot 0 has put `n` items and is blocked, or has put
/// everything; gives the count it stopped at.
fn settled_count(what: &str, board: &Arc<Board>, pid: u32) -> Result<u32, Violation> {
    let shared = Arc::clone(board);
    watched(what, Some(board), &mut no_evidence, move || {
        let mut blocked = Blocked(0);
        let mut count = 0;
        let _ = shared.wait(
            crate::pipe::LOOK,
            || {
                count = shared.get(0);
                count >= BOUND_PUTS || (shared.get(STARTED) != 0 && blocked.look(idle(pid)))
            },
            child_gone(pid),
        );
        shared.get(0).max(count)
    })
}

/// Waits until the producer of slot 0 has put more than `put` items (or ended); a
/// stall (nothing moved for [`STALL`]) is the error.
fn past(what: &str, board: &Arc<Board>, pid: u32, put: u32) -> Result<(), Violation> {
    let shared = Arc::clone(board);
    watched(what, Some(board), &mut no_evidence, move || {
        let _ = shared.wait(crate::pipe::SLOW, || shared.get(0) > put, child_gone(pid));
    })
}

fn bound<Q: ProcessQueue>(worker: &'static QueueWorker<Q>) -> Result<(), Violation> {
    let what = "a producer to block with exactly 3 items in a queue of capacity 3, and each get to let one more put in";
    let board = Arc::new(Board::create()?);
    let mut queue = new_queue::<Q>(BOUND as usize, what)?;
    let counts = Counts {
        producers: &[0],
        consumers: &[],
        parent_put: 0,
    };
    let sizes = vec![8; BOUND_PUTS as usize];
    let mut cast: Cast<Q::Child<Report>> = Vec::new();
    cast.push((
        0,
        spawn(&queue, worker, produce(&board, 0, 0, sizes), what)?,
    ));
    let pid = cast[0].1.pid();
    let mut got = 0u32;
    loop {
        let want = (BOUND + got).min(BOUND_PUTS);
        let mut put = settled_count(what, &board, pid)?;
        while put < want {
            // Asleep with room is not yet a fault: a `put` that waits its own way
            // (polling, with sleeps) looks asleep between its looks at the queue.
            // Only a stall proves it will never come in.
            past(what, &board, pid, put).map_err(|stall| {
                Violation::new(
                    what,
                    format!(
                        "the producer is blocked in put after {put} items while the parent had got {got}: the queue held {} of {BOUND}, there was room ({})",
                        put - got,
                        stall.seen
                    ),
                )
                .of_kind(stall.kind)
            })?;
            put = settled_count(what, &board, pid)?;
        }
        if put > want {
            return Err(Violation::new(
                what,
                format!("the producer's put returned {put} times while the parent had got {got}: {} items in a queue of capacity {BOUND}", put - got),
            ));
        }
        if got == BOUND_PUTS {
            break;
        }
        let seq = got;
        let (back, item) =
            parent_step(queue, what, &board, counts, live(&cast), true, |q| q.get())?;
        queue = back;
        let item = item.map_err(|e| failed(what, format!("the parent's get failed: {e}")))?;
        let tag = decode(&item, |p, s| (p == 0 && s < BOUND_PUTS).then_some(8))
            .map_err(|why| failed(what, why))?;
        if tag != (0, seq) {
            return Err(Violation::new(
                what,
                format!("the parent's get {seq} gave item {:?}, not item {seq}", tag),
            ));
        }
        got += 1;
        board.set(PARENT_GOT, got);
    }
    join(&mut cast, 0, what, &board, counts)?;
    Ok(())
}

fn no_fd_leak<Q: ProcessQueue>(worker: &'static QueueWorker<Q>) -> Result<(), Violation> {
    let what = "a child to hold its queue's fds and nothing else of the parent's, none inheritable after open";
    let ambient = ambient();
    let before: BTreeSet<_> = open_fds().iter().map(OpenFd::object).collect();
    let first = new_queue::<Q>(0, what)?;
    let after_first: BTreeSet<_> = open_fds().iter().map(OpenFd::object).collect();
    let second = new_queue::<Q>(0, what)?;
    let second_fds: Vec<OpenFd> = open_fds()
        .into_iter()
        .filter(|f| !after_first.contains(&f.object()))
        .collect();
    let first_objects: BTreeSet<_> = after_first.difference(&before).copied().collect();
    let child = spawn(&first, worker, Script::Listing, what)?;
    let report = match watched(what, None, &mut no_evidence, move || child.join())? {
        Ok(report) => report,
        Err(JobError::Failed(why)) => return Err(Violation::new(what, why)),
        Err(e) => return Err(Violation::new(what, format!("the child's job failed: {e}"))),
    };
    drop(second);
    drop(first);
    let second_objects: BTreeSet<_> = second_fds.iter().map(OpenFd::object).collect();
    let of_second: Vec<OpenFd> = report
        .inherited
        .iter()
        .filter(|f| second_objects.contains(&f.object()))
        .cloned()
        .collect();
    if !of_second.is_empty() {
        return Err(Violation::new(
            what,
            format!(
                "a child of one queue inherited {} of another queue the parent had made (its fds are not close-on-exec)",
                describe_all(&of_second)
            ),
        ));
    }
    let foreign: Vec<OpenFd> = report
        .inherited
        .iter()
        .filter(|f| !ambient.contains(&f.object()) && !first_objects.contains(&f.object()))
        .cloned()
        .collect();
    if !foreign.is_empty() {
        return Err(Violation::new(
            what,
            format!(
                "the child inherited {}, which is not its queue's",
                describe_all(&foreign)
            ),
        ));
    }
    let inheritable: Vec<OpenFd> = report
        .inheritable
        .iter()
        .filter(|f| !ambient.contains(&f.object()))
        .cloned()
        .collect();
    if !inheritable.is_empty() {
        return Err(Violation::new(
            what,
            format!("after open the child holds {}, not close-on-exec: every process it starts would inherit them", describe_all(&inheritable)),
        ));
    }
    Ok(())
}

/// Once a check joined every child it started: none may be left, running or
/// unreaped (`join` must reap, as the [`Child`] contract says).
fn no_child_left(property: Property) -> Result<(), Violation> {
    let left = children();
    if left.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = left
        .iter()
        .map(|c| {
            format!(
                "pid {} ({})",
                c.pid,
                if c.state == 'Z' {
                    "exited, not reaped"
                } else {
                    "still running"
                }
            )
        })
        .collect();
    Err(Violation::new(
        "every child to be reaped once joined",
        format!(
            "after {} joined every child, {} child processes are left: {}",
            property.name(),
            left.len(),
            listed.join(", ")
        ),
    ))
}

/// Checks `property` of the queue type run by `worker`, in real processes.
pub fn check<Q: ProcessQueue>(
    worker: &'static QueueWorker<Q>,
    property: Property,
) -> Result<(), Finding> {
    let outcome = match property {
        Property::ExactlyOnce => exactly_once(worker),
        Property::Fifo => fifo(worker),
        Property::TwoConsumers => two_consumers(worker),
        Property::Bound => bound(worker),
        Property::NoFdLeak => no_fd_leak(worker),
    };
    let outcome = outcome.and_then(|()| no_child_left(property));
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "real producer and consumer processes (spawn start method), counting on a board in shared memory".to_string(),
                replay_env: Vec::new(),
            },
            format!("property {}", property.name()),
        )
    })
}

crate::__register_process_queue!(static RING_QUEUE: racecourse_impl::process::ring_queue::RingQueue);
crate::__register_process_queue!(static PIPE_QUEUE: racecourse_impl::process::process_queue::PipeQueue);
crate::__register_process_queue!(static FEEDER: crate::must_pass::process_queue::Feeder);
crate::__register_process_queue!(static POLLING: crate::must_pass::process_queue::Polling);
crate::__register_process_queue!(static IN_PROCESS: crate::mutants::process_queue::InProcess);
crate::__register_process_queue!(static BUFFERED_READER: crate::mutants::process_queue::Flawed<{ crate::mutants::process_queue::BUFFERED_READER }>);
crate::__register_process_queue!(static IGNORES_BOUND: crate::mutants::process_queue::Flawed<{ crate::mutants::process_queue::IGNORES_BOUND }>);
crate::__register_process_queue!(static INHERITABLE: crate::mutants::process_queue::Flawed<{ crate::mutants::process_queue::INHERITABLE }>);
crate::__register_process_queue!(static SMALL_FIRST: crate::mutants::process_queue::SmallFirst);

/// The queue's implementations (the references, through a ring in shared memory and
/// through an OS pipe; must-pass; mutants), on real processes.
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
        implementation("ring_queue", Role::Reference, |p| {
            check(&RING_QUEUE, Property::named(p))
        }),
        implementation("pipe_queue", Role::Reference, |p| {
            check(&PIPE_QUEUE, Property::named(p))
        }),
        implementation("feeder", Role::MustPass, |p| {
            check(&FEEDER, Property::named(p))
        }),
        implementation("polling", Role::MustPass, |p| {
            check(&POLLING, Property::named(p))
        }),
        implementation(
            "in_process",
            mutant(&["exactly_once", "fifo", "two_consumers", "bound"]),
            |p| check(&IN_PROCESS, Property::named(p)),
        ),
        implementation("buffered_reader", mutant(&["two_consumers"]), |p| {
            check(&BUFFERED_READER, Property::named(p))
        }),
        implementation("ignores_bound", mutant(&["bound"]), |p| {
            check(&IGNORES_BOUND, Property::named(p))
        }),
        implementation("inheritable", mutant(&["no_fd_leak"]), |p| {
            check(&INHERITABLE, Property::named(p))
        }),
        implementation("small_first", mutant(&["fifo"]), |p| {
            check(&SMALL_FIRST, Property::named(p))
        }),
    ]
}

/// Generates the process Queue tests (real processes), named
/// `process_queue::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::process_queue! {
///     mine => my_crate::process_queue { queue: MyQueue },
/// }
/// ```
///
/// The type must implement [`ProcessQueue`]; the macro registers the child job that runs it in
/// re-executed processes. `not_attempted` generates one ignored test saying so.
#[macro_export]
macro_rules! process_queue {
    (not_attempted) => {
        $crate::__not_attempted!(process_queue);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { queue: $ty:ident }),+ $(,)?) => {
        $crate::__process_queue_table! { process_queue [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::process_queue!(runtimes: [process], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Waits until child `pid` has ended (a zombie: not reaped yet).
    fn ended(pid: u32) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child_gone(pid)().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "child {pid} never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Regression: a child that ended normally, not yet reaped because the check's
    /// join was slow to run on a loaded machine, counted as blocked, and the kill
    /// matrix rejected correct queues ("6 items were put and 1 got, and every process
    /// of the queue is blocked" in `two_consumers`, "48 items were put and 0 got" in
    /// `fifo`: the children left the items to the consumer started next).
    #[test]
    fn a_child_that_ended_normally_proves_no_lost_item() {
        let board = Board::create().expect("a board");
        board.set(0, 6);
        board.set(2, 1);
        board.set(STARTED + 2, 1);
        let counts = Counts {
            producers: &[0],
            consumers: &[2, 3],
            parent_put: 0,
        };
        let mut normal = Command::new("true").spawn().expect("true starts");
        ended(normal.id());
        assert_eq!(lost(&board, counts, &[(2, normal.id())], None), None);
        let mut aborted = Command::new("sh")
            .args(["-c", "kill -ABRT $$"])
            .spawn()
            .expect("sh starts");
        ended(aborted.id());
        let why = lost(&board, counts, &[(2, aborted.id())], None).expect("a verdict");
        assert!(why.contains("crashed") && why.contains("SIGABRT"), "{why}");
        normal.wait().expect("reaped");
        aborted.wait().expect("reaped");
    }
}
