//! E5 shared array suite (processes): `n` integer slots in shared memory under one
//! lock in the same shared memory, updated by 5 processes x 100.
//!
//! Properties (see `EXERCISES.md`, E5 "Shared Value / Array"):
//! - `disjoint`: each of 5 processes increments a slot of its own 100 times; the
//!   parent reads 100 in each of those slots and 0 in the two nobody touched;
//! - `overlapping`: 5 processes x 100 increments spread over all 7 slots (worker `i`'s
//!   `k`-th increment goes to slot `k * (i + 1) % 7`), every slot's total exact.
//!   Worker 0 holds its first critical section, having read slot 0 and not yet written
//!   it, until another worker has completed an update of slot 0 or is seen held at the
//!   lock: without a working cross-process lock an update is lost, deterministically
//!   (see `impl/src/process/README.md`);
//! - `mutual_exclusion`: in that run, no two processes are ever inside `with_lock` at
//!   once;
//! - `snapshot`: the workers transfer 1 from slot to slot (every slot summing to 0);
//!   a snapshot taken while worker 0 is half-way through a transfer is whole (the
//!   snapshot waits for the lock), and the parent's `snapshot` gives every slot's
//!   exact total;
//! - `dead_holder`: a worker killed by `SIGKILL` while it holds the lock does not leave
//!   the others waiting forever, the process that recovers the lock holds it, and every
//!   slot holds exactly what the completed increments left.
//!
//! Workers are real processes started by the spawn method; the runs are those of the
//! shared value's suite ([`crate::shm_counter`]), on several slots: one driver
//! (`racecourse_impl::process::driver::run_slots`) runs both.

use std::time::Duration;

use racecourse_impl::process::driver::{
    run_shm_array, Plan, ShmArrayWorker, SlotsOutcome, SlotsScenario, Work,
};
use racecourse_impl::process::{TaskError, TaskErrorKind};
use racecourse_spec::shm_array::ShmArray;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::Finding;
use crate::runner::{Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::register_shm_array_worker as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "shm_array";

/// Worker processes, as in the course's example.
pub const PROCESSES: usize = 5;
/// Increments per worker, as in the course's example.
pub const INCREMENTS: usize = 100;
/// Slots: a prime above [`PROCESSES`], so that every worker's stride visits every slot,
/// and two more than the workers, so that `disjoint` leaves two slots untouched.
pub const SLOTS: usize = 7;
/// Increments the dying holder completes before it dies.
pub const BEFORE_DEATH: usize = 3;
/// A run fails once no worker has made progress for this long (as
/// [`shm_counter::STALL`](crate::shm_counter::STALL)).
pub const STALL: Duration = crate::shm_counter::STALL;

properties! { $ __shm_array_table;
    /// 5 processes each increment a slot of their own 100 times: the parent reads 100
    /// in each of those slots and 0 in the others.
    Disjoint => disjoint [process],
    /// 5 processes x 100 increments spread over 7 shared slots: every slot's total is
    /// exact (a rendezvous makes a missing lock lose an update in every run).
    Overlapping => overlapping [process],
    /// No two processes are inside `with_lock` at once, whatever slots they update.
    MutualExclusion => mutual_exclusion [process],
    /// A snapshot taken while another process is half-way through a transfer between
    /// two slots is whole (it waits for the lock), and `snapshot` reads every slot's
    /// total.
    Snapshot => snapshot [process],
    /// A holder killed by SIGKILL inside `with_lock` does not block the others, the
    /// process that recovers the lock holds it, and every slot holds exactly what the
    /// completed increments left.
    DeadHolder => dead_holder [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5, processes",
    title: "an array in memory shared by processes, under one lock",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "array",
        bound: "racecourse_spec::shm_array::ShmArray",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The run that checks `property`, and how a report describes it.
pub fn scenario(property: Property) -> (SlotsScenario, String) {
    let run = |work, plan| SlotsScenario {
        processes: PROCESSES,
        increments: INCREMENTS,
        slots: SLOTS,
        work,
        stall: STALL,
        plan,
    };
    match property {
        Property::Disjoint => (
            run(Work::Own, Plan::Contend { rendezvous: false }),
            format!(
                "{PROCESSES} processes on {SLOTS} slots, process i increments slot i {INCREMENTS} times"
            ),
        ),
        Property::Overlapping | Property::MutualExclusion => (
            run(Work::Stride, Plan::Contend { rendezvous: true }),
            format!(
                "{PROCESSES} processes x {INCREMENTS} increments on {SLOTS} slots, process i's k-th to slot k*(i+1) % {SLOTS}; \
                 process 0 holds its first critical section (slot 0 read, not yet written) until another has updated slot 0 or is held at the lock"
            ),
        ),
        Property::Snapshot => (
            run(Work::Transfer, Plan::Snapshot),
            format!(
                "{PROCESSES} processes x {INCREMENTS} transfers of 1 on {SLOTS} slots (process i's k-th from slot a = k*(i+1) % {SLOTS} to slot a+1); \
                 process 1 snapshots while process 0 is half-way through its first transfer"
            ),
        ),
        Property::DeadHolder => (
            run(Work::Stride, Plan::DeadHolder { before: BEFORE_DEATH }),
            format!(
                "process 0 completes {BEFORE_DEATH} increments and is killed by SIGKILL inside its next with_lock; \
                 process 1 recovers the lock and holds it until another survivor is held at it; \
                 then {} processes x {INCREMENTS} increments on {SLOTS} slots, one after another",
                PROCESSES - 1
            ),
        ),
    }
}

fn task_violation(property: Property, error: &TaskError) -> Violation {
    match (error.kind(), property) {
        (TaskErrorKind::Stalled, Property::DeadHolder) => Violation::new(
            "the other workers to recover the lock of a holder that died",
            format!(
                "no worker made progress for {STALL:?} after worker 0 died holding the lock: \
                 a lock that is not robust stays held forever"
            ),
        )
        .of_kind(Kind::Stall),
        (TaskErrorKind::Stalled, _) => Violation::new(
            format!("the {PROCESSES} workers to make progress"),
            format!(
                "no worker made progress for {STALL:?}: a lock that only works inside one \
                 process (a std::sync::Mutex in shared memory never wakes waiters in other \
                 processes) or a deadlock"
            ),
        )
        .of_kind(Kind::Stall),
        (TaskErrorKind::Panicked | TaskErrorKind::Crashed, _) => Violation::new(
            "every worker process to finish its updates",
            error.to_string(),
        )
        .of_kind(Kind::Panic),
        _ => Violation::new(
            "every worker process to finish its updates",
            error.to_string(),
        ),
    }
}

/// The first slot whose value differs from the expected one, described.
fn first_difference(seen: &[i64], expected: &[i64]) -> Option<String> {
    if seen.len() != expected.len() {
        return Some(format!(
            "{} slots, not {} (the array was created with {})",
            seen.len(),
            expected.len(),
            expected.len()
        ));
    }
    let (slot, (s, e)) = seen
        .iter()
        .zip(expected)
        .enumerate()
        .find(|(_, (s, e))| s != e)?;
    Some(format!("slot {slot} holds {s}, not {e}"))
}

/// What `outcome` says about `property` (a run that finished).
fn judge(
    property: Property,
    scenario: &SlotsScenario,
    outcome: &SlotsOutcome,
) -> Result<(), Violation> {
    let expected = scenario.expected();
    let totals = |what: String| {
        match first_difference(&outcome.slots, &expected) {
            None => Ok(()),
            Some(difference) => Err(Violation::new(
                format!("{what}: {expected:?}"),
                format!(
                    "the parent read {:?} ({difference}): the slots are not in memory the processes share, or updates were lost",
                    outcome.slots
                ),
            )),
        }
    };
    match property {
        Property::Disjoint => totals(format!(
            "{INCREMENTS} in each of the {PROCESSES} slots the processes increment, 0 in the others"
        )),
        Property::Overlapping => totals(format!(
            "{PROCESSES} processes x {INCREMENTS} increments over {SLOTS} slots"
        )),
        Property::MutualExclusion if outcome.max_holders > 1 => Err(Violation::new(
            "at most one process inside with_lock at a time",
            format!(
                "{} processes were inside with_lock at once",
                outcome.max_holders
            ),
        )),
        Property::MutualExclusion => Ok(()),
        Property::Snapshot => {
            let torn = outcome
                .snapshots
                .iter()
                .find(|s| s.len() != SLOTS || s.iter().sum::<i64>() != 0);
            if let Some(torn) = torn {
                return Err(Violation::new(
                    format!(
                        "every snapshot to be {SLOTS} slots as a with_lock left them: transfers keep the sum at 0"
                    ),
                    format!(
                        "a snapshot taken while process 0 was half-way through a transfer read {torn:?} (sum {}): snapshot does not wait for the lock",
                        torn.iter().sum::<i64>()
                    ),
                ));
            }
            if outcome.snapshots.is_empty() {
                return Err(Violation::new(
                    "the snapshots process 1 took",
                    "none came back".to_owned(),
                ));
            }
            totals(format!(
                "snapshot() after {PROCESSES} processes x {INCREMENTS} transfers"
            ))
        }
        Property::DeadHolder => {
            if outcome.max_holders > 1 {
                return Err(Violation::new(
                    "the process that recovers a dead holder's lock to hold it",
                    format!(
                        "{} surviving processes were inside with_lock at once, just after the lock was recovered",
                        outcome.max_holders
                    ),
                ));
            }
            totals(format!(
                "{BEFORE_DEATH} increments before the death + {} x {INCREMENTS} after",
                PROCESSES - 1
            ))
        }
    }
}

/// Checks `property` of the array type run by `worker`, in real processes.
pub fn check<A: ShmArray>(
    worker: &'static ShmArrayWorker<A>,
    property: Property,
) -> Result<(), Finding> {
    let (scenario, described) = scenario(property);
    let found = |violation| {
        (
            Found {
                violation,
                schedule: "real processes (spawn start method); the rendezvous makes the contention deterministic".to_string(),
                replay_env: Vec::new(),
            },
            described.clone(),
        )
    };
    let outcome =
        run_shm_array(worker, &scenario).map_err(|e| found(task_violation(property, &e)))?;
    judge(property, &scenario, &outcome).map_err(found)
}

racecourse_impl::register_shm_array_worker!(static ROBUST: racecourse_impl::process::shm_array::RobustArray);
racecourse_impl::register_shm_array_worker!(static SPIN_PID: crate::must_pass::shm_array::SpinPid);
racecourse_impl::register_shm_array_worker!(static COPIED_INTO_CHILD: crate::mutants::shm_array::CopiedIntoChild);
racecourse_impl::register_shm_array_worker!(static NO_LOCK: crate::mutants::shm_array::NoLock);
racecourse_impl::register_shm_array_worker!(static ATOMIC_SLOTS: crate::mutants::shm_array::AtomicSlots);
racecourse_impl::register_shm_array_worker!(static UNLOCKED_SNAPSHOT: crate::mutants::shm_array::UnlockedSnapshot);
racecourse_impl::register_shm_array_worker!(static READ_BEFORE_LOCK: crate::mutants::shm_array::ReadBeforeLock);

/// The shared array's implementations (reference, must-pass, mutants), all on real
/// processes.
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
        implementation("robust", Role::Reference, |p| {
            check(&ROBUST, Property::named(p))
        }),
        implementation("spin_pid", Role::MustPass, |p| {
            check(&SPIN_PID, Property::named(p))
        }),
        implementation(
            "copied_into_child",
            mutant(&["disjoint", "overlapping", "snapshot"]),
            |p| check(&COPIED_INTO_CHILD, Property::named(p)),
        ),
        implementation(
            "no_lock",
            mutant(&["overlapping", "mutual_exclusion", "dead_holder"]),
            |p| check(&NO_LOCK, Property::named(p)),
        ),
        implementation(
            "atomic_slots",
            mutant(&["mutual_exclusion", "dead_holder"]),
            |p| check(&ATOMIC_SLOTS, Property::named(p)),
        ),
        implementation("unlocked_snapshot", mutant(&["snapshot"]), |p| {
            check(&UNLOCKED_SNAPSHOT, Property::named(p))
        }),
        implementation(
            "read_before_lock",
            mutant(&["overlapping", "snapshot"]),
            |p| check(&READ_BEFORE_LOCK, Property::named(p)),
        ),
    ]
}

/// Generates the shared-array tests (real processes), named
/// `shm_array::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::shm_array! {
///     mine => my_crate::shm { array: Shared },
/// }
/// ```
///
/// The array type must implement [`ShmArray`]; the macro registers the worker that
/// runs it in re-executed processes. `not_attempted` generates one ignored test saying
/// so.
#[macro_export]
macro_rules! shm_array {
    (not_attempted) => {
        $crate::__not_attempted!(shm_array);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { array: $ty:ident }),+ $(,)?) => {
        $crate::__shm_array_table! { shm_array [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::shm_array!(runtimes: [process], $($impls)+);
    };
}
