//! E2 process pool suite: a student's [`ProcessPool`] runs the suite's jobs in real
//! worker processes.
//!
//! Properties (see `EXERCISES.md`, E2, and the contract in
//! `racecourse_spec::process_pool`):
//! - `map_in_order`: `map` equals the sequential map in input order: the seeds'
//!   example (squares beyond 32 bits), the empty input, random vectors, and a map of
//!   `n` items on `n` workers that finish last-input-first (each waits for its turn);
//! - `reaches_n`: `n` items that wait for each other at a barrier all finish on a
//!   pool of `n`;
//! - `at_most_n`: while `n` jobs are held, the checking process has at most `n`
//!   child processes (alive or unreaped);
//! - `reuses_workers`: 20 calls run in at most `n` distinct processes, none of them
//!   the caller's;
//! - `job_errors`: of tasks 0..9, task 5 returns `Err` and task 7 panics: exactly those
//!   two fail, with their messages, `on_error` runs once for each and `on_success`
//!   once for each other task, and the other results are `2 * x`;
//! - `worker_death`: jobs that abort, segfault, `exit(3)` and kill themselves fail with
//!   that cause, the other jobs' results are intact, and the pool then still maps;
//! - `close_join`: after `close` a submission fails with `Closed`; `join` waits for the
//!   submitted work (the jobs finish only once the joining thread is seen waiting)
//!   and for the workers, which are reaped when it returns;
//! - `terminate`: with jobs that never finish, `terminate` returns, the calls fail
//!   with `Terminated`, and no worker is left;
//! - `drop_reaps`: dropping a busy pool leaves no child process, alive or unreaped;
//! - `arguments`: `new(0)` fails with `NoWorkers`, `join` before `close` with
//!   `StillRunning`.
//!
//! ## Waiting without deadlines
//! Jobs that must be held (at a gate, a barrier, a turn) wait on counters in a shared
//! memory region the check creates ([`Probe`]). The check waits for results with
//! `get_timeout` in short slices and fails only on a proven stall: for [`STALL`], no
//! result arrived, no probe counter moved and no child process used any CPU time. A
//! worker starting on a loaded machine burns CPU, a job at work moves a counter; only
//! a pool that waits for something that never comes (a dead worker's reply, a worker
//! it never started) is quiet that long.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use racecourse_impl::process::heartbeat;
use racecourse_impl::process::shm::SharedMemory;
use racecourse_spec::job::{Death, JobError};
use racecourse_spec::process_pool::{AsyncResult, Callbacks, PoolError, ProcessPool};
use serde::{Deserialize, Serialize};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::watch::{children, gettid, seen_held};
use crate::runner::{Finding, Found, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "process_pool";

/// A check fails as stalled once nothing at all happened for this long (see the
/// module docs).
pub const STALL: Duration = Duration::from_secs(5);

/// Workers of the pools the checks make.
pub const WORKERS: usize = 3;

properties! { $ __process_pool_table;
    /// `map` equals the sequential map, in input order, for any input (the seeds'
    /// example, empty, random vectors, and items that finish last-input-first).
    MapInOrder => map_in_order [process],
    /// `n` items waiting for each other at a barrier all finish on a pool of `n`.
    ReachesN => reaches_n [process],
    /// While `n` jobs are held, at most `n` worker processes exist.
    AtMostN => at_most_n [process],
    /// Many calls run in at most `n` distinct worker processes, none the caller's.
    ReusesWorkers => reuses_workers [process],
    /// A job's `Err` or panic fails that call only; `on_error` runs once per failed
    /// call, `on_success` once per other one; the other results are intact.
    JobErrors => job_errors [process],
    /// A worker that dies mid-job (abort, segfault, exit, kill) fails that job with
    /// its cause; the pool replaces it and keeps serving.
    WorkerDeath => worker_death [process],
    /// After `close`, submitting fails; `join` waits for the submitted work and the
    /// workers, and leaves none behind.
    CloseJoin => close_join [process],
    /// `terminate` stops busy workers at once, fails the unfinished calls with
    /// `Terminated` and leaves no worker behind.
    Terminate => terminate [process],
    /// Dropping a busy pool leaves no worker process, alive or unreaped.
    DropReaps => drop_reaps [process],
    /// `new(0)` fails with `NoWorkers`; `join` before `close` fails with `StillRunning`.
    Arguments => arguments [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E2",
    title: "a pool of worker processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "pool",
        bound: "racecourse_spec::process_pool::ProcessPool",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

// ---------------------------------------------------------------------------------
// The jobs.

fn square(x: u64) -> Result<u64, String> {
    Ok(x * x)
}
racecourse_impl::job!(
    /// `x * x`.
    pub(crate) static SQUARE: fn(u64) -> u64 = square
);

fn pid(_: u64) -> Result<u32, String> {
    Ok(std::process::id())
}
racecourse_impl::job!(static PID: fn(u64) -> u32 = pid);

fn fail_at(x: u64) -> Result<u64, String> {
    match x {
        5 => Err("x == 5".to_owned()),
        7 => panic!("x == 7"),
        _ => Ok(2 * x),
    }
}
racecourse_impl::job!(static FAIL_AT: fn(u64) -> u64 = fail_at);

/// What a job of the `worker_death` check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Fate {
    Value(u64),
    Abort,
    Segfault,
    Exit(i32),
    Kill,
}

fn meet(fate: Fate) -> Result<u64, String> {
    match fate {
        Fate::Value(x) => Ok(x),
        Fate::Abort => std::process::abort(),
        Fate::Segfault | Fate::Kill => {
            let signal = if fate == Fate::Kill {
                libc::SIGKILL
            } else {
                libc::SIGSEGV
            };
            // SAFETY: raise sends a signal to this process; the point is to die of it.
            unsafe { libc::raise(signal) };
            unreachable!("a process survived {signal}")
        }
        Fate::Exit(code) => std::process::exit(code),
    }
}
racecourse_impl::job!(static FATE: fn(Fate) -> u64 = meet);

/// The counters of a check's held jobs, in shared memory.
#[derive(Debug)]
pub struct Probe {
    memory: SharedMemory,
}

pub(crate) const INSIDE: usize = 0;
pub(crate) const MAX_INSIDE: usize = 1;
pub(crate) const ARRIVED: usize = 2;
pub(crate) const OPEN: usize = 3;
pub(crate) const TURN: usize = 4;
pub(crate) const FINISHED: usize = 5;
/// Bumped on every change, and the futex word held jobs sleep on.
const CHANGES: usize = 6;
/// The pid of the process whose job took the last turn ([`Hold::Reversed`]).
const LAST_PID: usize = 7;
const COUNTERS: usize = 8;

impl Probe {
    pub(crate) fn create() -> Result<Probe, Violation> {
        SharedMemory::create(COUNTERS * 4)
            .map(|memory| Probe { memory })
            .map_err(|e| Violation::new("a shared region for the probe", e.to_string()))
    }

    pub(crate) fn attach(token: &str) -> Result<Probe, String> {
        SharedMemory::attach(token)
            .map(|memory| Probe { memory })
            .map_err(|e| format!("attaching the probe: {e}"))
    }

    fn counter(&self, i: usize) -> &AtomicU32 {
        assert!(i < COUNTERS && self.memory.len() >= COUNTERS * 4);
        // SAFETY: the region is at least COUNTERS * 4 bytes, page-aligned, shared and
        // lives as long as `self`; it is only ever accessed through atomics.
        unsafe { &*(self.memory.as_ptr().cast::<AtomicU32>().add(i)) }
    }

    /// The token a job attaches the probe by.
    pub(crate) fn token(&self) -> &str {
        self.memory.token()
    }

    pub(crate) fn get(&self, i: usize) -> u32 {
        self.counter(i).load(Ordering::SeqCst)
    }

    /// Changes counter `i` with `f` and wakes every held job to look again.
    fn update(&self, i: usize, f: impl FnOnce(&AtomicU32) -> u32) -> u32 {
        let value = f(self.counter(i));
        self.counter(CHANGES).fetch_add(1, Ordering::SeqCst);
        // SAFETY: FUTEX_WAKE on a 4-byte aligned word of a live shared mapping; it
        // reads nothing else. Not FUTEX_PRIVATE: the sleepers are other processes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.counter(CHANGES).as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
            )
        };
        value
    }

    /// Opens the gate of [`Hold::Gate`] jobs.
    pub(crate) fn open(&self) {
        self.update(OPEN, |c| {
            c.store(1, Ordering::SeqCst);
            1
        });
    }

    /// Sleeps until some counter changes (or 100 ms passed: the caller looks again).
    fn sleep(&self, seen: u32) {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        // SAFETY: FUTEX_WAIT on a 4-byte aligned word of a live shared mapping, with a
        // timespec that outlives the call; it returns at once if the word moved.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.counter(CHANGES).as_ptr(),
                libc::FUTEX_WAIT,
                seen,
                &timeout as *const libc::timespec,
            )
        };
    }

    fn signature(&self) -> u64 {
        (0..COUNTERS).map(|i| u64::from(self.get(i))).sum()
    }
}

/// At most this long, a job whose turn came waits for the previous turn's result to
/// settle (see [`crate::runner::watch::settle`]): a bound on the pacing, never a
/// verdict.
const SETTLE: Duration = Duration::from_millis(250);

/// How a held job waits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum Hold {
    /// Until the probe's gate opens.
    Gate,
    /// Until all `n` have arrived.
    Barrier(u32),
    /// Until `turn` reaches `n - 1 - i` (the last item goes first).
    Reversed(u32),
}

impl Probe {
    /// A held job's part, in the job's process: counts itself in, waits as `hold`
    /// says (item `i`), counts itself out. Gives up (`Err`) if the process that
    /// started it is gone.
    pub(crate) fn hold(&self, i: u32, hold: Hold) -> Result<(), String> {
        let probe = self;
        let inside = probe.update(INSIDE, |c| c.fetch_add(1, Ordering::SeqCst) + 1);
        probe.update(MAX_INSIDE, |c| c.fetch_max(inside, Ordering::SeqCst));
        probe.update(ARRIVED, |c| c.fetch_add(1, Ordering::SeqCst));
        let parent = std::os::unix::process::parent_id();
        // An open gate lets every held job go, whatever it waits for: how a check
        // that found a stall lets the jobs (and whatever waits for them) end.
        let ready = || {
            probe.get(OPEN) != 0
                || match hold {
                    Hold::Gate => false,
                    Hold::Barrier(n) => probe.get(ARRIVED) >= n,
                    Hold::Reversed(n) => probe.get(TURN) == n - 1 - i,
                }
        };
        loop {
            let seen = probe.get(CHANGES);
            if ready() {
                break;
            }
            if std::os::unix::process::parent_id() != parent {
                return Err("the process that started this job is gone".into());
            }
            probe.sleep(seen);
        }
        if let Hold::Reversed(n) = hold {
            if i + 1 < n && probe.get(OPEN) == 0 {
                // The turn before this one is over; let its result reach the pool's
                // owner before this one's, so that the owner sees them last-first
                // (otherwise two replies in flight could reach it in either order,
                // and a pool that gathers in completion order could pass by luck).
                let previous = probe.get(LAST_PID);
                let me = std::process::id();
                let others: Vec<u32> = [previous, parent]
                    .into_iter()
                    .filter(|&p| p != me)
                    .collect();
                crate::runner::watch::settle(&others, SETTLE);
            }
            probe
                .counter(LAST_PID)
                .store(std::process::id(), Ordering::SeqCst);
        }
        probe.update(INSIDE, |c| c.fetch_sub(1, Ordering::SeqCst));
        probe.update(TURN, |c| c.fetch_add(1, Ordering::SeqCst));
        probe.update(FINISHED, |c| c.fetch_add(1, Ordering::SeqCst));
        Ok(())
    }
}

fn held((token, i, hold): (String, u32, Hold)) -> Result<u32, String> {
    Probe::attach(&token)?.hold(i, hold)?;
    Ok(i)
}
racecourse_impl::job!(static HELD: fn((String, u32, Hold)) -> u32 = held);

// ---------------------------------------------------------------------------------
// Waiting, and what the checks report.

/// Waits for things, failing only on a proven stall (see the module docs).
pub(crate) struct Watch<'a> {
    probe: Option<&'a Probe>,
    last: u64,
    since: Instant,
}

impl<'a> Watch<'a> {
    pub(crate) fn new(probe: Option<&'a Probe>) -> Self {
        Watch {
            probe,
            last: u64::MAX,
            since: Instant::now(),
        }
    }

    fn signature(&self) -> u64 {
        let cpu: u64 = children().iter().map(|c| c.cpu.as_millis() as u64).sum();
        let count = children().len() as u64;
        cpu.wrapping_mul(31)
            .wrapping_add(count)
            .wrapping_add(self.probe.map_or(0, |p| p.signature()) << 20)
    }

    /// Something happened (a result): the window starts again.
    pub(crate) fn progressed(&mut self) {
        self.since = Instant::now();
        heartbeat::beat();
    }

    /// Checks for a stall while waiting for `what`.
    pub(crate) fn tick(&mut self, what: &str) -> Result<(), Violation> {
        let now = self.signature();
        if now != self.last {
            self.last = now;
            self.progressed();
        } else if self.since.elapsed() >= STALL {
            return Err(Violation::new(
                what.to_string(),
                format!(
                    "nothing happened for {STALL:?}: no result, no job moved, no worker used CPU time \
                     (a pool waiting for a dead worker, or for a worker it never started)"
                ),
            )
            .of_kind(Kind::Stall));
        }
        Ok(())
    }

    /// Waits until `done()`.
    pub(crate) fn until(
        &mut self,
        what: &str,
        mut done: impl FnMut() -> bool,
    ) -> Result<(), Violation> {
        while !done() {
            self.tick(what)?;
            std::thread::sleep(Duration::from_millis(1));
        }
        self.progressed();
        Ok(())
    }

    /// The result of `pending`.
    pub(crate) fn get<T: Send + 'static>(
        &mut self,
        what: &str,
        pending: &mut impl AsyncResult<T>,
    ) -> Result<Result<T, PoolError>, Violation> {
        loop {
            match pending.get_timeout(Duration::from_millis(5)) {
                Err(PoolError::Timeout(_)) => self.tick(what)?,
                outcome => {
                    self.progressed();
                    return Ok(outcome);
                }
            }
        }
    }
}

pub(crate) fn call_failed(what: impl Into<String>, e: PoolError) -> Violation {
    Violation::new(what, format!("the pool said: {e}"))
}

pub(crate) fn new_pool<P: ProcessPool>(n: usize) -> Result<P, Violation> {
    P::new(n).map_err(|e| call_failed(format!("new({n}) to start a pool"), e))
}

pub(crate) fn no_children_left(when: &str) -> Result<(), Violation> {
    let left = children();
    if left.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = left
        .iter()
        .map(|c| {
            format!(
                "{} ({})",
                c.pid,
                if c.state == 'Z' {
                    "unreaped"
                } else {
                    "running"
                }
            )
        })
        .collect();
    Err(Violation::new(
        format!("no worker process left {when}"),
        format!(
            "{} child process(es) left: {}",
            left.len(),
            listed.join(", ")
        ),
    ))
}

// ---------------------------------------------------------------------------------
// The checks.

/// The seeds' example: squares of numbers whose squares need more than 32 bits.
pub const SEED_ITEMS: [u64; 7] = [13632, 23432, 312131, 456575, 54543, 689654, 9];

fn map_in_order<P: ProcessPool>() -> Result<(), Violation> {
    // First n items on n workers, finishing last-input-first: the one scenario whose
    // completion order is fixed, so a pool that gathers in completion order is
    // rejected by it in every run (and the report is always the same).
    {
        let probe = Probe::create()?;
        let pool = new_pool::<P>(WORKERS)?;
        let n = WORKERS as u32;
        let mut watch = Watch::new(Some(&probe));
        let mut pending = map_held(&pool, &probe, n, Hold::Reversed(n))?;
        let what = format!("{n} items on {n} workers, each waiting for the one after it to finish");
        match watch.get(&what, &mut pending)? {
            Ok(got) if got == (0..n).collect::<Vec<_>>() => Ok(()),
            Ok(got) => Err(Violation::new(
                format!(
                    "the results in input order, {:?}, though they finished last-first",
                    (0..n).collect::<Vec<_>>()
                ),
                format!("{got:?}: the results are in the order the items finished"),
            )),
            Err(e) => Err(call_failed(what, e)),
        }?;
    }
    let pool = new_pool::<P>(WORKERS)?;
    let mut watch = Watch::new(None);
    let map = |items: Vec<u64>, watch: &mut Watch| -> Result<(), Violation> {
        let expected: Vec<u64> = items.iter().map(|&x| x * x).collect();
        let shown = format!("{items:?}");
        let mut pending = pool
            .map_async(&SQUARE, items, Callbacks::none())
            .map_err(|e| call_failed("map_async to take the items", e))?;
        match watch.get(&format!("the squares of {shown}"), &mut pending)? {
            Ok(got) if got == expected => Ok(()),
            Ok(got) => Err(Violation::new(
                format!("the squares of {shown} in input order: {expected:?}"),
                format!("{got:?}"),
            )),
            Err(e) => Err(call_failed(format!("the squares of {shown}"), e)),
        }
    };
    map(SEED_ITEMS.to_vec(), &mut watch)?;
    map(Vec::new(), &mut watch)?;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(0u64..1 << 32, 0..120);
    for _ in 0..12 {
        let items = strategy
            .new_tree(&mut runner)
            .expect("a vector strategy always draws")
            .current();
        map(items, &mut watch)?;
    }
    Ok(())
}

fn reaches_n<P: ProcessPool>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let pool = new_pool::<P>(WORKERS)?;
    let n = WORKERS as u32;
    let mut watch = Watch::new(Some(&probe));
    let mut pending = map_held(&pool, &probe, n, Hold::Barrier(n))?;
    let what =
        format!("{n} items waiting for each other at a barrier to run at once on {n} workers");
    match watch.get(&what, &mut pending)? {
        Ok(_) => Ok(()),
        Err(e) => Err(call_failed(what, e)),
    }
}

fn at_most_n<P: ProcessPool>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let pool = new_pool::<P>(WORKERS)?;
    let n = WORKERS as u32;
    let mut watch = Watch::new(Some(&probe));
    let mut pending = map_held(&pool, &probe, 3 * n, Hold::Gate)?;
    watch.until(&format!("{n} held jobs to be running"), || {
        probe.get(INSIDE) >= n
    })?;
    let alive = children();
    probe.open();
    if alive.len() > WORKERS || probe.get(MAX_INSIDE) > n {
        return Err(Violation::new(
            format!("at most {WORKERS} worker processes on a pool of {WORKERS}"),
            format!(
                "{} child processes while {} jobs were held ({} jobs held at once at most)",
                alive.len(),
                probe.get(INSIDE),
                probe.get(MAX_INSIDE)
            ),
        ));
    }
    match watch.get("the held jobs to finish once released", &mut pending)? {
        Ok(_) => Ok(()),
        Err(e) => Err(call_failed("the held jobs", e)),
    }
}

fn reuses_workers<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(WORKERS)?;
    let mut watch = Watch::new(None);
    let mut pending = Vec::new();
    for i in 0..20 {
        pending.push(
            pool.apply_async(&PID, i, Callbacks::none())
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    let mut pids = std::collections::BTreeSet::new();
    for p in &mut pending {
        match watch.get("20 jobs that return their process id", p)? {
            Ok(pid) => pids.insert(pid),
            Err(e) => return Err(call_failed("a job that returns its process id", e)),
        };
    }
    if pids.contains(&std::process::id()) {
        return Err(Violation::new(
            "every job to run in a worker process",
            "a job ran in the caller's own process",
        ));
    }
    if pids.len() > WORKERS {
        return Err(Violation::new(
            format!("20 jobs on a pool of {WORKERS} to run in at most {WORKERS} processes (workers reused)"),
            format!("they ran in {} distinct processes", pids.len()),
        ));
    }
    Ok(())
}

fn job_errors<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(WORKERS)?;
    let mut watch = Watch::new(None);
    let calls: Arc<Mutex<Vec<(u64, &'static str)>>> = Arc::default();
    let mut pending = Vec::new();
    for x in 0..10u64 {
        let (ok, err) = (Arc::clone(&calls), Arc::clone(&calls));
        let callbacks = Callbacks::none()
            .on_success(move |_: &u64| ok.lock().unwrap().push((x, "on_success")))
            .on_error(move |_: &JobError| err.lock().unwrap().push((x, "on_error")));
        pending.push(
            pool.apply_async(&FAIL_AT, x, callbacks)
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    for (x, p) in (0..10u64).zip(&mut pending) {
        let got = watch.get(&format!("task {x}"), p)?;
        let ok = match (x, &got) {
            (
                5,
                Err(PoolError::Job {
                    error: JobError::Failed(m),
                    ..
                }),
            ) => m == "x == 5",
            (
                7,
                Err(PoolError::Job {
                    error: JobError::Panicked(m),
                    ..
                }),
            ) => m == "x == 7",
            (5 | 7, _) => false,
            (_, Ok(v)) => *v == 2 * x,
            _ => false,
        };
        if !ok {
            let expected = match x {
                5 => "the error \"x == 5\" (the job returned Err)".to_owned(),
                7 => "the panic \"x == 7\"".to_owned(),
                _ => format!("{}", 2 * x),
            };
            return Err(Violation::new(
                format!("task {x} of 0..10 (task 5 fails, task 7 panics) to give {expected}"),
                format!("{got:?}"),
            ));
        }
    }
    let mut seen = calls.lock().unwrap().clone();
    seen.sort();
    let expected: Vec<(u64, &str)> = (0..10)
        .map(|x| {
            (
                x,
                if x == 5 || x == 7 {
                    "on_error"
                } else {
                    "on_success"
                },
            )
        })
        .collect();
    if seen != expected {
        return Err(Violation::new(
            "on_error once for tasks 5 and 7, on_success once for each other task, by the time its result is ready",
            format!("the callbacks ran as {seen:?}"),
        ));
    }
    // A map with a failing item fails with that item, and its error callback runs once.
    let errors = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&errors);
    let mut pending = pool
        .map_async(
            &FAIL_AT,
            (0..10).collect(),
            Callbacks::none().on_error(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .map_err(|e| call_failed("map_async to take the items", e))?;
    match watch.get("a map over 0..10 with task 5 failing", &mut pending)? {
        Err(PoolError::Job { index: 5 | 7, .. }) if errors.load(Ordering::SeqCst) == 1 => Ok(()),
        got => Err(Violation::new(
            "a map over 0..10 to fail with item 5 or 7, its on_error called once",
            format!(
                "{got:?}, on_error called {} time(s)",
                errors.load(Ordering::SeqCst)
            ),
        )),
    }
}

fn worker_death<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(2)?;
    let mut watch = Watch::new(None);
    let fates = [
        Fate::Value(1),
        Fate::Abort,
        Fate::Value(2),
        Fate::Segfault,
        Fate::Exit(3),
        Fate::Kill,
        Fate::Value(3),
    ];
    let mut pending = Vec::new();
    for fate in fates {
        pending.push(
            pool.apply_async(&FATE, fate, Callbacks::none())
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    for (fate, p) in fates.into_iter().zip(&mut pending) {
        let what = format!("the job {fate:?}");
        let got = watch.get(&what, p)?;
        let expected = match fate {
            Fate::Value(x) => Ok(x),
            Fate::Abort => Err(Death::Signaled(libc::SIGABRT)),
            Fate::Segfault => Err(Death::Signaled(libc::SIGSEGV)),
            Fate::Kill => Err(Death::Signaled(libc::SIGKILL)),
            Fate::Exit(code) => Err(Death::Exited(code)),
        };
        let matches = match (&expected, &got) {
            (Ok(x), Ok(y)) => x == y,
            (
                Err(death),
                Err(PoolError::Job {
                    error: JobError::Crashed(seen),
                    ..
                }),
            ) => death == seen,
            _ => false,
        };
        if !matches {
            let expected = match expected {
                Ok(x) => format!("its result {x}"),
                Err(death) => format!("its worker's death reported with the cause: {death}"),
            };
            return Err(Violation::new(
                format!("{what} to give {expected}"),
                format!("{got:?}"),
            ));
        }
    }
    let mut pending = pool
        .map_async(&SQUARE, (1..=20).collect(), Callbacks::none())
        .map_err(|e| call_failed("map_async after four workers died", e))?;
    match watch.get(
        "a map after four workers died (they must be replaced)",
        &mut pending,
    )? {
        Ok(got) if got == (1..=20u64).map(|x| x * x).collect::<Vec<_>>() => {}
        got => {
            return Err(Violation::new(
                "the squares of 1..=20 from a pool whose dead workers were replaced",
                format!("{got:?}"),
            ))
        }
    }
    let alive = children().len();
    if alive > 2 {
        return Err(Violation::new(
            "at most 2 worker processes on a pool of 2 after four died",
            format!("{alive} child processes"),
        ));
    }
    Ok(())
}

fn held_items(probe: &Probe, count: u32, hold: Hold) -> Vec<(String, u32, Hold)> {
    (0..count)
        .map(|i| (probe.memory.token().to_owned(), i, hold))
        .collect()
}

/// Maps the held job over `count` items that wait as `hold` says.
fn map_held<P: ProcessPool>(
    pool: &P,
    probe: &Probe,
    count: u32,
    hold: Hold,
) -> Result<P::Async<Vec<u32>>, Violation> {
    pool.map_async(&HELD, held_items(probe, count, hold), Callbacks::none())
        .map_err(|e| call_failed("map_async to take the items", e))
}

fn close_join<P: ProcessPool>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let pool = new_pool::<P>(2)?;
    let mut watch = Watch::new(Some(&probe));
    let mut pending = Vec::new();
    for item in held_items(&probe, 4, Hold::Gate) {
        pending.push(
            pool.apply_async(&HELD, item, Callbacks::none())
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    pool.close();
    if let Ok(p) = pool.apply_async(&SQUARE, 3, Callbacks::none()) {
        drop(p);
        probe.open();
        return Err(Violation::new(
            "apply_async after close to fail with Closed",
            "the pool took the job",
        ));
    }
    // The jobs finish once this thread is seen waiting in join.
    let returned = Arc::new(AtomicBool::new(false));
    let tid = gettid();
    let opener = {
        let returned = Arc::clone(&returned);
        let token = probe.memory.token().to_owned();
        std::thread::spawn(move || {
            let seen = seen_held(tid, &returned);
            if let Ok(probe) = Probe::attach(&token) {
                if seen {
                    probe.open();
                }
            }
        })
    };
    let joined = pool.join();
    returned.store(true, Ordering::SeqCst);
    let _ = opener.join();
    let finished = probe.get(FINISHED);
    probe.open();
    joined.map_err(|e| call_failed("join after close", e))?;
    if finished < 4 {
        return Err(Violation::new(
            "join to return once the 4 submitted jobs are done",
            format!("join returned when {finished} of them had finished"),
        ));
    }
    for p in &mut pending {
        match p.get_timeout(Duration::ZERO) {
            Ok(_) => {}
            Err(e) => {
                return Err(call_failed(
                    "every submitted job's result to be ready once join returned",
                    e,
                ))
            }
        }
    }
    let _ = &mut watch;
    no_children_left("once join returned")
}

fn terminate<P: ProcessPool>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let pool = new_pool::<P>(2)?;
    let mut watch = Watch::new(Some(&probe));
    let mut pending = Vec::new();
    for item in held_items(&probe, 4, Hold::Gate) {
        pending.push(
            pool.apply_async(&HELD, item, Callbacks::none())
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    watch.until("2 held jobs to be running", || probe.get(INSIDE) >= 2)?;
    let done = AtomicBool::new(false);
    let waited = std::thread::scope(|scope| {
        scope.spawn(|| {
            pool.terminate();
            done.store(true, Ordering::SeqCst);
        });
        let waited = watch.until(
            "terminate to return while the workers' jobs never finish",
            || done.load(Ordering::SeqCst),
        );
        // Let the workers go either way, so that a terminate that waits returns.
        if waited.is_err() {
            probe.open();
        }
        waited
    });
    if let Err(stalled) = waited {
        return Err(Violation::new(
            "terminate to stop busy workers at once (kill them, not wait for their jobs)",
            stalled.seen,
        )
        .of_kind(Kind::Stall));
    }
    let left = no_children_left("once terminate returned");
    probe.open();
    left?;
    for p in &mut pending {
        match watch.get("the result of a job of a terminated pool", p)? {
            Err(PoolError::Terminated) => {}
            got => {
                return Err(Violation::new(
                    "every unfinished job of a terminated pool to fail with Terminated",
                    format!("{got:?}"),
                ))
            }
        }
    }
    match pool.apply_async(&SQUARE, 3, Callbacks::none()) {
        Err(PoolError::Terminated | PoolError::Closed) => Ok(()),
        Err(e) => Err(call_failed(
            "apply_async after terminate to fail with Terminated",
            e,
        )),
        Ok(_) => Err(Violation::new(
            "apply_async after terminate to fail with Terminated",
            "the pool took the job",
        )),
    }
}

fn drop_reaps<P: ProcessPool>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let pool = new_pool::<P>(2)?;
    let mut watch = Watch::new(Some(&probe));
    let mut pending = Vec::new();
    for item in held_items(&probe, 4, Hold::Gate) {
        pending.push(
            pool.apply_async(&HELD, item, Callbacks::none())
                .map_err(|e| call_failed("apply_async to take a job", e))?,
        );
    }
    watch.until("2 held jobs to be running", || probe.get(INSIDE) >= 2)?;
    drop(pool);
    let left = no_children_left("once the pool was dropped (with 2 busy workers)");
    probe.open();
    left
}

fn arguments<P: ProcessPool>() -> Result<(), Violation> {
    match P::new(0) {
        Err(PoolError::NoWorkers) => {}
        Err(e) => return Err(call_failed("new(0) to fail with NoWorkers", e)),
        Ok(_) => {
            return Err(Violation::new(
                "new(0) to fail with NoWorkers (a pool needs a worker)",
                "new(0) gave a pool",
            ))
        }
    }
    let pool = new_pool::<P>(1)?;
    match pool.join() {
        Err(PoolError::StillRunning) => Ok(()),
        Err(e) => Err(call_failed(
            "join before close to fail with StillRunning",
            e,
        )),
        Ok(()) => Err(Violation::new(
            "join before close to fail with StillRunning",
            "join returned Ok on a running pool",
        )),
    }
}

/// Checks `property` of the pool type `P`, in real worker processes.
pub fn check<P: ProcessPool>(_: &PoolType<P>, property: Property) -> Result<(), Finding> {
    let outcome = match property {
        Property::MapInOrder => map_in_order::<P>(),
        Property::ReachesN => reaches_n::<P>(),
        Property::AtMostN => at_most_n::<P>(),
        Property::ReusesWorkers => reuses_workers::<P>(),
        Property::JobErrors => job_errors::<P>(),
        Property::WorkerDeath => worker_death::<P>(),
        Property::CloseJoin => close_join::<P>(),
        Property::Terminate => terminate::<P>(),
        Property::DropReaps => drop_reaps::<P>(),
        Property::Arguments => arguments::<P>(),
    };
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "real worker processes (spawn start method); held jobs wait on counters in shared memory".to_string(),
                replay_env: Vec::new(),
            },
            format!("property {}, on pools of {WORKERS} (or 2) workers", property.name()),
        )
    })
}

/// A pool type, as the process runtime's generated tests name it (the pool runs in
/// the checking process; its workers are this binary, re-executed). It names any
/// process implementation the same way, whatever its trait: the child processes of
/// `child_processes` too.
pub struct PoolType<P>(PhantomData<fn() -> P>);

impl<P> PoolType<P> {
    /// The marker for `P`.
    pub const fn new() -> Self {
        PoolType(PhantomData)
    }
}

impl<P> Default for PoolType<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> fmt::Debug for PoolType<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<P>())
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_pool {
    ($vis:vis static $name:ident : $ty:ty $(;)?) => {
        $vis static $name: $crate::process_pool::PoolType<$ty> = $crate::process_pool::PoolType::new();
    };
}

#[doc(hidden)]
pub use crate::__register_pool as __register_worker;

/// One implementation row of a pool exercise: the calling module's `NAME`, `check`
/// and `Property`, on the pool type `$ty`.
macro_rules! pool_row {
    ($name:literal, $role:expr, $ty:ty) => {
        $crate::registry::Implementation {
            exercise: NAME,
            name: $name,
            role: $role,
            check: |p| {
                check(
                    &$crate::process_pool::PoolType::<$ty>::new(),
                    Property::named(p),
                )
            },
        }
    };
}
pub(crate) use pool_row;

/// The rows every exercise run on a pool has (E3, E8): the reference, and the mutant
/// whose results come back in the wrong order, which `killers` must reject.
macro_rules! pool_exercise_rows {
    ($runtime:expr, $killers:expr) => {{
        use $crate::mutants::process_pool::{self as m, Flawed};
        use $crate::registry::Role;
        if $runtime != $crate::runner::Runtime::Process {
            return Vec::new();
        }
        vec![
            $crate::process_pool::pool_row!(
                "pool",
                Role::Reference,
                racecourse_impl::process::process_pool::Pool
            ),
            $crate::process_pool::pool_row!(
                "lazy",
                Role::MustPass,
                $crate::must_pass::process_pool::Lazy
            ),
            $crate::process_pool::pool_row!(
                "reversed_chunks",
                Role::Mutant {
                    must_fail: $killers
                },
                Flawed<{ m::REVERSED_CHUNKS }>
            ),
        ]
    }};
}
pub(crate) use pool_exercise_rows;

/// The pool's implementations (reference, must-pass, mutants), on real processes.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    use crate::mutants::process_pool::{self as m, Flawed};
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let mutant = |must_fail| Role::Mutant { must_fail };
    vec![
        pool_row!(
            "pool",
            Role::Reference,
            racecourse_impl::process::process_pool::Pool
        ),
        pool_row!("lazy", Role::MustPass, crate::must_pass::process_pool::Lazy),
        pool_row!(
            "completion_order",
            mutant(&["map_in_order"]),
            Flawed<{ m::COMPLETION_ORDER }>
        ),
        pool_row!(
            "reversed_chunks",
            mutant(&["map_in_order"]),
            Flawed<{ m::REVERSED_CHUNKS }>
        ),
        pool_row!(
            "one_worker",
            mutant(&["reaches_n"]),
            Flawed<{ m::ONE_WORKER }>
        ),
        pool_row!(
            "extra_worker",
            mutant(&["at_most_n"]),
            Flawed<{ m::EXTRA_WORKER }>
        ),
        pool_row!(
            "worker_per_task",
            mutant(&["at_most_n", "reuses_workers"]),
            Flawed<{ m::WORKER_PER_TASK }>
        ),
        pool_row!(
            "runs_in_caller",
            mutant(&["reuses_workers"]),
            Flawed<{ m::RUNS_IN_CALLER }>
        ),
        pool_row!(
            "skips_error_callback",
            mutant(&["job_errors"]),
            Flawed<{ m::SKIPS_ERROR_CALLBACK }>
        ),
        pool_row!(
            "dead_worker_hangs",
            mutant(&["worker_death"]),
            Flawed<{ m::DEAD_WORKER_HANGS }>
        ),
        pool_row!(
            "not_replaced",
            mutant(&["worker_death"]),
            Flawed<{ m::NOT_REPLACED }>
        ),
        pool_row!(
            "accepts_after_close",
            mutant(&["close_join"]),
            Flawed<{ m::ACCEPTS_AFTER_CLOSE }>
        ),
        pool_row!(
            "join_at_once",
            mutant(&["close_join"]),
            Flawed<{ m::JOIN_AT_ONCE }>
        ),
        pool_row!(
            "terminate_waits",
            mutant(&["terminate"]),
            Flawed<{ m::TERMINATE_WAITS }>
        ),
        pool_row!(
            "leaks_on_drop",
            mutant(&["drop_reaps"]),
            Flawed<{ m::LEAKS_ON_DROP }>
        ),
        pool_row!(
            "zero_accepted",
            mutant(&["arguments"]),
            Flawed<{ m::ZERO_ACCEPTED }>
        ),
    ]
}

/// Generates the process pool tests (real processes), named
/// `process_pool::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::process_pool! {
///     mine => my_crate::pool { pool: MyPool },
/// }
/// ```
///
/// The pool type must implement [`ProcessPool`]. `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! process_pool {
    (not_attempted) => {
        $crate::__not_attempted!(process_pool);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { pool: $ty:ident }),+ $(,)?) => {
        $crate::__process_pool_table! { process_pool [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::process_pool!(runtimes: [process], $($impls)+);
    };
}
