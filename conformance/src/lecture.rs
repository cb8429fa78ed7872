//! L lecture suite: the lecture's facts about threads, checked on real threads.
//!
//! Properties (see `EXERCISES.md`, "L — Lecture notes", and seed 003):
//! - `daemon_exits`: a program whose daemon thread still loops ends (a child program
//!   that ends only by returning from `end_of_main` exits while its daemon waits);
//! - `normal_waits`: a program does not end before its normal thread finished (the
//!   child's normal thread finishes before `end_of_main` returns);
//! - `active_count`: the count rises while workers run and falls after join;
//! - `threads_overlap`: two tasks run by `run_threaded` are both in flight at once;
//! - `sequence_in_order`: `run_sequential` runs the tasks on the calling thread, one at
//!   a time, in order.
//!
//! ## The child program, and how a waiting `end_of_main` is seen without a clock
//! The first two run a small program in a child process: this test binary re-run
//! ([`isolate::rerun_cell`](crate::isolate::rerun_cell)) with [`PROGRAM_ENV`] naming
//! the program, as the process runtime starts its workers. The program starts one
//! worker, waits until its work runs, calls `end_of_main`, and ends the process. The
//! worker's work waits at a gate. Whether `end_of_main` waits for the worker can only
//! be told by watching it wait, so a watcher thread in the child reads the main
//! thread's state in `/proc`, and opens the gate once the main thread has been seen
//! held inside `end_of_main`: asleep (`S`) for [`HELD`] in a row, or [`HELD`] of CPU
//! time burnt (a spin). That only decides when the gate opens, never a verdict:
//! - a correct `end_of_main` with a normal worker waits for it: seen held, the gate
//!   opens, the worker finishes, then `end_of_main` returns. A wrong one returns at
//!   once, neither asleep nor spinning (a scheduler that delays it leaves it
//!   runnable), so it returns with the gate shut in every run, however loaded the
//!   machine;
//! - a correct `end_of_main` with only a daemon worker never waits: it returns and the
//!   program ends while the daemon is still at its gate. One that waits for the daemon
//!   is seen held, the gate opens, the daemon's work ends, and only then does
//!   `end_of_main` return: the order proves the wait, in every run.
//!
//! The parent judges the order of the lines the program prints. Progress for the std
//! runner is the child's heartbeat (each step of the program) and its exit; a program
//! that hangs all the same (a worker that never finishes) is a stall of the runner's
//! window, and the child, with everything it started, is killed when the check ends.

use std::fmt;
use std::time::Duration;

use racecourse_impl::process::child::{ChildStatus, SpawnOptions, Supervised};
use racecourse_spec::lecture::Threading;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::{std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "lecture";

properties! { $ __lecture_table;
    /// A program ends while its daemon thread still runs: in a child program,
    /// `end_of_main` returns, and the program exits, while the daemon worker still
    /// waits at its gate (seen blocked, `end_of_main` gets the gate opened, and then
    /// returning only after the daemon's work ended shows that it waited for it).
    DaemonExits => daemon_exits [std],
    /// A program does not end before its normal thread finished: in a child program,
    /// `end_of_main` returns only after the normal worker's work finished (its gate
    /// opens once `end_of_main` is seen blocked).
    NormalWaits => normal_waits [std],
    /// `active_count` is 1 plus the workers running while they are held at a
    /// rendezvous, and 1 again once they are joined.
    ActiveCount => active_count [std],
    /// The two tasks of `run_threaded` run on threads of their own and are both in
    /// flight at once (each waits for the other at a latch).
    ThreadsOverlap => threads_overlap [std],
    /// `run_sequential` runs the tasks on the calling thread, one at a time, in the
    /// order given.
    SequenceInOrder => sequence_in_order [std],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "L",
    title: "the lecture's facts about threads",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "threading",
        bound: "racecourse_spec::lecture::Threading",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// Names the program a re-run of the check is to play (see the module docs).
pub const PROGRAM_ENV: &str = "RACECOURSE_LECTURE_PROGRAM";

/// How long the main thread must be seen asleep in `end_of_main`, or how much CPU time
/// it must burn there, before the child's gate opens (see the module docs). It decides
/// only when the gate opens; a correct program passes whatever it is.
pub const HELD: Duration = crate::runner::watch::HELD;

/// Every line of the child program starts with this.
const MARK: &str = "lecture: ";

/// One scenario of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The property the scenario checks.
    pub property: Property,
    /// Workers (or tasks) it starts.
    pub workers: usize,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.workers;
        match self.property {
            Property::DaemonExits => f.write_str(
                "a child program starts a daemon worker that waits at a gate nobody opens unless end_of_main is seen blocked, then calls end_of_main and exits",
            ),
            Property::NormalWaits => f.write_str(
                "a child program starts a normal worker that waits at a gate opened once end_of_main is seen blocked, then calls end_of_main and exits",
            ),
            Property::ActiveCount => write!(
                f,
                "{n} normal workers held at a rendezvous while active_count is read, then joined and active_count read again"
            ),
            Property::ThreadsOverlap => write!(
                f,
                "run_threaded with {n} tasks that each wait at a latch for all {n}"
            ),
            Property::SequenceInOrder => {
                write!(f, "run_sequential with {n} tasks that note their turn")
            }
        }
    }
}

impl Property {
    /// The one scenario of the property.
    fn scenario(self) -> Scenario {
        let workers = match self {
            Property::DaemonExits | Property::NormalWaits => 1,
            Property::ActiveCount | Property::SequenceInOrder => 3,
            Property::ThreadsOverlap => 2,
        };
        Scenario {
            property: self,
            workers,
        }
    }

    /// Trials on real threads: few for the child programs (a process each).
    fn trials(self) -> u32 {
        match self {
            Property::DaemonExits | Property::NormalWaits => 2,
            _ => 10,
        }
    }
}

/// The two child programs.
mod program {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc, Condvar, Mutex};

    use racecourse_impl::process::heartbeat;
    use racecourse_spec::lecture::Threading;

    use super::MARK;
    use crate::runner::watch::seen_held;

    /// Prints one line of the program and beats the heartbeat.
    fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{MARK}{line}");
        let _ = out.flush();
        heartbeat::beat();
    }

    /// A gate a worker waits at.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Gate {
        fn open(&self) {
            *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.opened.notify_all();
        }

        fn wait(&self) {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            while !*open {
                open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Runs the program `name` (`daemon` or `normal`) with `T` and ends the process.
    pub(super) fn run<T: Threading>(name: &str) -> ! {
        let daemon = name == "daemon";
        let who = if daemon { "daemon" } else { "worker" };
        let threading = T::new();
        let gate = Arc::new(Gate::default());
        let returned = Arc::new(AtomicBool::new(false));
        let main = std::thread::current().id();
        let (started_tx, started) = mpsc::channel();
        let work = {
            let gate = Arc::clone(&gate);
            Box::new(move || {
                if std::thread::current().id() == main {
                    say(&format!("{who} ran on the main thread"));
                    let _ = started_tx.send(());
                    return;
                }
                say(&format!("{who} started"));
                let _ = started_tx.send(());
                gate.wait();
                say(&format!("{who} finished"));
            })
        };
        // Kept, never joined: the program's end is end_of_main's business.
        let _handle = if daemon {
            threading.spawn_daemon(work);
            None
        } else {
            Some(threading.spawn_normal(work))
        };
        let _ = started.recv();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        {
            let gate = Arc::clone(&gate);
            let returned = Arc::clone(&returned);
            std::thread::spawn(move || {
                if seen_held(tid, &returned) {
                    say("end_of_main seen blocked: the gate opens");
                    gate.open();
                }
            });
        }
        say("end_of_main called");
        threading.end_of_main();
        returned.store(true, Ordering::SeqCst);
        say("end_of_main returned");
        // The end of the program: whatever still runs ends with it.
        std::process::exit(0)
    }
}

/// What the child printed, and how it ended.
struct Ran {
    lines: Vec<String>,
    status: ChildStatus,
    stderr: String,
}

impl Ran {
    fn at(&self, line: &str) -> Option<usize> {
        self.lines.iter().position(|l| l == line)
    }

    fn transcript(&self) -> String {
        self.lines.join("; ")
    }
}

/// Runs the child program `name` and waits for it to end, ticking `progress` with
/// the child's heartbeat.
fn run_program(name: &str, progress: &Progress) -> Result<Ran, Violation> {
    let Some(mut command) = crate::isolate::rerun_cell() else {
        return Err(Violation::new(
            "the check to run isolated in a child process, as generated tests and the kill matrix run it",
            "it ran in the test process itself, where the child program cannot be started: call it through racecourse::isolate::cell",
        ));
    };
    command.env(PROGRAM_ENV, name);
    let child =
        Supervised::spawn_with(&mut command, SpawnOptions::new().heartbeat()).map_err(|e| {
            Violation::new(
                "the child program to start",
                format!("spawning it failed: {e}"),
            )
        })?;
    progress.tick();
    let mut last = child.beats();
    while !child.has_exited() {
        let beats = child.beats();
        if beats != last {
            last = beats;
            progress.tick();
        }
        // The pace of the look; the std runner's stall window judges a child that
        // stops beating.
        std::thread::sleep(Duration::from_millis(1));
    }
    // Kills whatever the program left running (its daemon) and reaps it.
    let outcome = child.kill();
    progress.tick();
    Ok(Ran {
        lines: outcome
            .stdout
            .to_string_lossy()
            .lines()
            // Not only at the start of a line: libtest's "test .. ... " may come first.
            .filter_map(|l| l.find(MARK).map(|at| &l[at + MARK.len()..]))
            .map(str::to_string)
            .collect(),
        status: outcome.status,
        stderr: outcome.stderr.to_string_lossy(),
    })
}

/// The first panic message in `stderr`, or its last line.
fn first_panic(stderr: &str) -> String {
    stderr
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .nth(1)
        .or_else(|| stderr.lines().last())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Judges the end of a child program: it printed `end_of_main returned` and exited
/// with 0, its worker ran on a thread of its own.
fn ended(ran: &Ran, who: &str) -> Result<usize, Violation> {
    if ran.at(&format!("{who} ran on the main thread")).is_some() {
        return Err(Violation::new(
            format!("the {who}'s work to run on a new thread"),
            format!(
                "it ran on the main thread, inside the spawn call ({})",
                ran.transcript()
            ),
        ));
    }
    let started = ran.at(&format!("{who} started"));
    let called = ran.at("end_of_main called");
    if !matches!((started, called), (Some(s), Some(c)) if s < c) {
        return Err(Violation::new(
            format!("the {who}'s work to start, on a thread of its own, before the program calls end_of_main"),
            format!(
                "it {} ({}); {}",
                ran.status,
                ran.transcript(),
                first_panic(&ran.stderr)
            ),
        ));
    }
    match (ran.at("end_of_main returned"), ran.status) {
        (Some(at), ChildStatus::Exited(0)) => Ok(at),
        (_, status) => Err(Violation::new(
            "the child program to end once end_of_main returned",
            format!(
                "it {status} ({}); {}",
                ran.transcript(),
                first_panic(&ran.stderr)
            ),
        )),
    }
}

fn daemon_exits(progress: &Progress) -> Result<(), Violation> {
    let ran = run_program("daemon", progress)?;
    let returned = ended(&ran, "daemon")?;
    match ran.at("daemon finished") {
        Some(finished) if finished < returned => Err(Violation::new(
            "end_of_main to return without waiting for the daemon thread (a daemon does not keep the program alive)",
            format!(
                "end_of_main was seen blocked while the daemon thread ran, and returned only once the daemon's work finished: it waited for a daemon thread ({})",
                ran.transcript()
            ),
        )),
        _ => Ok(()),
    }
}

fn normal_waits(progress: &Progress) -> Result<(), Violation> {
    let ran = run_program("normal", progress)?;
    let returned = ended(&ran, "worker")?;
    match ran.at("worker finished") {
        Some(finished) if finished < returned => Ok(()),
        _ => Err(Violation::new(
            "end_of_main to return only once the normal thread's work finished (a normal thread keeps the program alive)",
            format!(
                "end_of_main returned while the normal thread still waited at its gate, so the program ended with it unfinished ({})",
                ran.transcript()
            ),
        )),
    }
}

/// A latch for `parties` tasks that a task can also break (then nobody waits on).
#[derive(Default)]
struct Latch {
    /// (arrived, broken).
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

impl Latch {
    fn arrive_and_wait(&self, parties: usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        self.changed.notify_all();
        while state.0 < parties && !state.1 {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn break_it(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.changed.notify_all();
    }
}

/// Notes the first violation a task sees.
type Seen = std::sync::Arc<std::sync::Mutex<Option<Violation>>>;

fn note(seen: &Seen, violation: Violation) {
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    seen.get_or_insert(violation);
}

fn taken(seen: &Seen) -> Result<(), Violation> {
    match seen.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

fn active_count<T: Threading>(workers: usize, progress: &Progress) -> Result<(), Violation> {
    use std::sync::{Arc, Barrier};
    let threading = T::new();
    let count = threading.active_count();
    if count != 1 {
        return Err(Violation::new(
            "active_count() to be 1 (the main thread) before any thread started",
            format!("it returned {count}"),
        ));
    }
    let running = Arc::new(Barrier::new(workers + 1));
    let release = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<T::Handle> = (0..workers)
        .map(|_| {
            let running = Arc::clone(&running);
            let release = Arc::clone(&release);
            threading.spawn_normal(Box::new(move || {
                running.wait();
                release.wait();
            }))
        })
        .collect();
    running.wait();
    progress.tick();
    let count = threading.active_count();
    // Release the workers before judging, so that none is left waiting.
    release.wait();
    if count != workers + 1 {
        return Err(Violation::new(
            format!("active_count() to be {} (the main thread and {workers} running workers) while the workers run", workers + 1),
            format!("it returned {count} while all {workers} workers were held at a rendezvous"),
        ));
    }
    for handle in handles {
        threading.join(handle);
        progress.tick();
    }
    let count = threading.active_count();
    if count != 1 {
        return Err(Violation::new(
            "active_count() to fall back to 1 once every worker was joined",
            format!("it returned {count} after all {workers} workers were joined: the count is not live"),
        ));
    }
    Ok(())
}

fn threads_overlap<T: Threading>(tasks: usize, progress: &Progress) -> Result<(), Violation> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let threading = T::new();
    let caller = std::thread::current().id();
    let latch = Arc::new(Latch::default());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let seen: Seen = Default::default();
    let work = (0..tasks)
        .map(|i| {
            let (latch, in_flight, most, finished, seen, progress) = (
                Arc::clone(&latch),
                Arc::clone(&in_flight),
                Arc::clone(&most),
                Arc::clone(&finished),
                Arc::clone(&seen),
                progress.clone(),
            );
            Box::new(move || {
                if std::thread::current().id() == caller {
                    note(&seen, Violation::new(
                        "each task of run_threaded to run on a thread of its own",
                        format!("task {i} ran on the thread that called run_threaded: the tasks run in sequence, not in threads"),
                    ));
                    latch.break_it();
                    return;
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                latch.arrive_and_wait(tasks);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                finished.fetch_add(1, Ordering::SeqCst);
                progress.tick();
            }) as racecourse_spec::lecture::Work
        })
        .collect();
    threading.run_threaded(work);
    progress.tick();
    taken(&seen)?;
    let done = finished.load(Ordering::SeqCst);
    if done != tasks {
        return Err(Violation::new(
            format!("run_threaded to return once all {tasks} tasks finished"),
            format!("it returned when {done} had finished"),
        ));
    }
    let most = most.load(Ordering::SeqCst);
    if most != tasks {
        return Err(Violation::new(
            format!("all {tasks} tasks of run_threaded in flight at once"),
            format!("at most {most} were"),
        ));
    }
    Ok(())
}

fn sequence_in_order<T: Threading>(tasks: usize, progress: &Progress) -> Result<(), Violation> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let threading = T::new();
    let caller = std::thread::current().id();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen: Seen = Default::default();
    let work = (0..tasks)
        .map(|i| {
            let (in_flight, order, seen, progress) = (
                Arc::clone(&in_flight),
                Arc::clone(&order),
                Arc::clone(&seen),
                progress.clone(),
            );
            Box::new(move || {
                if std::thread::current().id() != caller {
                    note(
                        &seen,
                        Violation::new(
                            "run_sequential to run every task on the calling thread",
                            format!("task {i} ran on another thread"),
                        ),
                    );
                    return;
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                if now > 1 {
                    note(
                        &seen,
                        Violation::new(
                            "run_sequential to run one task at a time",
                            format!("task {i} started while {} other was in flight", now - 1),
                        ),
                    );
                }
                order.lock().unwrap_or_else(|p| p.into_inner()).push(i);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                progress.tick();
            }) as racecourse_spec::lecture::Work
        })
        .collect();
    threading.run_sequential(work);
    progress.tick();
    taken(&seen)?;
    let order = order.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let expected: Vec<usize> = (0..tasks).collect();
    if order != expected {
        return Err(Violation::new(
            format!("run_sequential to run the tasks in the order given, each once: {expected:?}"),
            format!("they ran in the order {order:?}"),
        ));
    }
    Ok(())
}

/// Runs one trial of `scenario` on `T`.
fn run<T: Threading>(scenario: Scenario, progress: &Progress) -> Result<(), Violation> {
    let n = scenario.workers;
    match scenario.property {
        Property::DaemonExits => daemon_exits(progress),
        Property::NormalWaits => normal_waits(progress),
        Property::ActiveCount => active_count::<T>(n, progress),
        Property::ThreadsOverlap => threads_overlap::<T>(n, progress),
        Property::SequenceInOrder => sequence_in_order::<T>(n, progress),
    }
}

/// Checks `property` of `T` on std threads: one scenario, up to 10 trials (2 for the
/// child programs, a process each), within the std time budget. In a re-run started
/// to play a child program ([`PROGRAM_ENV`]), plays it and ends the process instead.
pub fn check_std<T: Threading>(property: Property) -> Result<(), Finding> {
    if let Ok(name) = std::env::var(PROGRAM_ENV) {
        program::run::<T>(&name);
    }
    let scenario = property.scenario();
    crate::isolate::note(&scenario.to_string(), None);
    let budget = std_rt::Budget::start();
    std_rt::explore(&budget, property.trials(), move |progress| {
        run::<T>(scenario, progress)
    })
    .map_err(|found: Found| (found, scenario.to_string()))
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::lecture::$rt as must;
        use crate::mutants::lecture::$rt as m;
        use racecourse_impl::thread::lecture::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "joined",
                role: Role::Reference,
                check: |p| $check::<reference::Joined>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "condvar_count",
                role: Role::MustPass,
                check: |p| $check::<must::CondvarCount>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "channel_daemon",
                role: Role::MustPass,
                check: |p| $check::<must::ChannelDaemon>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "joined_daemon",
                role: Role::Mutant {
                    must_fail: &["daemon_exits"],
                },
                check: |p| $check::<m::JoinedDaemon>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "normal_not_joined",
                role: Role::Mutant {
                    must_fail: &["normal_waits"],
                },
                check: |p| $check::<m::NormalNotJoined>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "count_not_live",
                role: Role::Mutant {
                    must_fail: &["active_count"],
                },
                check: |p| $check::<m::CountNotLive>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "threaded_in_sequence",
                role: Role::Mutant {
                    must_fail: &["threads_overlap"],
                },
                check: |p| $check::<m::ThreadedInSequence>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "sequential_spawns",
                role: Role::Mutant {
                    must_fail: &["sequence_in_order"],
                },
                check: |p| $check::<m::SequentialSpawns>(Property::named(p)),
            },
        ]
    }};
}

/// The lecture's implementations (reference, must-pass, mutants): on real threads
/// only, where every property is checked. Each mutant is rejected by a rendezvous or
/// an order of events, never a race: see the module docs.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        _ => Vec::new(),
    }
}

/// Generates the L lecture tests for one or more implementations, named
/// `lecture::<property>::std::<name>`:
///
/// ```ignore
/// racecourse::lecture! {
///     mine => my_crate::lecture { threading: Joined },
/// }
/// ```
///
/// `not_attempted` generates one ignored test saying so.
#[macro_export]
macro_rules! lecture {
    (not_attempted) => {
        $crate::__not_attempted!(lecture);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { threading: $ty:ident }),+ $(,)?) => {
        $crate::__lecture_table! { lecture [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::lecture!(runtimes: [std], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_say_what_runs() {
        assert_eq!(
            Property::ThreadsOverlap.scenario().to_string(),
            "run_threaded with 2 tasks that each wait at a latch for all 2"
        );
    }

    #[test]
    fn a_normal_worker_unfinished_at_the_end_is_named() {
        let ran = Ran {
            lines: vec![
                "worker started".into(),
                "end_of_main called".into(),
                "end_of_main returned".into(),
            ],
            status: ChildStatus::Exited(0),
            stderr: String::new(),
        };
        assert_eq!(ended(&ran, "worker"), Ok(2));
        assert_eq!(ran.at("worker finished"), None);
    }
}
