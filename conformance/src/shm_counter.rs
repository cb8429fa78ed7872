//! E5 shared value suite (processes): a counter in shared memory, incremented by 5
//! processes x 100 under a lock in the same shared memory.
//!
//! Properties (see `EXERCISES.md`, E5 "Shared Value / Array"):
//! - `total`: 5 worker processes x 100 increments leave exactly 500;
//! - `mutual_exclusion`: no two processes are ever inside `with_lock` at once. Worker
//!   0 holds its first critical section until another worker has announced it is
//!   about to lock (then a short grace): without a working cross-process lock a second
//!   worker enters, deterministically (see `impl/src/process/README.md`).
//!
//! Workers are real processes started by the spawn method: the test binary is
//! re-executed and routed to the worker before `main`. A run that outlives its
//! deadline is killed with its whole process group and reported as timed out, which is
//! how a `std::sync::Mutex` in shared memory (process-private futex wakeups) shows up.

use std::time::Duration;

use racecourse_impl::process::driver::{run_shm_counter, ShmCounterScenario, ShmCounterWorker};
use racecourse_impl::process::{TaskError, TaskErrorKind};
use racecourse_spec::shm_counter::ShmCounter;

use crate::report::Violation;
use crate::runner::Finding;
use crate::runner::{Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::register_shm_counter_worker as __register_worker;

/// The exercise's name in test names and reports.
pub const EXERCISE: &str = "shm_counter";

/// Worker processes, as in the course's example.
pub const PROCESSES: usize = 5;
/// Increments per worker, as in the course's example.
pub const INCREMENTS: usize = 100;
/// The deadline of one run: a correct one takes well under a second.
pub const DEADLINE: Duration = Duration::from_secs(5);

properties! {
    /// 5 x 100 = 500.
    Total => total,
    /// At most one process inside the lock at a time.
    MutualExclusion => mutual_exclusion,
}

fn task_violation(error: &TaskError) -> Violation {
    match error.kind() {
        TaskErrorKind::TimedOut => Violation::new(
            format!("the {PROCESSES} workers to finish within {DEADLINE:?}"),
            "they were still running and were killed: a lock that only works inside one \
             process (a std::sync::Mutex in shared memory never wakes waiters in other \
             processes) or a deadlock",
        ),
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
    let scenario = ShmCounterScenario::new(PROCESSES, INCREMENTS, DEADLINE);
    let described = format!(
        "{PROCESSES} processes x {INCREMENTS} increments, worker 0 holding its first critical section until another tries to enter"
    );
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
    let outcome = run_shm_counter(worker, &scenario).map_err(|e| found(task_violation(&e)))?;
    match property {
        Property::Total => {
            let expected = (PROCESSES * INCREMENTS) as u64;
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

/// The names of the properties (all run on real processes).
pub fn properties_on(runtime: Runtime) -> Vec<&'static str> {
    match runtime {
        Runtime::Process => Property::ALL.into_iter().map(Property::name).collect(),
        _ => Vec::new(),
    }
}

racecourse_impl::register_shm_counter_worker!(static NO_LOCK: racecourse_impl::process::mutants::NoLock);
racecourse_impl::register_shm_counter_worker!(static PRIVATE_MEMORY: racecourse_impl::process::mutants::PrivateMemory);
racecourse_impl::register_shm_counter_worker!(static STD_MUTEX_IN_SHM: racecourse_impl::process::mutants::StdMutexInShm);
racecourse_impl::register_shm_counter_worker!(static SHARED_LOCK_PRIVATE_COUNT: racecourse_impl::process::mutants::SharedLockPrivateCount);
racecourse_impl::register_shm_counter_worker!(static ATOMIC_DELTA: racecourse_impl::process::mutants::AtomicDelta);

/// The process mutants of the shared counter.
pub fn mutants() -> Vec<crate::kill_matrix::Mutant> {
    use crate::kill_matrix::Mutant;
    vec![
        Mutant {
            exercise: EXERCISE,
            name: "no_lock",
            must_fail: &["mutual_exclusion"],
            check: |p| check(&NO_LOCK, Property::named(p)),
        },
        Mutant {
            exercise: EXERCISE,
            name: "private_memory",
            must_fail: &["total"],
            check: |p| check(&PRIVATE_MEMORY, Property::named(p)),
        },
        Mutant {
            exercise: EXERCISE,
            name: "shared_lock_private_count",
            must_fail: &["total"],
            check: |p| check(&SHARED_LOCK_PRIVATE_COUNT, Property::named(p)),
        },
        Mutant {
            exercise: EXERCISE,
            name: "atomic_delta",
            must_fail: &["mutual_exclusion"],
            check: |p| check(&ATOMIC_DELTA, Property::named(p)),
        },
        Mutant {
            exercise: EXERCISE,
            name: "std_mutex_in_shm",
            must_fail: &["total", "mutual_exclusion"],
            check: |p| check(&STD_MUTEX_IN_SHM, Property::named(p)),
        },
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
        mod shm_counter {
            #[test]
            #[ignore = "shm_counter not attempted"]
            fn not_attempted() {}
        }
    };
    ($($name:ident => $($seg:ident)::+ { counter: $ty:ident }),+ $(,)?) => {
        #[allow(non_snake_case)]
        mod shm_counter {
            #[allow(non_upper_case_globals)]
            mod workers {
                $( $crate::shm_counter::__register_worker!(pub(crate) static $name: $($seg)::+::$ty); )+
            }
            $crate::shm_counter!(@property total [$($name => $($seg)::+ { counter: $ty }),+]);
            $crate::shm_counter!(@property mutual_exclusion [$($name => $($seg)::+ { counter: $ty }),+]);
        }
    };
    (@property $p:ident [$($name:ident => $($seg:ident)::+ { counter: $ty:ident }),+]) => {
        mod $p {
            mod process {
                $(
                    #[test]
                    fn $name() {
                        $crate::__conclude!(shm_counter $p process $($seg)::+::$ty, $name,
                            $crate::shm_counter::check(&super::super::workers::$name, $crate::shm_counter::property::$p));
                    }
                )+
            }
        }
    };
}
