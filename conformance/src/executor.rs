//! E7 executor suite: a thread pool in the style of `ThreadPoolExecutor`.
//!
//! Properties (see `EXERCISES.md`, E7):
//! - `bounded`: never more than `max_workers` tasks run at once;
//! - `reaches_max`: `max_workers` tasks that wait for each other all run at once;
//! - `own_result`: every future holds its own task's outcome (seed 000's shared slot
//!   prints `Factorial of 4 is 5040` on every line);
//! - `map_in_order`: `map` returns the outcomes in input order, whatever order the
//!   tasks finish in;
//! - `as_completed`: each future exactly once, a done one whenever there is one;
//! - `after_shutdown`: `submit` after `shutdown` is an error and runs nothing;
//! - `shutdown_waits`: `shutdown(true)` and the drop return after every task finished;
//! - `survives_panics`: a panicking task's future holds its message as an error, and
//!   the pool still runs `max_workers` tasks at once afterwards.
//!
//! Task order is forced with rendezvous inside the tasks (a turn counter, gates the
//! main thread opens), never with sleeps: what a property judges happens in the same
//! order on every runtime, and a pool that cannot reach it is found as a deadlock by the
//! model checkers (a stall on real threads).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use racecourse_spec::executor::{factorial, factorial_line, Executor, Future, Shutdown, TaskError};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "executor";

properties! { $ __executor_table;
    /// Never more than `max_workers` tasks run at once.
    Bounded => bounded [std shuttle loom],
    /// `max_workers` tasks that wait for each other all run at once.
    ReachesMax => reaches_max [std shuttle],
    /// Every future holds its own task's outcome, never another task's.
    OwnResult => own_result [std shuttle loom],
    /// `map` returns the outcomes in input order, whatever order the tasks finish in.
    MapInOrder => map_in_order [std shuttle],
    /// `as_completed` yields each future exactly once, and a done one whenever there is
    /// one.
    AsCompleted => as_completed [std shuttle],
    /// `submit` after `shutdown` returns `Err(Shutdown)` and runs nothing.
    AfterShutdown => after_shutdown [std shuttle loom],
    /// `shutdown(true)`, and dropping the executor, return only after every submitted
    /// task finished.
    ShutdownWaits => shutdown_waits [std shuttle loom],
    /// A panicking task's future holds its panic message as an error, and the pool still
    /// runs `max_workers` tasks at once afterwards.
    SurvivesPanics => survives_panics [std shuttle],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E7",
    title: "a thread-pool executor: submit, futures, map, as_completed, shutdown",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "executor",
        bound: "racecourse_spec::executor::Executor",
    }],
    implementations,
    snapshots,
};

/// The course's program: the factorials of 1 to 10 on 4 workers.
pub const PROGRAM_WORKERS: usize = 4;

/// One scenario: a pool of `workers`, `tasks` tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The property the scenario checks.
    pub property: Property,
    /// `max_workers`.
    pub workers: usize,
    /// Tasks submitted.
    pub tasks: usize,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, n) = (self.workers, self.tasks);
        match self.property {
            Property::Bounded => write!(f, "{n} tasks on {w} workers, each counting the tasks running beside it"),
            Property::ReachesMax => write!(f, "{w} workers, {n} tasks that each wait until all {n} are running"),
            Property::OwnResult => write!(f, "{n} tasks on {w} workers, task i returning (i+1)!; each future read after all were submitted"),
            Property::MapInOrder => write!(f, "map over {n} inputs on {w} workers, the tasks made to finish last input first"),
            Property::AsCompleted => write!(f, "{n} tasks on {w} workers, each held by a gate; the main thread opens one gate, then asks as_completed for the next future, in the order 2, 0, 1"),
            Property::AfterShutdown => write!(f, "{n} task on {w} worker, shutdown(true), then submit again (and after shutdown(false) on a second pool)"),
            Property::ShutdownWaits => write!(f, "{n} tasks on {w} worker, then shutdown(true); {n} more on a second pool, then drop it"),
            Property::SurvivesPanics => write!(f, "{w} tasks that panic on {w} workers, then {w} tasks that each wait until all {w} are running"),
        }
    }
}

impl Property {
    /// The scenario checked on every runtime: small enough for loom where the property
    /// runs there.
    fn scenario(self) -> Scenario {
        let (workers, tasks) = match self {
            Property::Bounded => (2, 3),
            Property::ReachesMax => (3, 3),
            Property::OwnResult => (2, 2),
            Property::MapInOrder => (3, 3),
            Property::AsCompleted => (3, 3),
            Property::AfterShutdown => (1, 1),
            Property::ShutdownWaits => (1, 2),
            Property::SurvivesPanics => (2, 2),
        };
        Scenario {
            property: self,
            workers,
            tasks,
        }
    }

    /// What a deadlock (every thread blocked) means in this property's scenario.
    fn on_deadlock(self) -> Violation {
        let (expected, seen) = match self {
            Property::ReachesMax | Property::SurvivesPanics => (
                "max_workers tasks to run at once when they wait for each other",
                "every thread was blocked: tasks waited for each other and fewer than max_workers of them ever ran at once (are workers lost, or fewer started than max_workers?)",
            ),
            Property::AsCompleted => (
                "as_completed to yield a done future whenever there is one",
                "every thread was blocked: as_completed waited for a future whose task cannot finish yet while another future was done (does it wait for the futures in submission order?)",
            ),
            Property::ShutdownWaits => (
                "shutdown(true) and the drop to end every worker",
                "every thread was blocked: the program was over but threads of the executor still waited (workers never told to stop, or a shutdown that waits for nothing that will come)",
            ),
            _ => (
                "every task to run and every call to return",
                "every thread was blocked: a future that never gets its outcome, or workers left waiting after the executor was dropped",
            ),
        };
        Violation::new(expected, seen).of_kind(Kind::Deadlock)
    }
}

/// The running count of tasks, and the most seen at once. Plain std atomics: invisible
/// to the model checkers, so they add no interleavings.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    fn enter(&self) -> usize {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        n
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refused(what: &str, e: Shutdown) -> Violation {
    Violation::new(
        format!("{what} to be accepted before shutdown"),
        format!("submit returned {e:?} although shutdown was never called"),
    )
}

/// Judges one future's outcome against the value it must hold.
fn own(i: usize, got: Result<u64, TaskError>, want: u64) -> Result<(), Violation> {
    match got {
        Ok(v) if v == want => Ok(()),
        Ok(v) => Err(Violation::new(
            "every future to hold its own task's outcome",
            format!(
                "the future of task {i} held {v}, but task {i} returned {want}{}",
                if (1..=20).any(|n| factorial(n) == v) {
                    ": another task's result (one result slot shared by every task?)"
                } else {
                    ""
                }
            ),
        )),
        Err(e) => Err(Violation::new(
            "every future to hold its own task's outcome",
            format!("the future of task {i} held an error, {e}, but task {i} returned Ok({want})"),
        )),
    }
}

racecourse_spec::runtimes! {
    use crate::runner::Progress;
    use rt::sync::{Barrier, Condvar, Mutex as RtMutex};

    /// Runs one scenario of `scenario.property` on `E` and judges it.
    pub fn run<E: Executor>(scenario: Scenario, progress: &Progress) -> Result<(), Violation> {
        let (w, n) = (scenario.workers, scenario.tasks);
        match scenario.property {
            Property::Bounded => bounded::<E>(w, n, progress),
            Property::ReachesMax => reaches_max::<E>(w, n, progress),
            Property::OwnResult => own_result::<E>(w, n, progress),
            Property::MapInOrder => map_in_order::<E>(w, n, progress),
            Property::AsCompleted => as_completed::<E>(w, n, progress),
            Property::AfterShutdown => after_shutdown::<E>(w, progress),
            Property::ShutdownWaits => shutdown_waits::<E>(w, n, progress),
            Property::SurvivesPanics => survives_panics::<E>(w, progress),
        }
    }

    fn bounded<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(w);
        let flight = Arc::new(InFlight::default());
        let futures = (0..n)
            .map(|i| {
                let flight = Arc::clone(&flight);
                pool.submit(Box::new(move || {
                    flight.enter();
                    rt::thread::yield_now();
                    flight.leave();
                    Ok(i as u64)
                }))
                .map_err(|e| refused("every task", e))
            })
            .collect::<Result<Vec<_>, Violation>>()?;
        for f in &futures {
            let _ = f.result();
            progress.tick();
        }
        drop(pool);
        let most = flight.most.load(Ordering::SeqCst);
        if most > w {
            return Err(Violation::new(
                format!("at most max_workers = {w} tasks running at once"),
                format!("{most} tasks ran at once on an executor of {w} workers"),
            ));
        }
        Ok(())
    }

    /// `n` tasks each wait at a barrier of `n`: they all finish only if all run at once.
    fn reaches_max<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        meet::<E>(&E::new(w), n, progress)
    }

    /// Submits `n` tasks to `pool` that each wait until all `n` are running.
    fn meet<E: Executor>(pool: &E, n: usize, progress: &Progress) -> Result<(), Violation> {
        let barrier = rt::sync::Arc::new(Barrier::new(n));
        let futures = (0..n)
            .map(|i| {
                let barrier = rt::sync::Arc::clone(&barrier);
                pool.submit(Box::new(move || {
                    barrier.wait();
                    Ok(i as u64)
                }))
                .map_err(|e| refused("every task", e))
            })
            .collect::<Result<Vec<_>, Violation>>()?;
        for (i, f) in futures.iter().enumerate() {
            own(i, f.result(), i as u64)?;
            progress.tick();
        }
        Ok(())
    }

    fn own_result<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(w);
        let futures = (0..n)
            .map(|i| {
                pool.submit(Box::new(move || {
                    rt::thread::yield_now();
                    Ok(factorial(i as u64 + 1))
                }))
                .map_err(|e| refused("every task", e))
            })
            .collect::<Result<Vec<_>, Violation>>()?;
        for (i, f) in futures.iter().enumerate() {
            own(i, f.result(), factorial(i as u64 + 1))?;
            progress.tick();
        }
        Ok(())
    }

    /// Whose turn it is to finish: tasks finish last input first.
    struct Turn {
        next: RtMutex<usize>,
        moved: Condvar,
    }

    fn map_in_order<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(w);
        let turn = rt::sync::Arc::new(Turn { next: RtMutex::new(n - 1), moved: Condvar::new() });
        let t = rt::sync::Arc::clone(&turn);
        let outcomes = pool
            .map(
                move |x| {
                    let mut next = t.next.lock().unwrap();
                    while *next != x as usize {
                        next = t.moved.wait(next).unwrap();
                    }
                    *next = next.wrapping_sub(1);
                    t.moved.notify_all();
                    Ok(x * 10)
                },
                (0..n as u64).collect(),
            )
            .map_err(|e| refused("map", e))?;
        progress.tick();
        let want: Vec<Result<u64, TaskError>> = (0..n as u64).map(|x| Ok(x * 10)).collect();
        if outcomes != want {
            return Err(Violation::new(
                "map to return the outcomes in input order",
                format!(
                    "map over inputs {:?} (task x returns x * 10, the last input finishing first) returned {:?}",
                    (0..n).collect::<Vec<_>>(),
                    outcomes.iter().map(|o| o.clone().map_err(|e| e.to_string())).collect::<Vec<_>>()
                ),
            ));
        }
        Ok(())
    }

    /// Gates the main thread opens one at a time.
    struct Gates {
        open: RtMutex<Vec<bool>>,
        opened: Condvar,
    }

    fn as_completed<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(w);
        let gates = rt::sync::Arc::new(Gates { open: RtMutex::new(vec![false; n]), opened: Condvar::new() });
        let futures = (0..n)
            .map(|i| {
                let gates = rt::sync::Arc::clone(&gates);
                pool.submit(Box::new(move || {
                    let mut open = gates.open.lock().unwrap();
                    while !open[i] {
                        open = gates.opened.wait(open).unwrap();
                    }
                    Ok(i as u64)
                }))
                .map_err(|e| refused("every task", e))
            })
            .collect::<Result<Vec<_>, Violation>>()?;
        let order: Vec<usize> = [2, 0, 1].into_iter().filter(|&i| i < n).collect();
        let mut yielded = E::as_completed(futures);
        for (k, &i) in order.iter().enumerate() {
            gates.open.lock().unwrap()[i] = true;
            gates.opened.notify_all();
            let Some(f) = yielded.next() else {
                return Err(Violation::new(
                    format!("as_completed to yield each of the {n} futures"),
                    format!("it ended after {k}"),
                ));
            };
            match f.result() {
                Ok(v) if v == i as u64 => {}
                got => {
                    return Err(Violation::new(
                        "as_completed to yield a done future whenever there is one",
                        format!(
                            "only task {i}'s gate was opened since the last future was yielded, so its future was the one done, but as_completed yielded the future holding {got:?}"
                        ),
                    ))
                }
            }
            progress.tick();
        }
        if yielded.next().is_some() {
            return Err(Violation::new(
                format!("as_completed to yield each of the {n} futures exactly once"),
                format!("it yielded a future after all {n} had been yielded"),
            ));
        }
        Ok(())
    }

    fn after_shutdown<E: Executor>(w: usize, progress: &Progress) -> Result<(), Violation> {
        for wait in [true, false] {
            let pool = E::new(w);
            let first = pool.submit(Box::new(|| Ok(1))).map_err(|e| refused("the first task", e))?;
            pool.shutdown(wait);
            let ran = Arc::new(AtomicBool::new(false));
            let r = Arc::clone(&ran);
            let late = pool.submit(Box::new(move || {
                r.store(true, Ordering::SeqCst);
                Ok(2)
            }));
            own(0, first.result(), 1)?;
            drop(pool);
            progress.tick();
            if late.is_ok() || ran.load(Ordering::SeqCst) {
                return Err(Violation::new(
                    "submit after shutdown to return Err(Shutdown) and run nothing",
                    format!(
                        "after shutdown({wait}), submit returned {}{}",
                        if late.is_ok() { "a future" } else { "Err(Shutdown)" },
                        if ran.load(Ordering::SeqCst) { ", and the task ran" } else { "" }
                    ),
                ));
            }
        }
        Ok(())
    }

    fn shutdown_waits<E: Executor>(w: usize, n: usize, progress: &Progress) -> Result<(), Violation> {
        for by_drop in [false, true] {
            let finished = Arc::new(AtomicUsize::new(0));
            let pool = E::new(w);
            for i in 0..n {
                let finished = Arc::clone(&finished);
                // The futures are dropped: nobody waits on them but the shutdown.
                let _ = pool
                    .submit(Box::new(move || {
                        rt::thread::yield_now();
                        finished.fetch_add(1, Ordering::SeqCst);
                        Ok(i as u64)
                    }))
                    .map_err(|e| refused("every task", e))?;
            }
            let how = if by_drop {
                drop(pool);
                "dropping the executor"
            } else {
                pool.shutdown(true);
                "shutdown(true)"
            };
            progress.tick();
            let done = finished.load(Ordering::SeqCst);
            if done != n {
                // Let the tasks end before judging: a model checker must not see the
                // program end with the executor's threads still running.
                while finished.load(Ordering::SeqCst) != n {
                    rt::thread::yield_now();
                }
                return Err(Violation::new(
                    "shutdown(true) and the drop to return only after every submitted task finished",
                    format!("{how} returned when {done} of the {n} tasks had finished"),
                ));
            }
        }
        Ok(())
    }

    fn survives_panics<E: Executor>(w: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(w);
        let panicking = (0..w)
            .map(|i| {
                pool.submit(Box::new(move || panic!("task {i} failed on purpose")))
                    .map_err(|e| refused("every task", e))
            })
            .collect::<Result<Vec<_>, Violation>>()?;
        for (i, f) in panicking.iter().enumerate() {
            let want = TaskError::Panicked(format!("task {i} failed on purpose"));
            match f.result() {
                Err(e) if e == want => {}
                got => {
                    return Err(Violation::new(
                        "a panicking task's future to hold Err(Panicked) with the panic's message",
                        format!("task {i} panicked with \"task {i} failed on purpose\", and its future held {got:?}"),
                    ))
                }
            }
            progress.tick();
        }
        // The same pool: its workers must have outlived their tasks' panics.
        meet::<E>(&pool, w, progress)
    }

    /// The course's program: the factorials of 1 to 10 through `map` on 4 workers,
    /// printed in order.
    pub fn program<E: Executor>() -> String {
        let pool = E::new(PROGRAM_WORKERS);
        let mut out = String::new();
        match pool.map(|n| Ok(factorial(n)), (1..=10).collect()) {
            Ok(outcomes) => {
                for (n, outcome) in (1..=10).zip(outcomes) {
                    match outcome {
                        Ok(v) => out.push_str(&factorial_line(n, v)),
                        Err(e) => out.push_str(&format!("Factorial of {n} failed: {e}")),
                    }
                    out.push('\n');
                }
            }
            Err(e) => out.push_str(&format!("map failed: {e}\n")),
        }
        out
    }
}

/// The shuttle budget of one scenario.
const SHUTTLE: shuttle_rt::Budget = shuttle_rt::Budget {
    random: 25,
    pct: 25,
    base_seed: 0,
};

/// Checks `property` of `E` on std threads: its scenario, 10 trials, within the std
/// time budget.
pub fn check_std<E: Executor>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    let scenario = property.scenario();
    crate::isolate::note(&scenario.to_string(), None);
    std_rt::explore(&budget, 10, move |progress| {
        on_std::run::<E>(scenario, progress)
    })
    .map_err(|f| (f, scenario.to_string()))
}

/// Checks `property` of `E` under shuttle: its scenario, 25 random and 25 PCT
/// iterations.
pub fn check_shuttle<E: Executor>(property: Property) -> Result<(), Finding> {
    let scenario = property.scenario();
    crate::isolate::note(&scenario.to_string(), None);
    shuttle_rt::explore(SHUTTLE, move || {
        on_shuttle::run::<E>(scenario, &Progress::new())
    })
    .map_err(|found| {
        (
            found.deadlock_means(property.on_deadlock()),
            scenario.to_string(),
        )
    })
}

/// Checks `property` of `E` under loom: its scenario, at most two preemptions.
pub fn check_loom<E: Executor>(property: Property) -> Result<(), Finding> {
    let scenario = property.scenario();
    crate::isolate::note(&scenario.to_string(), Some(property.on_deadlock()));
    let result: Result<(), Found> = loom_rt::explore(loom_rt::Bounds::BOUNDED, move || {
        on_loom::run::<E>(scenario, &Progress::new())
    });
    result.map_err(|found| {
        (
            found.deadlock_means(property.on_deadlock()),
            scenario.to_string(),
        )
    })
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::executor::$rt as must;
        use crate::mutants::executor::$rt as m;
        use racecourse_impl::thread::executor::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "pool",
                role: Role::Reference,
                check: |p| $check::<reference::Pool>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "permits",
                role: Role::MustPass,
                check: |p| $check::<must::Permits>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lazy",
                role: Role::MustPass,
                check: |p| $check::<must::Lazy>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "shared_slot",
                role: Role::Mutant {
                    must_fail: &["own_result"],
                },
                check: |p| $check::<m::SharedSlot>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "thread_per_task",
                role: Role::Mutant {
                    must_fail: &["bounded"],
                },
                check: |p| $check::<m::ThreadPerTask>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "one_worker",
                role: Role::Mutant {
                    must_fail: &["reaches_max"],
                },
                check: |p| $check::<m::OneWorker>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "map_in_completion_order",
                role: Role::Mutant {
                    must_fail: &["map_in_order"],
                },
                check: |p| $check::<m::MapInCompletionOrder>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "in_submission_order",
                role: Role::Mutant {
                    must_fail: &["as_completed"],
                },
                check: |p| $check::<m::InSubmissionOrder>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "accepts_after_shutdown",
                role: Role::Mutant {
                    must_fail: &["after_shutdown"],
                },
                check: |p| $check::<m::AcceptsAfterShutdown>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "shutdown_returns_at_once",
                role: Role::Mutant {
                    must_fail: &["shutdown_waits"],
                },
                check: |p| $check::<m::ShutdownReturnsAtOnce>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "leaks_workers",
                role: Role::Mutant {
                    must_fail: &["shutdown_waits"],
                },
                check: |p| $check::<m::LeaksWorkers>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "dies_with_panic",
                role: Role::Mutant {
                    must_fail: &["survives_panics"],
                },
                check: |p| $check::<m::DiesWithPanic>(Property::named(p)),
            },
        ]
    }};
}

/// The reference's snapshot: the course's program, on std threads (`map` returns in
/// input order, so the transcript is the same every run).
fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    match runtime {
        Runtime::Std => vec![(
            "executor__transcript".to_string(),
            on_std::program::<racecourse_impl::thread::executor::on_std::Pool>(),
        )],
        _ => Vec::new(),
    }
}

/// The executor's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E7 executor tests for one or more implementations, named
/// `executor::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::executor! {
///     mine => my_crate::executor { executor: Pool },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! executor {
    (not_attempted) => {
        $crate::__not_attempted!(executor);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { executor: $ty:ident }),+ $(,)?) => {
        $crate::__executor_table! { executor [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::executor!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_slot_is_named() {
        let v = own(3, Ok(24), 120).unwrap_err();
        assert!(v.seen.contains("another task's result"), "{v}");
        assert_eq!(own(0, Ok(1), 1), Ok(()));
    }

    #[test]
    fn the_program_prints_the_factorials_in_order() {
        let text = on_std::program::<racecourse_impl::thread::executor::on_std::Pool>();
        assert_eq!(text.lines().nth(3), Some("Factorial of 4 is 24"));
        assert_eq!(text.lines().count(), 10);
    }
}
