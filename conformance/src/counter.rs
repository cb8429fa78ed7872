//! E5 lock suite: a counter incremented by many threads.
//!
//! Properties (see `EXERCISES.md`, E5 "Lock / counter"):
//! - `seven_threads`: the course's example, 7 threads each incrementing once, gives 7;
//! - `no_lost_update`: N threads x K increments give exactly N * K;
//! - `mutual_exclusion`: no two `with_lock` closures ever run at the same time,
//!   observed by an in-critical-section counter that yields inside the section.

use std::sync::Arc;

use racecourse_spec::counter::Counter;

use crate::report::Violation;
use crate::runner::Finding;
use crate::runner::{loom_rt, shuttle_rt, std_rt, Found, Runtime};

/// The exercise's name in test names and reports.
pub const EXERCISE: &str = "counter";

properties! {
    /// 7 threads x 1 increment = 7.
    SevenThreads => seven_threads,
    /// N x K increments = N * K.
    NoLostUpdate => no_lost_update,
    /// At most one closure inside the lock at a time.
    MutualExclusion => mutual_exclusion,
}

impl Property {
    /// The runtimes that check it: loom cannot model seven threads.
    pub fn runtimes(self) -> &'static [Runtime] {
        match self {
            Property::SevenThreads => &[Runtime::Std, Runtime::Shuttle],
            _ => &[Runtime::Std, Runtime::Shuttle, Runtime::Loom],
        }
    }

    /// Threads and increments per thread under loom (std and shuttle draw theirs).
    fn shape(self, runtime: Runtime) -> (usize, usize) {
        match (self, runtime) {
            (Property::SevenThreads, _) => (7, 1),
            _ => (2, 2),
        }
    }
}

/// Judges one run: the count, and whether two closures overlapped.
fn judge(
    property: Property,
    threads: usize,
    each: usize,
    total: u64,
    max_inside: usize,
) -> Result<(), Violation> {
    match property {
        Property::MutualExclusion if max_inside > 1 => Err(Violation::new(
            "at most one thread inside with_lock at a time",
            format!("{max_inside} threads were inside with_lock at once"),
        )),
        Property::MutualExclusion => Ok(()),
        _ => {
            let expected = (threads * each) as u64;
            if total == expected {
                Ok(())
            } else {
                Err(Violation::new(
                    format!("{threads} threads x {each} increments = {expected}"),
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

    /// Runs `threads` threads of `each` increments; with `probe`, each increment goes
    /// through `with_lock` with an in-critical-section count that yields inside the
    /// section. Returns the final count and the most closures seen inside at once.
    pub fn run_increments<C: Counter>(threads: usize, each: usize, probe: bool) -> Result<(u64, usize), Violation> {
        let counter = rt::sync::Arc::new(C::new());
        let inside = Arc::new(StdAtomicUsize::new(0));
        let most = Arc::new(StdAtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let counter = rt::sync::Arc::clone(&counter);
                let inside = Arc::clone(&inside);
                let most = Arc::clone(&most);
                rt::thread::spawn(move || {
                    for _ in 0..each {
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
                    }
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            if h.join().is_err() {
                return Err(Violation::new("no panic", format!("thread {i} panicked inside the counter")));
            }
        }
        Ok((counter.get(), most.load(StdOrdering::SeqCst)))
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
/// increments, 5 trials each.
pub fn check_std<C: Counter>(property: Property) -> Result<(), Finding> {
    let probe = property == Property::MutualExclusion;
    let trials = std_rt::Trials {
        count: 5,
        ..std_rt::Trials::DEFAULT
    };
    crate::runner::drawn(shapes(property, 2..=8, 1..=400), 6, |shape| {
        std_rt::explore(trials, move || {
            let (total, most) = on_std::run_increments::<C>(shape.threads, shape.each, probe)?;
            judge(property, shape.threads, shape.each, total, most)
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
            let (total, most) = on_shuttle::run_increments::<C>(shape.threads, shape.each, probe)?;
            judge(property, shape.threads, shape.each, total, most)
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
        let (total, most) = on_loom::run_increments::<C>(threads, each, probe)?;
        judge(property, threads, each, total, most)
    });
    with_scenario(property, Runtime::Loom, result)
}

/// The names of the properties checked on `runtime`.
pub fn properties_on(runtime: Runtime) -> Vec<&'static str> {
    Property::ALL
        .into_iter()
        .filter(|p| p.runtimes().contains(&runtime))
        .map(Property::name)
        .collect()
}

macro_rules! mutants_on {
    ($rt:ident, $check:ident, $runtime:expr) => {{
        use crate::kill_matrix::Mutant;
        use crate::mutants::counter::$rt as m;
        let on_loom = $runtime == Runtime::Loom;
        vec![
            Mutant {
                exercise: EXERCISE,
                name: "lost_update",
                must_fail: if on_loom {
                    &["no_lost_update", "mutual_exclusion"]
                } else {
                    &["seven_threads", "no_lost_update", "mutual_exclusion"]
                },
                check: |p| $check::<m::LostUpdate>(Property::named(p)),
            },
            Mutant {
                exercise: EXERCISE,
                name: "atomic_load_store",
                must_fail: if on_loom {
                    &["no_lost_update", "mutual_exclusion"]
                } else {
                    &["seven_threads", "no_lost_update", "mutual_exclusion"]
                },
                check: |p| $check::<m::AtomicLoadStore>(Property::named(p)),
            },
            Mutant {
                exercise: EXERCISE,
                name: "get_then_set",
                must_fail: &["no_lost_update"],
                check: |p| $check::<m::GetThenSet>(Property::named(p)),
            },
            Mutant {
                exercise: EXERCISE,
                name: "striped",
                must_fail: &["mutual_exclusion"],
                check: |p| $check::<m::Striped>(Property::named(p)),
            },
        ]
    }};
}

/// The counter mutants, instantiated for `runtime` (loom or shuttle).
pub fn mutants(runtime: Runtime) -> Vec<crate::kill_matrix::Mutant> {
    match runtime {
        Runtime::Loom => mutants_on!(on_loom, check_loom, Runtime::Loom),
        Runtime::Shuttle => mutants_on!(on_shuttle, check_shuttle, Runtime::Shuttle),
        other => panic!("counter mutants run under loom or shuttle, not {other}"),
    }
}
