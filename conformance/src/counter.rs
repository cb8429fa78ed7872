//! E5 lock suite: a counter incremented by many threads.
//!
//! Properties (see `EXERCISES.md`, E5 "Lock / counter"):
//! - `seven_threads`: the course's example, 7 threads each incrementing once, gives 7;
//! - `no_lost_update`: N threads x K increments give exactly N * K;
//! - `mutual_exclusion`: no two `with_lock` closures ever run at the same time,
//!   observed by an in-critical-section counter that yields inside the section.

use std::sync::Arc;

use racecourse_spec::counter::Counter;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::Finding;
use crate::runner::{loom_rt, shuttle_rt, std_rt, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "counter";

// loom cannot model seven threads: `seven_threads` runs on std and shuttle only.
properties! { $ __counter_table;
    /// 7 threads x 1 increment = 7.
    SevenThreads => seven_threads [std shuttle],
    /// N threads x K increments = N * K.
    NoLostUpdate => no_lost_update [std shuttle loom],
    /// No two `with_lock` closures overlap (an in-critical-section count, yielding
    /// inside).
    MutualExclusion => mutual_exclusion [std shuttle loom],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "a counter under a lock",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "counter",
        bound: "racecourse_spec::counter::Counter",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

impl Property {
    /// Threads and increments per thread under loom (std and shuttle draw theirs).
    fn shape(self, runtime: Runtime) -> (usize, usize) {
        match (self, runtime) {
            (Property::SevenThreads, _) => (7, 1),
            _ => (2, 2),
        }
    }
}

/// What one run of increments saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// The count read after every thread was joined.
    pub total: u64,
    /// Increments completed: threads x increments, unless the runner asked the run to
    /// stop early (a slow run on real threads).
    pub completed: u64,
    /// The most closures seen inside `with_lock` at once.
    pub most_inside: usize,
}

/// Judges one run: the count, and whether two closures overlapped.
fn judge(property: Property, threads: usize, each: usize, run: Run) -> Result<(), Violation> {
    let Run {
        total,
        completed,
        most_inside,
    } = run;
    match property {
        Property::MutualExclusion if most_inside > 1 => Err(Violation::new(
            "at most one thread inside with_lock at a time",
            format!("{most_inside} threads were inside with_lock at once"),
        )),
        Property::MutualExclusion => Ok(()),
        _ => {
            let expected = completed;
            if total == expected {
                Ok(())
            } else {
                let planned = (threads * each) as u64;
                Err(Violation::new(
                    if completed == planned {
                        format!("{threads} threads x {each} increments = {expected}")
                    } else {
                        format!(
                            "{completed} completed increments ({threads} threads, stopped early by the time budget) = {expected}"
                        )
                    },
                    {
                        let lost = expected.abs_diff(total);
                        let noun = if lost == 1 {
                            "update was"
                        } else {
                            "updates were"
                        };
                        format!("the count was {total}: {lost} {noun} lost")
                    },
                ))
            }
        }
    }
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use crate::runner::Progress;

    /// Runs `threads` threads of `each` increments; with `probe`, each increment goes
    /// through `with_lock` with an in-critical-section count that yields inside the
    /// section. Each thread ticks `progress` after every increment and stops early
    /// when asked.
    pub fn run_increments<C: Counter>(threads: usize, each: usize, probe: bool, progress: &Progress) -> Result<Run, Violation> {
        let counter = rt::sync::Arc::new(C::new());
        let inside = Arc::new(StdAtomicUsize::new(0));
        let most = Arc::new(StdAtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let counter = rt::sync::Arc::clone(&counter);
                let inside = Arc::clone(&inside);
                let most = Arc::clone(&most);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let mut done = 0u64;
                    for _ in 0..each {
                        if progress.should_stop() {
                            break;
                        }
                        if probe {
                            counter.with_lock(|n| {
                                let now = inside.fetch_add(1, StdOrdering::SeqCst) + 1;
                                most.fetch_max(now, StdOrdering::SeqCst);
                                rt::thread::yield_now();
                                *n += 1;
                                inside.fetch_sub(1, StdOrdering::SeqCst);
                            });
                        } else {
                            counter.increment();
                        }
                        done += 1;
                        progress.tick();
                    }
                    done
                })
            })
            .collect();
        let mut completed = 0;
        for (i, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(done) => completed += done,
                Err(_) => {
                    return Err(Violation::new("no panic", format!("thread {i} panicked inside the counter")))
                }
            }
        }
        Ok(Run { total: counter.get(), completed, most_inside: most.load(StdOrdering::SeqCst) })
    }
}

fn scenario(property: Property, runtime: Runtime) -> String {
    let (threads, each) = property.shape(runtime);
    format!("{}{}", Shape { threads, each }, suffix(property))
}

fn with_scenario(
    property: Property,
    runtime: Runtime,
    result: Result<(), Found>,
) -> Result<(), Finding> {
    result.map_err(|f| (f, scenario(property, runtime)))
}

/// How many threads, each incrementing how many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Threads started.
    pub threads: usize,
    /// Increments per thread.
    pub each: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let increments = if self.each == 1 {
            "increment"
        } else {
            "increments"
        };
        write!(f, "{} threads x {} {increments}", self.threads, self.each)
    }
}

/// The shapes a property is checked on: the course's 7 x 1 for `seven_threads`,
/// otherwise drawn by proptest from `threads` x `each` (fixed seed, shrunk on failure).
fn shapes(
    property: Property,
    threads: std::ops::RangeInclusive<usize>,
    each: std::ops::RangeInclusive<usize>,
) -> proptest::strategy::BoxedStrategy<Shape> {
    use proptest::strategy::{Just, Strategy};
    match property {
        Property::SevenThreads => Just(Shape {
            threads: 7,
            each: 1,
        })
        .boxed(),
        _ => (threads, each)
            .prop_map(|(threads, each)| Shape { threads, each })
            .boxed(),
    }
}

fn suffix(property: Property) -> &'static str {
    if property == Property::MutualExclusion {
        ", through with_lock, yielding inside"
    } else {
        ""
    }
}

/// Checks `property` of `C` on std threads: 6 drawn shapes of up to 8 threads x 400
/// increments, 5 trials each, within the std time budget (a slow counter gets fewer
/// and shorter trials).
pub fn check_std<C: Counter>(property: Property) -> Result<(), Finding> {
    let probe = property == Property::MutualExclusion;
    let budget = std_rt::Budget::start();
    crate::runner::drawn(shapes(property, 2..=8, 1..=400), 6, |shape| {
        std_rt::explore(&budget, 5, move |progress| {
            let run = on_std::run_increments::<C>(shape.threads, shape.each, probe, progress)?;
            judge(property, shape.threads, shape.each, run)
        })
    })
    .map_err(|(found, shape)| (found, format!("{shape}{}", suffix(property))))
}

/// Checks `property` of `C` under shuttle: 8 drawn shapes of up to 4 threads x 3
/// increments, 25 random and 25 PCT iterations each.
pub fn check_shuttle<C: Counter>(property: Property) -> Result<(), Finding> {
    let probe = property == Property::MutualExclusion;
    let budget = shuttle_rt::Budget {
        random: 25,
        pct: 25,
        base_seed: 0,
    };
    crate::runner::drawn(shapes(property, 2..=4, 1..=3), 8, |shape| {
        shuttle_rt::explore(budget, move || {
            let run = on_shuttle::run_increments::<C>(
                shape.threads,
                shape.each,
                probe,
                &Progress::new(),
            )?;
            judge(property, shape.threads, shape.each, run)
        })
    })
    .map_err(|(found, shape)| (found, format!("{shape}{}", suffix(property))))
}

/// Checks `property` of `C` under loom (two threads, exhaustive).
pub fn check_loom<C: Counter>(property: Property) -> Result<(), Finding> {
    let (threads, each) = property.shape(Runtime::Loom);
    let probe = property == Property::MutualExclusion;
    crate::isolate::note(&scenario(property, Runtime::Loom), None);
    let result = loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
        let run = on_loom::run_increments::<C>(threads, each, probe, &Progress::new())?;
        judge(property, threads, each, run)
    });
    with_scenario(property, Runtime::Loom, result)
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident, $runtime:expr) => {{
        use crate::must_pass::counter::$rt as must;
        use crate::mutants::counter::$rt as m;
        use racecourse_impl::thread::counter::$rt as reference;
        let on_loom = $runtime == Runtime::Loom;
        vec![
            Implementation {
                exercise: NAME,
                name: "locked",
                role: Role::Reference,
                check: |p| $check::<reference::Locked>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "spin_lock",
                role: Role::MustPass,
                check: |p| $check::<must::SpinLock>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "condvar_lock",
                role: Role::MustPass,
                check: |p| $check::<must::CondvarLock>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lost_update",
                role: Role::Mutant {
                    must_fail: if on_loom {
                        &["no_lost_update", "mutual_exclusion"]
                    } else {
                        &["seven_threads", "no_lost_update", "mutual_exclusion"]
                    },
                },
                check: |p| $check::<m::LostUpdate>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "atomic_load_store",
                role: Role::Mutant {
                    must_fail: if on_loom {
                        &["no_lost_update", "mutual_exclusion"]
                    } else {
                        &["seven_threads", "no_lost_update", "mutual_exclusion"]
                    },
                },
                check: |p| $check::<m::AtomicLoadStore>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "get_then_set",
                role: Role::Mutant {
                    must_fail: &["no_lost_update"],
                },
                check: |p| $check::<m::GetThenSet>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "striped",
                role: Role::Mutant {
                    must_fail: &["mutual_exclusion"],
                },
                check: |p| $check::<m::Striped>(Property::named(p)),
            },
        ]
    }};
}

/// The counter's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std, Runtime::Std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle, Runtime::Shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom, Runtime::Loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 counter tests for one or more implementations, named
/// `counter::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::counter! {
///     mine => my_crate::counter { counter: Locked },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes (racecourse's own tests
/// keep loom and shuttle in separate binaries); `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! counter {
    (not_attempted) => {
        $crate::__not_attempted!(counter);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { counter: $ty:ident }),+ $(,)?) => {
        $crate::__counter_table! { counter [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::counter!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}
