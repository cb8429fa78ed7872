//! One process per item suite (E1 (P) CPU fan-out, E6 (P) crashing children, L child
//! process): a student's [`Processes`] starts the suite's jobs in real child
//! processes.
//!
//! Properties (see `EXERCISES.md` and the contract in
//! `racecourse_spec::child_processes`):
//! - `crash_causes`: children that panic, abort, segfault and `exit(3)` are reported
//!   by `join` with that cause (the panic's message, `SIGABRT`, `SIGSEGV`, exit code
//!   3), as error values; the parent goes on and gets the next child's result;
//! - `results_reach_parent`: one child per item of 23, 26, 35, 64; they finish
//!   last-item-first (each waits for its turn), and each square reaches its own
//!   handle;
//! - `separate_memory`: a child's write to a static is not seen by the parent;
//! - `different_pid`: the job runs under a pid other than the parent's, the one its
//!   handle reports;
//! - `concurrent`: 4 children that wait for each other at a barrier all finish (spawn
//!   returns while its child runs);
//! - `parent_waits`: once `join` returned, the child is gone: reaped, not running, and
//!   the parent has no child process left;
//! - `drop_reaps`: dropping the handles of children that are still running leaves
//!   none of them, alive or unreaped.
//!
//! ## Waiting without deadlines
//! The parent's side of each check (spawn, join, drop) runs on a thread of its own,
//! while the checking thread watches: it fails only on a proven stall, as the pool
//! suite does ([`Watch`]): for [`STALL`], no result arrived, no probe counter moved
//! and no child process used any CPU time. Held children wait on counters in shared
//! memory ([`Probe`]); on a stall the checking thread opens every gate, so that the
//! parent's thread, and its children, can end.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use racecourse_impl::process::worker::panic_message;
use racecourse_spec::child_processes::{Child, Processes};
use racecourse_spec::job::{Death, JobError};
use serde::{Deserialize, Serialize};

use crate::process_pool::{no_children_left, Hold, PoolType, Probe, Watch, ARRIVED, OPEN};
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::{Finding, Found, Runtime};

pub use crate::process_pool::STALL;

#[doc(hidden)]
pub use crate::__register_pool as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "child_processes";

/// The course's items: one child process each.
pub const ITEMS: [u64; 4] = [23, 26, 35, 64];

properties! { $ __child_processes_table;
    /// Children that panic, abort, segfault and `exit(3)` are reported by `join` with
    /// that cause (the panic's message, `SIGABRT`, `SIGSEGV`, exit code 3), and the
    /// parent goes on: the next child's result arrives.
    CrashCauses => crash_causes [process],
    /// One child per item of 23, 26, 35, 64, finishing last-item-first: each square
    /// reaches its own item's handle.
    ResultsReachParent => results_reach_parent [process],
    /// A child's write to a static is not seen by the parent (separate address
    /// spaces).
    SeparateMemory => separate_memory [process],
    /// The job runs under a pid other than the parent's: the pid its handle reports.
    DifferentPid => different_pid [process],
    /// 4 children that wait for each other at a barrier all finish: `spawn` returns
    /// while its child runs.
    Concurrent => concurrent [process],
    /// Once `join` returned, its child is reaped (no zombie) and not running, and no
    /// child process of the parent is left.
    ParentWaits => parent_waits [process],
    /// Dropping the handles of running children leaves none of them, alive or
    /// unreaped.
    DropReaps => drop_reaps [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E1, E6, L",
    title: "one child process per item: pid, results, causes of death",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "processes",
        bound: "racecourse_spec::child_processes::Processes",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

// ---------------------------------------------------------------------------------
// The jobs.

/// What a child of `crash_causes` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Fate {
    Value(u64),
    Panic,
    Abort,
    Segfault,
    Exit(i32),
}

/// The message of the `Fate::Panic` child.
const PANIC_MESSAGE: &str = "a child panicked on purpose";

fn meet(fate: Fate) -> Result<u64, String> {
    match fate {
        Fate::Value(x) => Ok(x),
        Fate::Panic => panic!("{PANIC_MESSAGE}"),
        Fate::Abort => std::process::abort(),
        Fate::Segfault => {
            // SAFETY: raise sends a signal to this process; the point is to die of it.
            unsafe { libc::raise(libc::SIGSEGV) };
            unreachable!("a process survived SIGSEGV")
        }
        Fate::Exit(code) => std::process::exit(code),
    }
}
racecourse_impl::job!(static FATE: fn(Fate) -> u64 = meet);

/// `x * x`, once the child's turn came (see [`Hold`]).
fn held_square((token, i, x, hold): (String, u32, u64, Hold)) -> Result<u64, String> {
    Probe::attach(&token)?.hold(i, hold)?;
    Ok(x * x)
}
racecourse_impl::job!(static HELD_SQUARE: fn((String, u32, u64, Hold)) -> u64 = held_square);

/// Written by `separate_memory`'s children, read by the parent.
static GLOBAL: AtomicU64 = AtomicU64::new(0);

/// Writes `x` to [`GLOBAL`] and reads it back, with this process's pid.
fn write_global(x: u64) -> Result<(u64, u32), String> {
    GLOBAL.store(x, Ordering::SeqCst);
    Ok((GLOBAL.load(Ordering::SeqCst), std::process::id()))
}
racecourse_impl::job!(static WRITE_GLOBAL: fn(u64) -> (u64, u32) = write_global);

fn own_pid(_: u64) -> Result<u32, String> {
    Ok(std::process::id())
}
racecourse_impl::job!(static OWN_PID: fn(u64) -> u32 = own_pid);

// ---------------------------------------------------------------------------------
// The parent's thread, watched.

fn spawn_failed(what: impl Into<String>, e: JobError) -> Violation {
    Violation::new(what, format!("spawn failed: {e}"))
}

/// Runs `parent` (the parent's side of a check) on a thread of its own with a new
/// `P`, while this thread watches for a stall (see the module docs): `what` says
/// what was being waited for.
fn watched<P, T>(
    probe: Option<&Probe>,
    what: &str,
    parent: impl FnOnce(&P) -> Result<T, Violation> + Send + 'static,
) -> Result<T, Violation>
where
    P: Processes + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("racecourse-parent".into())
        .spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                let processes = P::new();
                parent(&processes)
            }));
            let _ = tx.send(outcome);
        })
        .map_err(|e| Violation::new("a thread for the parent's side", e.to_string()))?;
    let mut watch = Watch::new(probe);
    let mut stalled: Option<Violation> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(outcome) => {
                let _ = thread.join();
                if let Some(stall) = stalled {
                    return Err(stall);
                }
                return outcome.unwrap_or_else(|payload| {
                    Err(Violation::new(
                        what,
                        format!("the parent panicked: {}", panic_message(&*payload)),
                    ))
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(stalled.unwrap_or_else(|| {
                    Violation::new(what, "the parent's thread ended without an outcome")
                }))
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(stall) = watch.tick(what) {
                    if let Some(first) = stalled {
                        // Released and still stuck: give up on the thread; it ends
                        // with this process, and its children with it.
                        return Err(first);
                    }
                    // Let every held child go, so that the parent's thread (and the
                    // children) can end before the verdict.
                    if let Some(probe) = probe {
                        probe.open();
                    }
                    stalled = Some(stall);
                    watch = Watch::new(probe);
                }
            }
        }
    }
}

/// Where `pid` stands: `None` if it is gone (reaped), else its state letter.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Fails if the process `pid` still exists (`what` says why it should not).
fn gone(pid: u32, what: &str) -> Result<(), Violation> {
    match process_state(pid) {
        None => Ok(()),
        Some('Z') => Err(Violation::new(
            what,
            format!("the child {pid} is a zombie: it ended but was never waited for (reaped)"),
        )),
        Some(state) => Err(Violation::new(
            what,
            format!("the child {pid} is still there (state {state}): it was not waited for"),
        )),
    }
}

// ---------------------------------------------------------------------------------
// The checks.

fn crash_causes<P: Processes + 'static>() -> Result<(), Violation> {
    let what = "children that panic, abort, segfault and exit(3), then one that returns 7";
    watched::<P, _>(None, what, |processes| {
        let fates = [
            (
                Fate::Panic,
                "panics",
                JobError::Panicked(PANIC_MESSAGE.into()),
            ),
            (
                Fate::Abort,
                "aborts",
                JobError::Crashed(Death::Signaled(libc::SIGABRT)),
            ),
            (
                Fate::Segfault,
                "segfaults",
                JobError::Crashed(Death::Signaled(libc::SIGSEGV)),
            ),
            (
                Fate::Exit(3),
                "calls exit(3)",
                JobError::Crashed(Death::Exited(3)),
            ),
        ];
        for (fate, does, cause) in fates {
            let expected = format!(
                "a child that {does} to be reported by join as the error \"{cause}\", the parent going on"
            );
            let child = processes
                .spawn(&FATE, fate)
                .map_err(|e| spawn_failed(&expected, e))?;
            match panic::catch_unwind(AssertUnwindSafe(move || child.join())) {
                Ok(Err(got)) if got == cause => {}
                Ok(got) => return Err(Violation::new(expected, format!("join gave {got:?}"))),
                Err(payload) => {
                    return Err(Violation::new(
                        expected,
                        format!("join panicked: {}", panic_message(&*payload)),
                    ))
                }
            }
        }
        let expected = "a child's result, 7, after four children crashed";
        let child = processes
            .spawn(&FATE, Fate::Value(7))
            .map_err(|e| spawn_failed(expected, e))?;
        match child.join() {
            Ok(7) => Ok(()),
            got => Err(Violation::new(expected, format!("join gave {got:?}"))),
        }
    })
}

/// Spawns a child per item of [`ITEMS`] holding as `hold` says, and joins them in
/// item order.
fn held_children<P: Processes + 'static>(
    probe: &Probe,
    what: &str,
    hold: Hold,
) -> Result<Vec<Result<u64, JobError>>, Violation> {
    let token = probe.token().to_owned();
    let expected = what.to_owned();
    watched::<P, _>(Some(probe), what, move |processes| {
        let mut children = Vec::new();
        for (i, x) in ITEMS.into_iter().enumerate() {
            children.push(
                processes
                    .spawn(&HELD_SQUARE, (token.clone(), i as u32, x, hold))
                    .map_err(|e| spawn_failed(&expected, e))?,
            );
        }
        Ok(children.into_iter().map(Child::join).collect())
    })
}

fn results_reach_parent<P: Processes + 'static>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let squares: Vec<Result<u64, JobError>> = ITEMS.iter().map(|x| Ok(x * x)).collect();
    let what = format!(
        "each child's square to reach its own item's handle, {:?} for {ITEMS:?}, though they finished last-first",
        [529, 676, 1225, 4096]
    );
    let n = ITEMS.len() as u32;
    let got = held_children::<P>(&probe, &what, Hold::Reversed(n))?;
    if got != squares {
        return Err(Violation::new(what, format!("join gave {got:?}")));
    }
    Ok(())
}

fn concurrent<P: Processes + 'static>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let n = ITEMS.len() as u32;
    let what = format!(
        "the {n} children to run at the same time (each waits at a barrier until all {n} have started)"
    );
    let got = held_children::<P>(&probe, &what, Hold::Barrier(n)).map_err(|mut v| {
        v.seen = format!(
            "{} ({} of {n} children reached the barrier: does spawn wait for its child?)",
            v.seen,
            probe.get(ARRIVED)
        );
        v
    })?;
    if got.iter().any(Result::is_err) {
        return Err(Violation::new(what, format!("join gave {got:?}")));
    }
    Ok(())
}

fn separate_memory<P: Processes + 'static>() -> Result<(), Violation> {
    let before = GLOBAL.load(Ordering::SeqCst);
    let written = before + 2026;
    let what = format!(
        "a child's write of {written} to a static not to be seen by the parent (separate address spaces)"
    );
    let expected = what.clone();
    let seen = watched::<P, _>(None, &what, move |processes| {
        let child = processes
            .spawn(&WRITE_GLOBAL, written)
            .map_err(|e| spawn_failed(&expected, e))?;
        child
            .join()
            .map_err(|e| Violation::new(&expected, format!("join gave {e:?}")))
    })?;
    let after = GLOBAL.load(Ordering::SeqCst);
    if after != before || seen.0 != written {
        return Err(Violation::new(
            what,
            format!(
                "the parent's static went from {before} to {after} (the child read back {})",
                seen.0
            ),
        ));
    }
    Ok(())
}

fn different_pid<P: Processes + 'static>() -> Result<(), Violation> {
    let me = std::process::id();
    let what =
        "each job to run under a pid of its own, not the parent's, the one its handle reports";
    watched::<P, _>(None, what, move |processes| {
        let mut children = Vec::new();
        for x in 0..2 {
            children.push(
                processes
                    .spawn(&OWN_PID, x)
                    .map_err(|e| spawn_failed(what, e))?,
            );
        }
        let mut seen = Vec::new();
        for child in children {
            let handle = child.pid();
            let got = child.join();
            match got {
                Ok(pid) if pid != me && pid == handle && !seen.contains(&pid) => seen.push(pid),
                Ok(pid) => {
                    return Err(Violation::new(
                        what,
                        format!(
                            "the job ran under pid {pid}; the parent is {me}, the handle said {handle}, earlier jobs ran under {seen:?}"
                        ),
                    ))
                }
                Err(e) => return Err(Violation::new(what, format!("join gave {e:?}"))),
            }
        }
        Ok(())
    })
}

fn parent_waits<P: Processes + 'static>() -> Result<(), Violation> {
    let what = "each child reaped once join returned: gone, neither a zombie nor running";
    watched::<P, _>(None, what, move |processes| {
        for x in ITEMS {
            let child = processes
                .spawn(&FATE, Fate::Value(x))
                .map_err(|e| spawn_failed(what, e))?;
            let pid = child.pid();
            match child.join() {
                Ok(got) if got == x => {}
                got => return Err(Violation::new(what, format!("join gave {got:?}"))),
            }
            gone(pid, what)?;
        }
        no_children_left("once every child was joined")
    })
}

fn drop_reaps<P: Processes + 'static>() -> Result<(), Violation> {
    let probe = Probe::create()?;
    let token = probe.token().to_owned();
    let what = "no child left once the handles of 2 running children were dropped";
    let result = watched::<P, _>(Some(&probe), what, move |processes| {
        let attached = Probe::attach(&token).map_err(|e| Violation::new(what, e))?;
        let mut pids = Vec::new();
        let mut children = Vec::new();
        for i in 0..2 {
            let child = processes
                .spawn(&HELD_SQUARE, (token.clone(), i, 1, Hold::Gate))
                .map_err(|e| spawn_failed(what, e))?;
            pids.push(child.pid());
            children.push(child);
        }
        // The pace of the look: the children arrive when they arrive, and the
        // watcher opens the gate if they never do.
        while attached.get(ARRIVED) < 2 && attached.get(OPEN) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(children);
        for pid in pids {
            gone(pid, what)?;
        }
        no_children_left("once the handles of 2 running children were dropped")
    });
    probe.open();
    result
}

/// Checks `property` of the process type `P`, in real child processes.
pub fn check<P: Processes + 'static>(_: &PoolType<P>, property: Property) -> Result<(), Finding> {
    let outcome = match property {
        Property::CrashCauses => crash_causes::<P>(),
        Property::ResultsReachParent => results_reach_parent::<P>(),
        Property::SeparateMemory => separate_memory::<P>(),
        Property::DifferentPid => different_pid::<P>(),
        Property::Concurrent => concurrent::<P>(),
        Property::ParentWaits => parent_waits::<P>(),
        Property::DropReaps => drop_reaps::<P>(),
    };
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "real child processes (spawn start method); held children wait on counters in shared memory".to_string(),
                replay_env: Vec::new(),
            },
            format!("property {}, items {ITEMS:?}", property.name()),
        )
    })
}

/// The implementations (reference, must-pass, mutants), on real processes.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    use crate::mutants::child_processes::{self as m, Flawed};
    use crate::process_pool::pool_row;
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let mutant = |must_fail| Role::Mutant { must_fail };
    vec![
        pool_row!(
            "spawn",
            Role::Reference,
            racecourse_impl::process::child_processes::Spawn
        ),
        pool_row!(
            "served",
            Role::MustPass,
            crate::must_pass::child_processes::Served
        ),
        // First of the mutants: its cell waits a whole stall window.
        pool_row!(
            "sequential",
            mutant(&["concurrent"]),
            Flawed<{ m::SEQUENTIAL }>
        ),
        pool_row!(
            "runs_in_parent",
            mutant(&["separate_memory", "different_pid"]),
            Flawed<{ m::RUNS_IN_PARENT }>
        ),
        pool_row!(
            "completion_order",
            mutant(&["results_reach_parent"]),
            Flawed<{ m::COMPLETION_ORDER }>
        ),
        pool_row!(
            "loses_cause",
            mutant(&["crash_causes"]),
            Flawed<{ m::LOSES_CAUSE }>
        ),
        pool_row!(
            "crash_panics",
            mutant(&["crash_causes"]),
            Flawed<{ m::CRASH_PANICS }>
        ),
        pool_row!("zombie", mutant(&["parent_waits"]), Flawed<{ m::ZOMBIE }>),
        pool_row!(
            "left_running",
            mutant(&["parent_waits"]),
            Flawed<{ m::LEFT_RUNNING }>
        ),
        pool_row!(
            "leaks_on_drop",
            mutant(&["drop_reaps"]),
            Flawed<{ m::LEAKS_ON_DROP }>
        ),
    ]
}

/// Generates the child-process tests (real processes), named
/// `child_processes::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::child_processes! {
///     mine => my_crate::children { processes: MyProcesses },
/// }
/// ```
///
/// The type must implement [`Processes`]. `not_attempted` generates one ignored test
/// saying so.
#[macro_export]
macro_rules! child_processes {
    (not_attempted) => {
        $crate::__not_attempted!(child_processes);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { processes: $ty:ident }),+ $(,)?) => {
        $crate::__child_processes_table! { child_processes [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::child_processes!(runtimes: [process], $($impls)+);
    };
}
