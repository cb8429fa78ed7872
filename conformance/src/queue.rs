//! E5 queue suite: a FIFO queue with a bound and task tracking, and the course's
//! crawler on it.
//!
//! Properties (see `EXERCISES.md`, E5 "Queue"):
//! - `exactly_once`: every item put is got exactly once;
//! - `fifo_per_producer`: the items of one producer come out in the order it put them;
//! - `bounded`: a queue of capacity c never holds more than c items;
//! - `join_waits`: `join` returns only once every item put before it is marked done;
//! - `extra_task_done`: one `task_done` too many is an error and changes nothing;
//! - `crawler`: the course's crawler processes each page once and stops its workers.
//!
//! The four history properties judge recorded histories (calls with logical
//! invocation and response times) of scenarios in which producers put numbered items
//! and consumers get and mark them done: small fixed scenarios under loom, the same
//! ones and then drawn ones (fixed proptest seed, shrunk on failure) under shuttle and
//! on std. Each judgement needs only what real time proves: a count or an order that
//! the timestamps establish, so a correct queue never fails one on real threads.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use racecourse_spec::queue::{Crawler, Queue, Site, TaskDoneError};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "queue";

// The crawler runs four threads: shuttle and std only (loom cannot explore four).
properties! { $ __queue_table;
    /// Every item put is got exactly once: none lost, duplicated or invented.
    ExactlyOnce => exactly_once [std shuttle loom],
    /// The items of one producer come out in the order it put them (FIFO).
    FifoPerProducer => fifo_per_producer [std shuttle loom],
    /// A queue of capacity c never holds more than c items: `put` waits while it is
    /// full.
    Bounded => bounded [std shuttle loom],
    /// `join` returns only once every item put before it was called is marked done
    /// with `task_done` (taking an item is not finishing it).
    JoinWaits => join_waits [std shuttle loom],
    /// One `task_done` too many returns an error and changes nothing: a later `join`
    /// still waits for the next item.
    ExtraTaskDone => extra_task_done [std shuttle loom],
    /// The course's crawler: 3 workers, 3 pages, each processed exactly once; `crawl`
    /// returns after all are processed, with every worker stopped and joined.
    Crawler => crawler [std shuttle],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "a bounded queue with task_done and join, and the crawler",
    properties: &Property::INFO,
    slots: &[
        Slot {
            name: "queue",
            bound: "racecourse_spec::queue::Queue",
        },
        Slot {
            name: "crawler",
            bound: "racecourse_spec::queue::Crawler",
        },
    ],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// One call in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOp {
    /// `put(x)`.
    Put(u32),
    /// `get()`.
    Get,
    /// `task_done()`.
    TaskDone,
    /// `join()`.
    Join,
}

impl fmt::Display for QueueOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueOp::Put(x) => write!(f, "put({x})"),
            QueueOp::Get => f.write_str("get()"),
            QueueOp::TaskDone => f.write_str("task_done()"),
            QueueOp::Join => f.write_str("join()"),
        }
    }
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueRet {
    /// `put` returned.
    Put,
    /// `get` returned this item.
    Got(u32),
    /// `task_done` returned this.
    Done(Result<(), TaskDoneError>),
    /// `join` returned.
    Joined,
}

/// One recorded call: who made it, what it returned, and logical times taken just
/// before the call and just after it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The calling thread, by index in the scenario.
    pub thread: usize,
    /// The call.
    pub op: QueueOp,
    /// What it returned.
    pub ret: QueueRet,
    /// Taken before the call.
    pub call_at: u64,
    /// Taken after it returned.
    pub ret_at: u64,
}

/// A queue's capacity and the calls each thread makes, in order.
///
/// Scenarios are built so that a correct queue always lets every call return: as many
/// gets as puts, each get followed by its `task_done`, and `join` only by threads that
/// take nothing after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The queue's capacity (0: unbounded).
    pub capacity: usize,
    /// One list of calls per thread.
    pub threads: Vec<Vec<QueueOp>>,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.capacity == 0 {
            f.write_str("unbounded")?;
        } else {
            write!(f, "capacity {}", self.capacity)?;
        }
        for (i, ops) in self.threads.iter().enumerate() {
            write!(f, "; thread {i}: ")?;
            for (j, op) in ops.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{op}")?;
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// Whether a run of this scenario can violate `property` at all: `bounded` needs
    /// more puts than the capacity, `join_waits` a `join`. Loom skips the rest (every
    /// one of its executions would be judged by a property that cannot fail there).
    pub fn can_violate(&self, property: Property) -> bool {
        let ops = || self.threads.iter().flatten();
        match property {
            Property::Bounded => {
                self.capacity > 0
                    && ops().filter(|op| matches!(op, QueueOp::Put(_))).count() > self.capacity
            }
            Property::JoinWaits => ops().any(|op| matches!(op, QueueOp::Join)),
            _ => true,
        }
    }

    /// Producers that put numbered items (1, 2, 3, .. across producers) and, where
    /// `joins` says so, join after their last put; then `consumers` threads that share
    /// the gets between them, each get followed by `task_done`.
    pub fn producers_consumers(
        capacity: usize,
        puts: &[usize],
        joins: &[bool],
        consumers: usize,
    ) -> Scenario {
        let mut next = 0;
        let mut threads: Vec<Vec<QueueOp>> = puts
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut ops: Vec<QueueOp> = (0..n)
                    .map(|_| {
                        next += 1;
                        QueueOp::Put(next)
                    })
                    .collect();
                if joins.get(i).copied().unwrap_or(false) {
                    ops.push(QueueOp::Join);
                }
                ops
            })
            .collect();
        let total = next as usize;
        let consumers = consumers.clamp(1, total.max(1));
        for c in 0..consumers {
            let gets = total / consumers + usize::from(c < total % consumers);
            threads.push(
                (0..gets)
                    .flat_map(|_| [QueueOp::Get, QueueOp::TaskDone])
                    .collect(),
            );
        }
        Scenario { capacity, threads }
    }

    fn strategy(
        capacity: std::ops::RangeInclusive<usize>,
        producers: std::ops::RangeInclusive<usize>,
        items: std::ops::RangeInclusive<usize>,
        consumers: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Scenario> {
        (
            capacity,
            prop::collection::vec((items, any::<bool>()), producers),
            consumers,
        )
            .prop_map(|(capacity, producers, consumers)| {
                let puts: Vec<usize> = producers.iter().map(|&(n, _)| n).collect();
                let joins: Vec<bool> = producers.iter().map(|&(_, j)| j).collect();
                Scenario::producers_consumers(capacity, &puts, &joins, consumers)
            })
    }

    /// What a deadlock of this scenario means: who waits for whom, by the calls each
    /// thread makes.
    pub fn deadlock_meaning(&self) -> Violation {
        let with = |pred: &dyn Fn(&QueueOp) -> bool| -> Vec<String> {
            self.threads
                .iter()
                .enumerate()
                .filter(|(_, ops)| ops.iter().any(pred))
                .map(|(i, _)| format!("thread {i}"))
                .collect()
        };
        let putters = with(&|op| matches!(op, QueueOp::Put(_)));
        let getters = with(&|op| *op == QueueOp::Get);
        let finishers = with(&|op| *op == QueueOp::TaskDone);
        let mut waits = Vec::new();
        for (i, ops) in self.threads.iter().enumerate() {
            if ops.contains(&QueueOp::Get) {
                waits.push(format!(
                    "get() in thread {i} waits for a put by {}",
                    putters.join(" or ")
                ));
            }
            if self.capacity > 0 && ops.iter().any(|op| matches!(op, QueueOp::Put(_))) {
                waits.push(format!(
                    "put() in thread {i} waits while the queue is full, for a get by {}",
                    getters.join(" or ")
                ));
            }
            if ops.contains(&QueueOp::Join) {
                waits.push(format!(
                    "join() in thread {i} waits for task_done() by {}",
                    finishers.join(" or ")
                ));
            }
        }
        Violation::new(
            "every call of the scenario to return (on a correct queue they always can)",
            format!(
                "the threads deadlocked, each waiting for another that never woke it ({}): a lost wake-up, or a wait that never ends",
                waits.join("; ")
            ),
        )
    }
}

/// The fixed scenarios, explored exhaustively under loom and first under shuttle:
/// a capacity-1 queue between a producer that joins and a consumer (a put must wait,
/// join must wait for the last `task_done`), and a capacity-2 queue whose producer
/// takes an item itself, racing another consumer (order, and two getters at once).
pub fn fixed_scenarios() -> Vec<Scenario> {
    use QueueOp::{Get, Join, Put, TaskDone};
    vec![
        Scenario {
            capacity: 1,
            threads: vec![
                vec![Put(1), Put(2), Join],
                vec![Get, TaskDone, Get, TaskDone],
            ],
        },
        Scenario {
            capacity: 2,
            threads: vec![vec![Put(1), Put(2), Get, TaskDone], vec![Get, TaskDone]],
        },
    ]
}

/// "once", "twice", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

/// Judges one run of a scenario against one of the history properties.
pub fn judge(property: Property, scenario: &Scenario, history: &[Event]) -> Result<(), Violation> {
    match property {
        Property::ExactlyOnce => exactly_once(history),
        Property::FifoPerProducer => fifo_per_producer(history),
        Property::Bounded => bounded(scenario.capacity, history),
        Property::JoinWaits => join_waits(history),
        Property::ExtraTaskDone | Property::Crawler => {
            unreachable!("{} has a scenario of its own", property.name())
        }
    }
}

fn puts(history: &[Event]) -> impl Iterator<Item = (&Event, u32)> {
    history.iter().filter_map(|e| match e.op {
        QueueOp::Put(x) => Some((e, x)),
        _ => None,
    })
}

fn gets(history: &[Event]) -> impl Iterator<Item = (&Event, u32)> {
    history.iter().filter_map(|e| match e.ret {
        QueueRet::Got(x) => Some((e, x)),
        _ => None,
    })
}

/// Every item put is got exactly once ("item 2 was got twice").
fn exactly_once(history: &[Event]) -> Result<(), Violation> {
    let mut counts: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for (_, x) in puts(history) {
        counts.entry(x).or_default().0 += 1;
    }
    for (_, x) in gets(history) {
        counts.entry(x).or_default().1 += 1;
    }
    let wrong: Vec<(u32, (usize, usize))> =
        counts.into_iter().filter(|(_, (p, g))| p != g).collect();
    let Some(&(x, (put, got))) = wrong.first() else {
        return Ok(());
    };
    let seen = match (put, got) {
        (0, g) => format!("get returned {x} {}, but {x} was never put", times(g)),
        (_, 0) => format!("item {x} was put but never got"),
        (p, g) if g > p => format!("item {x} was got {} but put {}", times(g), times(p)),
        (p, g) => format!("item {x} was put {} but got {}", times(p), times(g)),
    };
    let others = match wrong.len() - 1 {
        0 => String::new(),
        1 => " (and 1 other item does not add up)".to_string(),
        n => format!(" (and {n} other items do not add up)"),
    };
    Err(Violation::new(
        "every item put to be got exactly once",
        format!("{seen}{others}"),
    ))
}

/// No get returns an item while an item its producer put before it is still in the
/// queue: if `get` returned `x` before the `get` that took `y` began, and the same
/// thread put `y` before `x`, the queue was not FIFO.
fn fifo_per_producer(history: &[Event]) -> Result<(), Violation> {
    // item -> (producer, position among its puts)
    let mut origin: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut position: BTreeMap<usize, usize> = BTreeMap::new();
    let mut put_events: Vec<&Event> = puts(history).map(|(e, _)| e).collect();
    put_events.sort_by_key(|e| e.call_at);
    for e in put_events {
        if let QueueOp::Put(x) = e.op {
            let n = position.entry(e.thread).or_default();
            origin.insert(x, (e.thread, *n));
            *n += 1;
        }
    }
    let got: Vec<(&Event, u32)> = gets(history).collect();
    for &(early, x) in &got {
        for &(late, y) in &got {
            let (Some(&(px, ix)), Some(&(py, iy))) = (origin.get(&x), origin.get(&y)) else {
                continue;
            };
            if px == py && iy < ix && early.ret_at < late.call_at {
                return Err(Violation::new(
                    "the items of one producer to come out in the order it put them",
                    format!(
                        "get() by thread {} returned {x} while {y}, put before it by thread {px}, was still in the queue (thread {} got it later)",
                        early.thread, late.thread
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// After each put returns, the puts that have returned minus the gets that have begun
/// is a lower bound on the items in the queue; it never exceeds the capacity.
fn bounded(capacity: usize, history: &[Event]) -> Result<(), Violation> {
    if capacity == 0 {
        return Ok(());
    }
    for (put, x) in puts(history) {
        let returned = puts(history)
            .filter(|(e, _)| e.ret_at <= put.ret_at)
            .count();
        let begun = gets(history)
            .filter(|(e, _)| e.call_at < put.ret_at)
            .count();
        if returned > begun + capacity {
            return Err(Violation::new(
                format!("at most {capacity} items in a queue of capacity {capacity} (put waits while it is full)"),
                format!(
                    "after put({x}) by thread {} returned, the queue held at least {} items: {returned} puts had returned and only {begun} gets had begun",
                    put.thread,
                    returned - begun
                ),
            ));
        }
    }
    Ok(())
}

/// When `join` returns, the `task_done` calls begun by then are at least the puts that
/// returned before `join` was called.
fn join_waits(history: &[Event]) -> Result<(), Violation> {
    // Each thread's k-th task_done finishes the item of its k-th get.
    let mut finished_at: BTreeMap<u32, u64> = BTreeMap::new();
    let threads = history.iter().map(|e| e.thread).max().map_or(0, |t| t + 1);
    for t in 0..threads {
        let mut taken = history
            .iter()
            .filter(|e| e.thread == t)
            .filter_map(|e| match e.ret {
                QueueRet::Got(x) => Some(x),
                _ => None,
            });
        for done in history
            .iter()
            .filter(|e| e.thread == t && e.op == QueueOp::TaskDone)
        {
            if let Some(x) = taken.next() {
                finished_at.insert(x, done.call_at);
            }
        }
    }
    for join in history.iter().filter(|e| e.op == QueueOp::Join) {
        let before: Vec<u32> = puts(history)
            .filter(|(e, _)| e.ret_at < join.call_at)
            .map(|(_, x)| x)
            .collect();
        let done = history
            .iter()
            .filter(|e| e.op == QueueOp::TaskDone && e.call_at < join.ret_at)
            .count();
        if done < before.len() {
            let unfinished = before
                .iter()
                .find(|x| finished_at.get(x).is_none_or(|&at| at > join.ret_at))
                .map(|x| format!("item {x} was not yet done: "))
                .unwrap_or_default();
            return Err(Violation::new(
                "join to return only once every item put before it is marked done",
                format!(
                    "join() by thread {} returned while {unfinished}{} put before it was called, but task_done had been called {} by the time it returned",
                    join.thread,
                    match before.len() {
                        1 => "1 item was".to_string(),
                        n => format!("{n} items were"),
                    },
                    match done {
                        0 => "no times".to_string(),
                        n => times(n),
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// What the scenario of `extra_task_done` recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtraRun {
    /// What thread 0's `get` returned after `put(1)`.
    pub got: u32,
    /// Thread 0's `task_done` for that item.
    pub first: Result<(), TaskDoneError>,
    /// Thread 0's second `task_done`: one too many.
    pub extra: Result<(), TaskDoneError>,
    /// What thread 1's `get` returned after `put(2)`.
    pub got_2: u32,
    /// Thread 1's `task_done` for item 2, and when it was called.
    pub done_2: Result<(), TaskDoneError>,
    /// When thread 1 called `task_done` for item 2.
    pub done_2_at: u64,
    /// When thread 0's `join` returned.
    pub joined_at: u64,
}

/// The scenario of `extra_task_done`, in words.
pub const EXTRA_SCENARIO: &str = "unbounded; thread 0: put(1), get(), task_done(), task_done() (one too many), put(2), starts thread 1, join(); thread 1: get(), task_done()";

fn judge_extra(run: ExtraRun) -> Result<(), Violation> {
    let expected = "task_done to succeed once per item and to fail, changing nothing, when called once too many";
    let fail = |seen: String| Err(Violation::new(expected, seen));
    if run.got != 1 {
        return fail(format!("get() after put(1) returned {}", run.got));
    }
    if let Err(e) = run.first {
        return fail(format!(
            "task_done() for item 1, just got, returned an error: {e}"
        ));
    }
    if run.extra.is_ok() {
        return fail("a second task_done() for the one item put returned Ok: one task_done too many must return an error".to_string());
    }
    if run.got_2 != 2 {
        return fail(format!("get() after put(2) returned {}", run.got_2));
    }
    if let Err(e) = run.done_2 {
        return fail(format!(
            "task_done() for item 2 returned an error after the extra one had failed: {e} (a failed task_done must change nothing)"
        ));
    }
    if run.joined_at < run.done_2_at {
        return fail("join() returned before item 2 was marked done: the extra task_done() was counted against it (a failed task_done must change nothing)".to_string());
    }
    Ok(())
}

/// What a deadlock of the `extra_task_done` scenario means.
fn extra_deadlock() -> Violation {
    Violation::new(
        "join() to return once item 2 is marked done",
        "join() in thread 0 waited for ever although thread 1 marked item 2 done (or thread 1's get() waited for item 2): after an extra task_done() the count of unfinished items must be what it was",
    )
}

/// The pages the crawler crawls: the course's three URLs, `page1` to `page3`.
pub const PAGES: [u32; 3] = [1, 2, 3];

/// What the crawler did, seen from its queue and its site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrawlLog {
    /// The pages processed, in order.
    pub processed: Vec<u32>,
    /// Whether the queue was dropped (no thread held it any more) when `crawl`
    /// returned.
    pub queue_dropped: bool,
    /// Whether every clone of the site was dropped when `crawl` returned.
    pub site_dropped: bool,
}

fn judge_crawl(log: &CrawlLog) -> Result<(), Violation> {
    let expected = "every page processed exactly once, and every worker stopped and joined, when crawl returns";
    let mut counts: BTreeMap<u32, usize> = PAGES.iter().map(|&p| (p, 0)).collect();
    for &p in &log.processed {
        match counts.get_mut(&p) {
            Some(n) => *n += 1,
            None => {
                return Err(Violation::new(
                    expected,
                    format!("page {p} was processed, but the site has only pages {PAGES:?}"),
                ))
            }
        }
    }
    if let Some((p, n)) = counts.iter().find(|(_, &n)| n != 1) {
        let seen = if *n == 0 {
            format!("page {p} was never processed by the time crawl returned")
        } else {
            format!("page {p} was processed {}", times(*n))
        };
        return Err(Violation::new(expected, seen));
    }
    if !log.queue_dropped || !log.site_dropped {
        let held = match (log.queue_dropped, log.site_dropped) {
            (false, false) => "the queue and the site",
            (false, true) => "the queue",
            _ => "the site",
        };
        return Err(Violation::new(
            expected,
            format!("crawl returned while a worker still held {held}: every worker must be stopped (one STOP each) and joined before crawl returns"),
        ));
    }
    Ok(())
}

/// What a deadlock of the crawler means.
fn crawl_deadlock() -> Violation {
    Violation::new(
        "crawl to return once every page is processed",
        "the crawl deadlocked: every thread was waiting, a worker in get() for a page nobody would put, or crawl in join() or in a worker's join for work nobody would finish",
    )
}

fn crawl_violation(v: Violation) -> Violation {
    if v.kind == Kind::Deadlock {
        crawl_deadlock().of_kind(Kind::Deadlock)
    } else {
        v
    }
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as StdOrdering};

    use crate::runner::Progress;

    /// Runs `scenario` once on this runtime: one thread per list of calls.
    ///
    /// Timestamps come from a std atomic, invisible to the model checkers, so recording
    /// adds no interleavings of its own; the one schedule point added is a yield after
    /// each `get`, standing for the item's processing. Every completed call ticks
    /// `progress`. A
    /// trial is not stopped early on std: a producer that stopped would leave a
    /// consumer waiting, and the scenarios are small.
    pub fn run_scenario<Q: Queue>(scenario: &Scenario, progress: &Progress) -> Result<Vec<Event>, Violation> {
        let queue = rt::sync::Arc::new(Q::new(scenario.capacity));
        let clock = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = scenario
            .threads
            .iter()
            .cloned()
            .enumerate()
            .map(|(thread, ops)| {
                let queue = rt::sync::Arc::clone(&queue);
                let clock = Arc::clone(&clock);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    ops.into_iter()
                        .map(|op| {
                            let call_at = clock.fetch_add(1, StdOrdering::SeqCst);
                            let ret = match op {
                                QueueOp::Put(x) => {
                                    queue.put(x);
                                    QueueRet::Put
                                }
                                QueueOp::Get => QueueRet::Got(queue.get()),
                                QueueOp::TaskDone => QueueRet::Done(queue.task_done()),
                                QueueOp::Join => {
                                    queue.join();
                                    QueueRet::Joined
                                }
                            };
                            let ret_at = clock.fetch_add(1, StdOrdering::SeqCst);
                            progress.tick();
                            if op == QueueOp::Get {
                                // Processing the item: a schedule point between taking
                                // it and marking it done, where a `join` that counts at
                                // `get` can return.
                                rt::thread::yield_now();
                            }
                            Event { thread, op, ret, call_at, ret_at }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut history = Vec::new();
        for (thread, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(events) => history.extend(events),
                Err(payload) => return Err(crate::runner::panicked(format!("in thread {thread}"), payload)),
            }
        }
        Ok(history)
    }

    /// Runs the scenario of `extra_task_done` once (see [`EXTRA_SCENARIO`]).
    pub fn run_extra<Q: Queue>(progress: &Progress) -> Result<ExtraRun, Violation> {
        let queue = rt::sync::Arc::new(Q::new(0));
        let clock = Arc::new(AtomicU64::new(0));
        queue.put(1);
        let got = queue.get();
        let first = queue.task_done();
        let extra = queue.task_done();
        queue.put(2);
        progress.tick();
        let worker = {
            let queue = rt::sync::Arc::clone(&queue);
            let clock = Arc::clone(&clock);
            let progress = progress.clone();
            rt::thread::spawn(move || {
                let got = queue.get();
                let at = clock.fetch_add(1, StdOrdering::SeqCst);
                let done = queue.task_done();
                progress.tick();
                (got, done, at)
            })
        };
        queue.join();
        let joined_at = clock.fetch_add(1, StdOrdering::SeqCst);
        progress.tick();
        let (got_2, done_2, done_2_at) = worker
            .join()
            .map_err(|payload| crate::runner::panicked("in thread 1".to_string(), payload))?;
        Ok(ExtraRun { got, first, extra, got_2, done_2, done_2_at, joined_at })
    }

    /// A queue that records, when dropped, that no thread holds it any more.
    struct Watched<Q: Queue> {
        inner: Q,
        dropped: Arc<AtomicBool>,
    }

    impl<Q: Queue> Queue for Watched<Q> {
        fn new(capacity: usize) -> Self {
            Self { inner: Q::new(capacity), dropped: Arc::default() }
        }
        fn put(&self, item: u32) {
            self.inner.put(item)
        }
        fn get(&self) -> u32 {
            self.inner.get()
        }
        fn task_done(&self) -> Result<(), TaskDoneError> {
            self.inner.task_done()
        }
        fn join(&self) {
            self.inner.join()
        }
    }

    impl<Q: Queue> Drop for Watched<Q> {
        fn drop(&mut self) {
            self.dropped.store(true, StdOrdering::SeqCst);
        }
    }

    /// The local stand-in for the crawled site: records each page processed, and
    /// yields while "fetching" it, so other workers can run meanwhile.
    #[derive(Clone)]
    struct Pages {
        processed: Arc<Mutex<Vec<u32>>>,
        progress: Progress,
    }

    impl Site for Pages {
        fn pages(&self) -> Vec<u32> {
            PAGES.to_vec()
        }
        fn process(&self, page: u32) {
            self.processed.lock().unwrap_or_else(|p| p.into_inner()).push(page);
            self.progress.tick();
            rt::thread::yield_now();
        }
    }

    /// Runs the crawler once on an unbounded queue of `Q` and the three pages.
    pub fn run_crawl<Q: Queue, C: Crawler + 'static>(progress: &Progress) -> CrawlLog {
        let dropped = Arc::new(AtomicBool::new(false));
        let queue = Watched { inner: Q::new(0), dropped: Arc::clone(&dropped) };
        let processed = Arc::new(Mutex::new(Vec::new()));
        let site = Pages { processed: Arc::clone(&processed), progress: progress.clone() };
        C::crawl(queue, site);
        let log = CrawlLog {
            processed: processed.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            queue_dropped: dropped.load(StdOrdering::SeqCst),
            // Only ours is left once every clone of the site is gone.
            site_dropped: Arc::strong_count(&processed) == 1,
        };
        log
    }
}

fn history_check(
    property: Property,
    scenario: Scenario,
) -> impl Fn(&[Event]) -> Result<(), Violation> + Send + Sync + 'static {
    move |history| judge(property, &scenario, history)
}
/// Explores the fixed scenarios, then `cases` drawn ones, with `explore`.
fn fixed_then_drawn<E>(
    strategy: impl Strategy<Value = Scenario>,
    cases: u32,
    explore: E,
) -> Result<(), Finding>
where
    E: Fn(Scenario) -> Result<(), Found>,
{
    for scenario in fixed_scenarios() {
        crate::isolate::note(&scenario.to_string(), None);
        explore(scenario.clone()).map_err(|found| (found, scenario.to_string()))?;
    }
    crate::runner::drawn(strategy, cases, explore)
}

/// Checks `property` of `Q` (with crawler `C`) on std threads: the fixed scenarios,
/// then 6 drawn ones of up to 3 producers of 30 items and 3 consumers, 5 trials each,
/// within the std time budget.
pub fn check_std<Q: Queue, C: Crawler + 'static>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    match property {
        Property::ExtraTaskDone => std_rt::explore(&budget, 20, |progress| {
            judge_extra(on_std::run_extra::<Q>(progress)?)
        })
        .map_err(|f| (f, EXTRA_SCENARIO.to_string())),
        Property::Crawler => std_rt::explore(&budget, 20, |progress| {
            judge_crawl(&on_std::run_crawl::<Q, C>(progress))
        })
        .map_err(|f| (f, crawl_scenario())),
        _ => fixed_then_drawn(
            Scenario::strategy(0..=4, 1..=3, 1..=30, 1..=3),
            6,
            |scenario| {
                let judge = history_check(property, scenario.clone());
                std_rt::explore(&budget, 5, move |progress| {
                    judge(&on_std::run_scenario::<Q>(&scenario, progress)?)
                })
            },
        ),
    }
}

/// The shuttle budget of one scenario.
const SHUTTLE: shuttle_rt::Budget = shuttle_rt::Budget {
    random: 25,
    pct: 25,
    base_seed: 0,
};

/// Checks `property` of `Q` (with crawler `C`) under shuttle: the fixed scenarios,
/// then 8 drawn ones of up to 2 producers of 3 items and 2 consumers, 25 random and
/// 25 PCT iterations each.
pub fn check_shuttle<Q: Queue, C: Crawler + 'static>(property: Property) -> Result<(), Finding> {
    match property {
        Property::ExtraTaskDone => shuttle_rt::explore(SHUTTLE, || {
            judge_extra(on_shuttle::run_extra::<Q>(&Progress::new())?)
        })
        .map_err(|f| f.deadlock_means(extra_deadlock()))
        .map_err(|f| (f, EXTRA_SCENARIO.to_string())),
        Property::Crawler => shuttle_rt::explore(shuttle_rt::Budget::DEFAULT, || {
            judge_crawl(&on_shuttle::run_crawl::<Q, C>(&Progress::new()))
        })
        .map_err(|f| Found {
            violation: crawl_violation(f.violation),
            ..f
        })
        .map_err(|f| (f, crawl_scenario())),
        _ => fixed_then_drawn(
            Scenario::strategy(0..=2, 1..=2, 1..=3, 1..=2),
            8,
            |scenario| {
                let judge = history_check(property, scenario.clone());
                let meaning = scenario.deadlock_meaning();
                shuttle_rt::explore(SHUTTLE, move || {
                    judge(&on_shuttle::run_scenario::<Q>(&scenario, &Progress::new())?)
                })
                .map_err(|f| f.deadlock_means(meaning))
            },
        ),
    }
}

/// Checks `property` of `Q` under loom: the fixed scenarios (two threads,
/// exhaustive).
pub fn check_loom<Q: Queue, C: Crawler + 'static>(property: Property) -> Result<(), Finding> {
    match property {
        Property::Crawler => unreachable!("the crawler runs four threads: not under loom"),
        Property::ExtraTaskDone => {
            // loom aborts the process on a deadlock: say first what one would mean.
            crate::isolate::note(EXTRA_SCENARIO, Some(extra_deadlock()));
            loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, || {
                judge_extra(on_loom::run_extra::<Q>(&Progress::new())?)
            })
            .map_err(|f| f.deadlock_means(extra_deadlock()))
            .map_err(|f| (f, EXTRA_SCENARIO.to_string()))
        }
        _ => {
            for scenario in fixed_scenarios()
                .into_iter()
                .filter(|s| s.can_violate(property))
            {
                crate::isolate::note(&scenario.to_string(), Some(scenario.deadlock_meaning()));
                let judge = history_check(property, scenario.clone());
                let s = scenario.clone();
                loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
                    judge(&on_loom::run_scenario::<Q>(&s, &Progress::new())?)
                })
                .map_err(|f| f.deadlock_means(scenario.deadlock_meaning()))
                .map_err(|f| (f, scenario.to_string()))?;
            }
            Ok(())
        }
    }
}

fn crawl_scenario() -> String {
    format!(
        "the course's crawler: {} workers, pages {PAGES:?}, an unbounded queue",
        racecourse_spec::queue::WORKERS
    )
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::queue::$rt as must;
        use crate::mutants::queue::$rt as m;
        use racecourse_impl::thread::queue::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "locked",
                role: Role::Reference,
                check: |p| $check::<reference::Locked, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "two_stacks",
                role: Role::MustPass,
                check: |p| $check::<must::TwoStacks, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "ring",
                role: Role::MustPass,
                check: |p| $check::<must::Ring, must::StopAfterPages>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "check_then_act",
                role: Role::Mutant {
                    must_fail: &["exactly_once"],
                },
                check: |p| $check::<m::CheckThenAct, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lifo",
                role: Role::Mutant {
                    must_fail: &["fifo_per_producer"],
                },
                check: |p| $check::<m::Lifo, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "never_blocks",
                role: Role::Mutant {
                    must_fail: &["bounded"],
                },
                check: |p| $check::<m::NeverBlocks, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "join_at_get",
                role: Role::Mutant {
                    must_fail: &["join_waits"],
                },
                check: |p| $check::<m::JoinAtGet, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "extra_task_done_accepted",
                role: Role::Mutant {
                    must_fail: &["extra_task_done"],
                },
                check: |p| $check::<m::ExtraTaskDoneAccepted, reference::Crawl>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "daemon_workers",
                role: Role::Mutant {
                    must_fail: &["crawler"],
                },
                check: |p| $check::<reference::Locked, m::DaemonWorkers>(Property::named(p)),
            },
        ]
    }};
}

/// The queue's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 queue tests for one or more implementations, named
/// `queue::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::queue! {
///     mine => my_crate::queue { queue: Locked, crawler: Crawl },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! queue {
    (not_attempted) => {
        $crate::__not_attempted!(queue);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { queue: $queue:ident, crawler: $crawler:ident }),+ $(,)?) => {
        $crate::__queue_table! { queue [$($rt)*] [$($name [$($seg)::+] [$queue $crawler]),+] }
    };
    ($($impls:tt)+) => {
        $crate::queue!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loom_skips_only_the_scenarios_a_property_cannot_fail_on() {
        let [join, race] = <[Scenario; 2]>::try_from(fixed_scenarios()).expect("two scenarios");
        // capacity 1, two puts and a join: every property can fail on it.
        for p in [
            Property::ExactlyOnce,
            Property::FifoPerProducer,
            Property::Bounded,
            Property::JoinWaits,
        ] {
            assert!(join.can_violate(p), "{p:?}");
        }
        // capacity 2, two puts, no join.
        assert!(race.can_violate(Property::ExactlyOnce));
        assert!(race.can_violate(Property::FifoPerProducer));
        assert!(!race.can_violate(Property::Bounded));
        assert!(!race.can_violate(Property::JoinWaits));
        // an unbounded queue is never over capacity.
        let unbounded = Scenario {
            capacity: 0,
            ..join
        };
        assert!(!unbounded.can_violate(Property::Bounded));
    }

    fn event(thread: usize, op: QueueOp, ret: QueueRet, call_at: u64, ret_at: u64) -> Event {
        Event {
            thread,
            op,
            ret,
            call_at,
            ret_at,
        }
    }

    #[test]
    fn drawn_scenarios_get_every_item_put() {
        let s = Scenario::producers_consumers(2, &[3, 2], &[true, false], 2);
        assert_eq!(
            s.to_string(),
            "capacity 2; thread 0: put(1), put(2), put(3), join(); thread 1: put(4), put(5); \
             thread 2: get(), task_done(), get(), task_done(), get(), task_done(); \
             thread 3: get(), task_done(), get(), task_done()"
        );
    }

    #[test]
    fn a_later_item_got_first_breaks_fifo() {
        use QueueOp::*;
        let h = [
            event(0, Put(1), QueueRet::Put, 0, 1),
            event(0, Put(2), QueueRet::Put, 2, 3),
            event(1, Get, QueueRet::Got(2), 4, 5),
            event(1, Get, QueueRet::Got(1), 6, 7),
        ];
        let v = fifo_per_producer(&h).unwrap_err();
        assert!(v.seen.contains("returned 2 while 1"), "{v}");
        // Overlapping gets may take them in either order.
        let h = [
            h[0],
            h[1],
            event(1, Get, QueueRet::Got(2), 4, 7),
            event(2, Get, QueueRet::Got(1), 5, 6),
        ];
        assert_eq!(fifo_per_producer(&h), Ok(()));
    }

    #[test]
    fn join_before_the_last_task_done_is_caught() {
        use QueueOp::*;
        let h = [
            event(0, Put(1), QueueRet::Put, 0, 1),
            event(0, Join, QueueRet::Joined, 2, 5),
            event(1, Get, QueueRet::Got(1), 3, 4),
            event(1, TaskDone, QueueRet::Done(Ok(())), 6, 7),
        ];
        let v = join_waits(&h).unwrap_err();
        assert!(v.seen.contains("item 1 was not yet done"), "{v}");
    }

    #[test]
    fn a_put_over_capacity_is_caught() {
        use QueueOp::*;
        let h = [
            event(0, Put(1), QueueRet::Put, 0, 1),
            event(0, Put(2), QueueRet::Put, 2, 3),
            event(1, Get, QueueRet::Got(1), 4, 5),
            event(1, Get, QueueRet::Got(2), 6, 7),
        ];
        assert!(bounded(1, &h).is_err());
        assert_eq!(bounded(2, &h), Ok(()));
    }
}
