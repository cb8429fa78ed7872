//! E5 shared value suite (processes): a counter in shared memory, incremented by 5
//! processes x 100 under a lock in the same shared memory.
//!
//! Properties (see `EXERCISES.md`, E5 "Shared Value / Array"):
//! - `total`: 5 worker processes x 100 increments leave exactly 500;
//! - `mutual_exclusion`: no two processes are ever inside `with_lock` at once. Worker
//!   0 holds its first critical section until another worker has announced it is
//!   about to lock and is seen held at the lock: without a working cross-process lock
//!   a second worker enters, deterministically (see `impl/src/process/README.md`);
//! - `dead_holder`: a worker killed by `SIGKILL` while it holds the lock does not leave
//!   the others waiting forever, and the parent reads exactly the increments that
//!   completed.
//!
//! Workers are real processes started by the spawn method: the test binary is
//! re-executed and routed to the worker before `main`. A run has no deadline: it fails
//! when no worker makes progress for [`STALL`] (no attach, no completed critical
//! section), which is how a `std::sync::Mutex` in shared memory (process-private futex
//! wake-ups) and a mutex that is not robust (a dead holder) show up.

use std::time::Duration;

use racecourse_impl::process::driver::{run_shm_counter, ShmCounterScenario, ShmCounterWorker};
use racecourse_impl::process::{TaskError, TaskErrorKind};
use racecourse_spec::shm_counter::ShmCounter;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::Finding;
use crate::runner::{Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::register_shm_counter_worker as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "shm_counter";

/// Worker processes, as in the course's example.
pub const PROCESSES: usize = 5;
/// Increments per worker, as in the course's example.
pub const INCREMENTS: usize = 100;
/// Increments the dying holder completes before it dies.
pub const BEFORE_DEATH: usize = 3;
/// A run fails once no worker has made progress for this long. A correct run makes
/// progress every few milliseconds, even on a loaded machine; the longest quiet
/// stretch is the rendezvous (a quarter of a second, see the module docs).
pub const STALL: Duration = Duration::from_secs(5);

properties! { $ __shm_counter_table;
    /// 5 processes x 100 increments = 500 under a lock in shared memory.
    Total => total [process],
    /// No two processes are inside `with_lock` at once (a rendezvous makes a missing
    /// lock show in every run).
    MutualExclusion => mutual_exclusion [process],
    /// A holder killed by SIGKILL inside `with_lock` does not block the others, the
    /// process that recovers the lock holds it, and the count is exactly the increments
    /// that completed.
    DeadHolder => dead_holder [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5, processes",
    title: "a counter in memory shared by processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "counter",
        bound: "racecourse_spec::shm_counter::ShmCounter",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

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
            "every worker process to finish its increments",
            error.to_string(),
        )
        .of_kind(Kind::Panic),
        _ => Violation::new(
            "every worker process to finish its increments",
            error.to_string(),
        ),
    }
}

/// Checks `property` of the counter type run by `worker`, in real processes.
pub fn check<C: ShmCounter>(
    worker: &'static ShmCounterWorker<C>,
    property: Property,
) -> Result<(), Finding> {
    let (scenario, described) = match property {
        Property::DeadHolder => (
            ShmCounterScenario::dead_holder(PROCESSES, INCREMENTS, BEFORE_DEATH, STALL),
            format!(
                "worker 0 completes {BEFORE_DEATH} increments and is killed by SIGKILL inside its next with_lock; \
                 worker 1 recovers the lock and holds it until another survivor is held at it; \
                 then {} workers x {INCREMENTS} increments, one after another",
                PROCESSES - 1
            ),
        ),
        _ => (
            ShmCounterScenario::new(PROCESSES, INCREMENTS, STALL),
            format!(
                "{PROCESSES} processes x {INCREMENTS} increments, worker 0 holding its first critical section until another tries to enter"
            ),
        ),
    };
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
        run_shm_counter(worker, &scenario).map_err(|e| found(task_violation(property, &e)))?;
    match property {
        Property::DeadHolder => {
            if outcome.max_holders > 1 {
                return Err(found(Violation::new(
                    "the process that recovers a dead holder's lock to hold it",
                    format!(
                        "{} surviving processes were inside with_lock at once, just after the lock was recovered",
                        outcome.max_holders
                    ),
                )));
            }
            let expected = scenario.expected_total();
            if outcome.total != expected {
                return Err(found(Violation::new(
                    format!(
                        "{BEFORE_DEATH} increments before the death + {} x {INCREMENTS} after = {expected}",
                        PROCESSES - 1
                    ),
                    format!(
                        "the parent read {}: the recovered count is not what the completed increments left",
                        outcome.total
                    ),
                )));
            }
        }
        Property::Total => {
            let expected = scenario.expected_total();
            if outcome.total != expected {
                return Err(found(Violation::new(
                    format!("{PROCESSES} processes x {INCREMENTS} increments = {expected}"),
                    format!(
                        "the parent read {}: the count is not in memory the processes share, or updates were lost",
                        outcome.total
                    ),
                )));
            }
        }
        Property::MutualExclusion => {
            if outcome.max_holders > 1 {
                return Err(found(Violation::new(
                    "at most one process inside with_lock at a time",
                    format!(
                        "{} processes were inside with_lock at once",
                        outcome.max_holders
                    ),
                )));
            }
        }
    }
    Ok(())
}

racecourse_impl::register_shm_counter_worker!(static ROBUST: racecourse_impl::process::shm_counter::RobustLocked);
racecourse_impl::register_shm_counter_worker!(static FLOCK: racecourse_impl::process::must_pass::FlockLocked);
racecourse_impl::register_shm_counter_worker!(static NO_LOCK: racecourse_impl::process::mutants::NoLock);
racecourse_impl::register_shm_counter_worker!(static PRIVATE_MEMORY: racecourse_impl::process::mutants::PrivateMemory);
racecourse_impl::register_shm_counter_worker!(static STD_MUTEX_IN_SHM: racecourse_impl::process::mutants::StdMutexInShm);
racecourse_impl::register_shm_counter_worker!(static SHARED_LOCK_PRIVATE_COUNT: racecourse_impl::process::mutants::SharedLockPrivateCount);
racecourse_impl::register_shm_counter_worker!(static ATOMIC_DELTA: racecourse_impl::process::mutants::AtomicDelta);
racecourse_impl::register_shm_counter_worker!(static NON_ROBUST: racecourse_impl::process::mutants::NonRobust);
racecourse_impl::register_shm_counter_worker!(static READ_BEFORE_LOCK: racecourse_impl::process::mutants::ReadBeforeLock);
racecourse_impl::register_shm_counter_worker!(static UNLOCK_ON_RECOVERY: racecourse_impl::process::mutants::UnlockOnRecovery);

/// The shared counter's implementations (reference, must-pass, mutants), all on real
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
        implementation("flock", Role::MustPass, |p| {
            check(&FLOCK, Property::named(p))
        }),
        implementation(
            "no_lock",
            mutant(&["total", "mutual_exclusion", "dead_holder"]),
            |p| check(&NO_LOCK, Property::named(p)),
        ),
        implementation("private_memory", mutant(&["total", "dead_holder"]), |p| {
            check(&PRIVATE_MEMORY, Property::named(p))
        }),
        implementation(
            "shared_lock_private_count",
            mutant(&["total", "dead_holder"]),
            |p| check(&SHARED_LOCK_PRIVATE_COUNT, Property::named(p)),
        ),
        implementation(
            "atomic_delta",
            mutant(&["mutual_exclusion", "dead_holder"]),
            |p| check(&ATOMIC_DELTA, Property::named(p)),
        ),
        implementation(
            "std_mutex_in_shm",
            mutant(&["total", "mutual_exclusion", "dead_holder"]),
            |p| check(&STD_MUTEX_IN_SHM, Property::named(p)),
        ),
        implementation("non_robust", mutant(&["dead_holder"]), |p| {
            check(&NON_ROBUST, Property::named(p))
        }),
        implementation("read_before_lock", mutant(&["total"]), |p| {
            check(&READ_BEFORE_LOCK, Property::named(p))
        }),
        implementation("unlock_on_recovery", mutant(&["dead_holder"]), |p| {
            check(&UNLOCK_ON_RECOVERY, Property::named(p))
        }),
    ]
}

/// Generates the shared-memory counter tests (real processes), named
/// `shm_counter::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::shm_counter! {
///     mine => my_crate::shm { counter: Shared },
/// }
/// ```
///
/// The counter type must implement [`ShmCounter`]; the macro registers the worker
/// that runs it in re-executed processes. `not_attempted` generates one ignored test
/// saying so.
#[macro_export]
macro_rules! shm_counter {
    (not_attempted) => {
        $crate::__not_attempted!(shm_counter);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { counter: $ty:ident }),+ $(,)?) => {
        $crate::__shm_counter_table! { shm_counter [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::shm_counter!(runtimes: [process], $($impls)+);
    };
}
