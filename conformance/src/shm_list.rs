//! E4 across processes: the shared list's process twin. An adder process and a remover
//! process (and a snapshotter) share a list in memory they all map.
//!
//! Properties (see `EXERCISES.md`, E4, "P twin via shared memory"):
//! - `linearizable`: the history recorded across the processes (every call stamped
//!   from one clock in shared memory, just before it and just after it returned) has a
//!   real-time order that the declared FIFO/LIFO model accepts: the threads' oracle
//!   ([`linearizability::check`] with [`ListModel`]) on the processes' calls;
//! - `no_loss`: added = removed + remaining, as multisets;
//! - `declared_order`: the remove that began after `add(0)` and `add(1)` had returned
//!   (and after every earlier remove) gives the front item (`0`) for a FIFO, the back
//!   one (`1`) for a LIFO;
//! - `mutual_exclusion`: while the remover is inside `with_lock`, the adder's `add` does
//!   not return (a rendezvous makes a list without a working cross-process lock fail
//!   this in every run, and lose item 0).
//!
//! All four are judged on one run of the program, made by
//! `racecourse_impl::process::driver::run_shm_list` (its docs give the schedule): real
//! processes started by the spawn method, the remover and the adder both started before
//! either is waited for, and every child reaped before the check returns.

use racecourse_impl::process::driver::{
    run_shm_list, ListCall, ListReturn, ListStep, ShmListOutcome, ShmListScenario, ShmListWorker,
    LIST_REMOVER,
};
use racecourse_impl::process::{TaskError, TaskErrorKind};
use racecourse_spec::shm_list::{RemovalOrder, ShmList};

use crate::oracle::invariants;
use crate::oracle::linearizability::{self, Call, ListModel, ListOp, ListRet};
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{Finding, Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::register_shm_list_worker as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "shm_list";

/// The adder adds `0..K`; the remover removes `K` times.
pub const K: u32 = 16;
/// The list's capacity, as the briefing of the exercise suggests: room to spare.
pub const CAPACITY: usize = 64;
/// Snapshots the snapshotter process takes while the others work.
pub const SNAPSHOTS: usize = 8;
/// A run fails once no worker has made progress for this long (as
/// [`shm_counter::STALL`](crate::shm_counter::STALL)).
pub const STALL: std::time::Duration = crate::shm_counter::STALL;

/// Search steps before the linearizability checker answers unknown (never a pass).
/// Three processes of at most `K` + 1 calls each, plus the final snapshot: far below.
const LINEARIZABILITY_BUDGET: usize = 5_000_000;

properties! { $ __shm_list_table;
    /// The history of the adder, remover and snapshotter processes (stamped from one
    /// clock in shared memory) has a real-time order the declared FIFO/LIFO model
    /// accepts.
    Linearizable => linearizable [process],
    /// added = removed + remaining, as multisets, across the processes.
    NoLoss => no_loss [process],
    /// A remove that begins after two adds returned gives the front item for a FIFO,
    /// the back one for a LIFO.
    DeclaredOrder => declared_order [process],
    /// No add returns while another process is inside `with_lock` (a rendezvous makes
    /// a missing cross-process lock fail in every run).
    MutualExclusion => mutual_exclusion [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E4, processes",
    title: "an adder and a remover process sharing a list in shared memory",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "list",
        bound: "racecourse_spec::shm_list::ShmList",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The run every property is judged on.
pub fn scenario() -> ShmListScenario {
    ShmListScenario {
        k: K,
        capacity: CAPACITY,
        snapshots: SNAPSHOTS,
        stall: STALL,
    }
}

/// The run, as a report describes it.
fn described() -> String {
    format!(
        "real processes: a remover, an adder and a snapshotter on a list of capacity {CAPACITY}; \
         the remover holds with_lock until the adder's add(0) returned or is held at the lock, \
         then removes inside it; once add(0) and add(1) returned it removes {} more times \
         while the adder adds 2..{K}; the snapshotter takes {SNAPSHOTS} snapshots; \
         a last process takes the final snapshot",
        K - 1
    )
}

/// The history in the oracle's terms: one thread number per process.
pub fn history(calls: &[ListCall]) -> Vec<Call<ListOp, ListRet>> {
    calls
        .iter()
        .map(|c| Call {
            thread: c.process,
            op: match c.step {
                ListStep::Add(x) => ListOp::Add(x),
                ListStep::Remove => ListOp::Remove,
                ListStep::Snapshot => ListOp::Snapshot,
            },
            ret: match &c.ret {
                ListReturn::Added => ListRet::Added,
                ListReturn::Removed(x) => ListRet::Removed(*x),
                ListReturn::Snapshot(items) => ListRet::Snapshot(items.clone()),
            },
            call_at: c.call_at,
            ret_at: c.ret_at,
        })
        .collect()
}

fn task_violation(error: &TaskError) -> Violation {
    match error.kind() {
        TaskErrorKind::Stalled => Violation::new(
            "the adder, remover and snapshotter processes to make progress",
            format!(
                "no process made progress for {STALL:?}: a lock that only works inside one \
                 process (a std::sync::Mutex in shared memory never wakes waiters in other \
                 processes), a remove that waits for an item, or a deadlock"
            ),
        )
        .of_kind(Kind::Stall),
        TaskErrorKind::Panicked | TaskErrorKind::Crashed => Violation::new(
            "every process to finish its calls on the list",
            error.to_string(),
        )
        .of_kind(Kind::Panic),
        _ => Violation::new(
            "every process to finish its calls on the list",
            error.to_string(),
        ),
    }
}

/// What `outcome` says about `property`, for a list of removal order `order`.
pub fn judge(
    property: Property,
    order: RemovalOrder,
    outcome: &ShmListOutcome,
) -> Result<(), Violation> {
    let history = history(&outcome.calls);
    match property {
        Property::Linearizable => {
            match linearizability::check(&ListModel { order }, &history, LINEARIZABILITY_BUDGET) {
                linearizability::Outcome::Linearizable(_) => Ok(()),
                linearizability::Outcome::NotLinearizable { explanation, .. } => Err(Violation::new(
                    format!("a history across processes that a {} list could produce", order.name()),
                    explanation.replace("thread", "process"),
                )),
                linearizability::Outcome::Unknown { steps } => Err(Violation::new(
                    "a linearizability verdict",
                    format!("the search gave up after {steps} steps: unknown, which is never a pass (report this run)"),
                )),
            }
        }
        Property::NoLoss => {
            let added: Vec<u32> = history
                .iter()
                .filter_map(|c| match c.op {
                    ListOp::Add(x) => Some(x),
                    _ => None,
                })
                .collect();
            let removed: Vec<u32> = history
                .iter()
                .filter_map(|c| match c.ret {
                    ListRet::Removed(Some(x)) => Some(x),
                    _ => None,
                })
                .collect();
            let remaining = match outcome.calls.last().map(|c| &c.ret) {
                Some(ListReturn::Snapshot(items)) => items.clone(),
                _ => Vec::new(),
            };
            invariants::conservation(&added, &removed, &remaining)
        }
        Property::DeclaredOrder => {
            let (want, side) = match order {
                RemovalOrder::Fifo => (0, "the front"),
                RemovalOrder::Lifo => (1, "the back"),
            };
            let expected = format!(
                "the remove that began after add(0) and add(1) returned to give {want} ({} list: {side})",
                order.name()
            );
            let gated = outcome
                .calls
                .iter()
                .filter(|c| c.process == LIST_REMOVER)
                .nth(1);
            match gated.map(|c| &c.ret) {
                Some(ListReturn::Removed(Some(x))) if *x == want => Ok(()),
                Some(ListReturn::Removed(got)) => Err(Violation::new(
                    expected,
                    format!(
                        "it gave {got:?}: the list removes from the other end than it declares, \
                         or the processes do not share it"
                    ),
                )),
                _ => Err(Violation::new(
                    expected,
                    "the remover's calls did not come back".to_owned(),
                )),
            }
        }
        Property::MutualExclusion if outcome.overlapped => Err(Violation::new(
            "add to wait while another process is inside with_lock",
            "the adder's add(0) returned while the remover was inside with_lock: add does not \
             take the lock with_lock holds, or the lock does not work across processes"
                .to_owned(),
        )),
        Property::MutualExclusion => Ok(()),
    }
}

/// Checks `property` of the list type run by `worker`, in real processes.
pub fn check<L: ShmList>(
    worker: &'static ShmListWorker<L>,
    property: Property,
) -> Result<(), Finding> {
    let found = |violation| {
        (
            Found {
                violation,
                schedule: "real processes (spawn start method); the rendezvous and the gates make the interleavings judged deterministic".to_string(),
                replay_env: Vec::new(),
            },
            described(),
        )
    };
    let outcome = run_shm_list(worker, &scenario()).map_err(|e| found(task_violation(&e)))?;
    judge(property, L::ORDER, &outcome).map_err(found)
}

racecourse_impl::register_shm_list_worker!(static ROBUST: racecourse_impl::process::shm_list::RobustList);
racecourse_impl::register_shm_list_worker!(static SPIN_RING: crate::must_pass::shm_list::SpinRing);
racecourse_impl::register_shm_list_worker!(static COPIED_INTO_CHILD: crate::mutants::shm_list::CopiedIntoChild);
racecourse_impl::register_shm_list_worker!(static NO_LOCK: crate::mutants::shm_list::NoLock);
racecourse_impl::register_shm_list_worker!(static CLEAR_ALL: crate::mutants::shm_list::ClearAll);
racecourse_impl::register_shm_list_worker!(static LIFO_DECLARED_FIFO: crate::mutants::shm_list::LifoDeclaredFifo);

/// The shared list's process implementations (reference, must-pass, mutants).
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
        implementation("spin_ring", Role::MustPass, |p| {
            check(&SPIN_RING, Property::named(p))
        }),
        implementation(
            "copied_into_child",
            mutant(&[
                "linearizable",
                "no_loss",
                "declared_order",
                "mutual_exclusion",
            ]),
            |p| check(&COPIED_INTO_CHILD, Property::named(p)),
        ),
        implementation(
            "no_lock",
            mutant(&[
                "linearizable",
                "no_loss",
                "declared_order",
                "mutual_exclusion",
            ]),
            |p| check(&NO_LOCK, Property::named(p)),
        ),
        implementation("clear_all", mutant(&["linearizable", "no_loss"]), |p| {
            check(&CLEAR_ALL, Property::named(p))
        }),
        implementation(
            "lifo_declared_fifo",
            mutant(&["linearizable", "declared_order"]),
            |p| check(&LIFO_DECLARED_FIFO, Property::named(p)),
        ),
    ]
}

/// Generates the shared-list process tests, named `shm_list::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::shm_list! {
///     mine => my_crate::shm { list: Shared },
/// }
/// ```
///
/// The list type must implement [`ShmList`]; the macro registers the worker that runs
/// it in re-executed processes. `not_attempted` generates one ignored test saying so.
#[macro_export]
macro_rules! shm_list {
    (not_attempted) => {
        $crate::__not_attempted!(shm_list);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { list: $ty:ident }),+ $(,)?) => {
        $crate::__shm_list_table! { shm_list [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::shm_list!(runtimes: [process], $($impls)+);
    };
}
