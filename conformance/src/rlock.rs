//! E5 reentrant-lock suite: Python's `RLock`.
//!
//! Properties (see `EXERCISES.md`, E5 "RLock"):
//! - `reentrant`: a thread that holds the lock acquires it again at once, while
//!   another thread contends, and each of the owner's releases returns `Ok`; a plain
//!   lock deadlocks here, which loom and shuttle report as a deadlock;
//! - `mutual_exclusion`: no two threads hold the lock at once, counting a thread as
//!   inside from its first acquire to its *last* release (nested acquisitions, an
//!   in-critical-section count, yielding inside);
//! - `non_owner_release`: a release by a thread that does not hold the lock (it is
//!   free, or another thread holds it) returns `Err` and changes nothing.
//!
//! A scenario nests acquisitions the way Python code nests `with lock:` blocks: each
//! round is `acquire()` repeated `depth - 1` times, then `with_lock(..)` (the scoped
//! helper) innermost, then as many `release()` calls.

use std::fmt;
use std::sync::Arc;

use racecourse_spec::rlock::ReentrantLock;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "rlock";

properties! { $ __rlock_table;
    /// The owner acquires again at once while another thread contends, and each of
    /// its releases returns `Ok` (a plain lock deadlocks, reported as such).
    Reentrant => reentrant [std shuttle loom],
    /// No two threads hold the lock at once, from a thread's first acquire to its
    /// last release (nested acquisitions, an in-critical-section count, yielding
    /// inside).
    MutualExclusion => mutual_exclusion [std shuttle loom],
    /// A release by a thread that does not hold the lock (free, or held by another
    /// thread) returns `Err` and changes nothing.
    NonOwnerRelease => non_owner_release [std shuttle loom],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "a reentrant lock (Python's RLock)",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "lock",
        bound: "racecourse_spec::rlock::ReentrantLock",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// How many threads nest acquisitions, how deep, how many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Threads started.
    pub threads: usize,
    /// Acquisitions held at once by a thread in each round (at least 1).
    pub depth: usize,
    /// Rounds per thread.
    pub rounds: usize,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounds = if self.rounds == 1 { "round" } else { "rounds" };
        let calls = match self.depth - 1 {
            0 => "with_lock(..)".to_string(),
            1 => "acquire(), with_lock(..), release()".to_string(),
            n => format!("acquire() x {n}, with_lock(..), release() x {n}"),
        };
        write!(
            f,
            "{} threads x {} {rounds} of: {calls}, yielding inside",
            self.threads, self.rounds
        )
    }
}

impl Property {
    /// How deep threads nest their acquisitions: 3 to `deepest` for `reentrant` (so
    /// that a lock remembering one re-entry with a flag, not a count, shows), 1 to 2
    /// for `mutual_exclusion` (a second holder while the owner is still inside shows
    /// at depth 2; deeper nesting is `reentrant`'s business).
    fn depths(self, deepest: usize) -> std::ops::RangeInclusive<usize> {
        match self {
            Property::Reentrant => 3..=deepest,
            _ => 1..=2,
        }
    }

    /// The scenario under loom: two threads, one round, explored exhaustively; three
    /// deep for `reentrant`, two deep otherwise.
    fn loom_shape(self) -> Shape {
        Shape {
            threads: 2,
            depth: if self == Property::Reentrant { 3 } else { 2 },
            rounds: 1,
        }
    }

    /// How far loom explores [`Property::loom_shape`]: `reentrant` is about one
    /// thread's own count, which no preemption changes, so two preemptions are plenty
    /// (and keep a spinning waiter's schedules few); the others explore every
    /// interleaving.
    fn loom_bounds(self) -> loom_rt::Bounds {
        match self {
            Property::Reentrant => loom_rt::Bounds::BOUNDED,
            _ => loom_rt::Bounds::EXHAUSTIVE,
        }
    }
}

/// What one run of nested acquisitions saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// The most threads seen holding the lock at once.
    pub most_inside: usize,
    /// The first release by an owner that returned `Err`: (thread, which release of
    /// its round, counting from 1).
    pub refused: Option<(usize, usize)>,
}

/// Judges one run of nested acquisitions.
fn judge(property: Property, shape: Shape, run: &Run) -> Result<(), Violation> {
    match property {
        Property::Reentrant => match run.refused {
            Some((thread, nth)) => Err(Violation::new(
                "every release by the owner to return Ok",
                format!(
                    "thread {thread} held the lock {} deep, and its release number {nth} returned Err(NotOwner): the lock forgot that thread {thread} still held it",
                    shape.depth
                ),
            )),
            None => Ok(()),
        },
        Property::MutualExclusion if run.most_inside > 1 => Err(Violation::new(
            "at most one thread holding the lock, until the owner's last release",
            format!(
                "{} threads held the lock at once (each counted from its first acquire to its last release)",
                run.most_inside
            ),
        )),
        Property::MutualExclusion => Ok(()),
        Property::NonOwnerRelease => unreachable!("non_owner_release has its own scenario"),
    }
}

/// What a deadlock of nested acquisitions means.
fn stuck_owner() -> Violation {
    Violation::new(
        "the owner to acquire the lock again at once",
        "the threads deadlocked: a thread that held the lock waited in acquire() for the lock itself (a plain lock), so nobody could release it; or a thread waiting in acquire() was never woken after the owner's last release",
    )
    .of_kind(Kind::Deadlock)
}

/// What the non-owner scenario does, for reports.
const NON_OWNER_SCENARIO: &str = "main: release() on a free lock; thread 1: acquire(), then main: release() while thread 1 holds it; then thread 1: release() while main: acquire(), release()";

/// What a deadlock of the non-owner scenario means: main's refused release must not
/// have kept the lock from being freed by its owner.
fn stuck_after_refusal() -> Violation {
    Violation::new(
        "main's acquire() to return once thread 1 released the lock",
        "the threads deadlocked: main waited in acquire() after thread 1's release: the refused release by main left the lock held, or thread 1's release did not wake main",
    )
    .of_kind(Kind::Deadlock)
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use crate::runner::Progress;

    /// Runs `shape`: each thread, in each round, acquires `depth - 1` times, calls
    /// `with_lock` innermost, and releases `depth - 1` times, counting itself inside
    /// from its first acquire to just before its last release and yielding after every
    /// call. Each thread ticks `progress` after every round and stops early when asked.
    pub fn run_nested<L: ReentrantLock>(shape: Shape, progress: &Progress) -> Result<Run, Violation> {
        let lock = rt::sync::Arc::new(L::new());
        let inside = Arc::new(StdAtomicUsize::new(0));
        let most = Arc::new(StdAtomicUsize::new(0));
        let handles: Vec<_> = (0..shape.threads)
            .map(|thread| {
                let lock = rt::sync::Arc::clone(&lock);
                let inside = Arc::clone(&inside);
                let most = Arc::clone(&most);
                let progress = progress.clone();
                rt::thread::spawn(move || -> Option<(usize, usize)> {
                    let enter = || {
                        let now = inside.fetch_add(1, StdOrdering::SeqCst) + 1;
                        most.fetch_max(now, StdOrdering::SeqCst);
                    };
                    let leave = || {
                        inside.fetch_sub(1, StdOrdering::SeqCst);
                    };
                    for _ in 0..shape.rounds {
                        if progress.should_stop() {
                            break;
                        }
                        let outer = shape.depth - 1;
                        for i in 0..outer {
                            lock.acquire();
                            if i == 0 {
                                enter();
                            }
                            rt::thread::yield_now();
                        }
                        lock.with_lock(|| {
                            if outer == 0 {
                                enter();
                            }
                            rt::thread::yield_now();
                            if outer == 0 {
                                leave();
                            }
                        });
                        for i in 0..outer {
                            rt::thread::yield_now();
                            if i + 1 == outer {
                                leave();
                            }
                            if lock.release().is_err() {
                                return Some((thread, i + 1));
                            }
                        }
                        progress.tick();
                    }
                    None
                })
            })
            .collect();
        let mut refused = None;
        for (thread, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(r) => refused = refused.or(r),
                Err(payload) => return Err(crate::runner::panicked(format_args!("in thread {thread}"), payload)),
            }
        }
        Ok(Run { most_inside: most.load(StdOrdering::SeqCst), refused })
    }

    /// Runs the non-owner scenario ([`NON_OWNER_SCENARIO`]) and judges it: every
    /// release by a thread that does not hold the lock returns `Err`, every release by
    /// the owner `Ok`, and main gets the lock once thread 1 lets it go (the only race
    /// of the scenario, which gives the model checkers something to explore).
    pub fn run_non_owner<L: ReentrantLock>(progress: &Progress) -> Result<(), Violation> {
        let lock = rt::sync::Arc::new(L::new());
        if lock.release().is_ok() {
            return Err(Violation::new(
                "release() on a free lock to return Err(NotOwner)",
                "main released a lock that nobody held, and release() returned Ok",
            ));
        }
        progress.tick();
        // Both wait twice: once when thread 1 holds the lock, once when main has tried
        // its release.
        let meet = rt::sync::Arc::new(rt::sync::Barrier::new(2));
        let owner = {
            let lock = rt::sync::Arc::clone(&lock);
            let meet = rt::sync::Arc::clone(&meet);
            rt::thread::spawn(move || {
                lock.acquire();
                meet.wait();
                meet.wait();
                lock.release()
            })
        };
        meet.wait();
        let stolen = lock.release();
        meet.wait();
        // Races thread 1's release: main waits until thread 1 has let the lock go.
        lock.acquire();
        let mine = lock.release();
        let owners = match owner.join() {
            Ok(r) => r,
            Err(payload) => return Err(crate::runner::panicked("in thread 1", payload)),
        };
        if stolen.is_ok() {
            return Err(Violation::new(
                "release() by a thread that does not hold the lock to return Err(NotOwner)",
                "main released the lock while thread 1 held it, and release() returned Ok",
            ));
        }
        if owners.is_err() {
            return Err(Violation::new(
                "a failed release to change nothing",
                "after main's release was refused, thread 1's own release returned Err(NotOwner): the refused release took the lock from its owner",
            ));
        }
        if mine.is_err() {
            return Err(Violation::new(
                "the lock to work after refused releases",
                "main acquired the lock after thread 1 released it, and main's release returned Err(NotOwner)",
            ));
        }
        progress.tick();
        Ok(())
    }
}

/// The nested shapes a property is checked on, drawn by proptest (fixed seed, shrunk on
/// failure).
fn shapes(
    threads: std::ops::RangeInclusive<usize>,
    depth: std::ops::RangeInclusive<usize>,
    rounds: std::ops::RangeInclusive<usize>,
) -> impl proptest::strategy::Strategy<Value = Shape> {
    use proptest::strategy::Strategy;
    (threads, depth, rounds).prop_map(|(threads, depth, rounds)| Shape {
        threads,
        depth,
        rounds,
    })
}

/// Checks `property` of `L` on std threads: 6 drawn shapes of up to 6 threads x 200
/// rounds (3 to 5 deep for `reentrant`, 1 to 2 otherwise), 5 trials each within the
/// std time budget; the non-owner scenario 10 times.
pub fn check_std<L: ReentrantLock>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    if property == Property::NonOwnerRelease {
        return std_rt::explore(&budget, 10, on_std::run_non_owner::<L>)
            .map_err(|f| (f, NON_OWNER_SCENARIO.to_string()));
    }
    crate::runner::drawn(shapes(2..=6, property.depths(5), 1..=200), 6, |shape| {
        std_rt::explore(&budget, 5, move |progress| {
            judge(property, shape, &on_std::run_nested::<L>(shape, progress)?)
        })
    })
}

/// Checks `property` of `L` under shuttle: 6 drawn shapes of up to 3 threads x 2
/// rounds (3 to 4 deep for `reentrant`, 1 to 2 otherwise), 25 random and 25 PCT
/// iterations each; the non-owner scenario with the same budget.
pub fn check_shuttle<L: ReentrantLock>(property: Property) -> Result<(), Finding> {
    let budget = shuttle_rt::Budget {
        random: 25,
        pct: 25,
        base_seed: 0,
    };
    if property == Property::NonOwnerRelease {
        return shuttle_rt::explore(budget, || on_shuttle::run_non_owner::<L>(&Progress::new()))
            .map_err(|f| {
                let violation = crate::runner::deadlock_means(stuck_after_refusal(), f.violation);
                (Found { violation, ..f }, NON_OWNER_SCENARIO.to_string())
            });
    }
    crate::runner::drawn(shapes(2..=3, property.depths(4), 1..=2), 6, |shape| {
        shuttle_rt::explore(budget, move || {
            judge(
                property,
                shape,
                &on_shuttle::run_nested::<L>(shape, &Progress::new())?,
            )
        })
        .map_err(|f| f.deadlock_means(stuck_owner()))
    })
}

/// Checks `property` of `L` under loom: two threads, exhaustive (see
/// [`Property::loom_shape`]).
pub fn check_loom<L: ReentrantLock>(property: Property) -> Result<(), Finding> {
    if property == Property::NonOwnerRelease {
        crate::isolate::note(NON_OWNER_SCENARIO, Some(stuck_after_refusal()));
        return loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, || {
            on_loom::run_non_owner::<L>(&Progress::new())
        })
        .map_err(|f| {
            let violation = crate::runner::deadlock_means(stuck_after_refusal(), f.violation);
            (Found { violation, ..f }, NON_OWNER_SCENARIO.to_string())
        });
    }
    let shape = property.loom_shape();
    // loom aborts the process on a deadlock: say first what one would mean.
    crate::isolate::note(&shape.to_string(), Some(stuck_owner()));
    loom_rt::explore(property.loom_bounds(), move || {
        judge(
            property,
            shape,
            &on_loom::run_nested::<L>(shape, &Progress::new())?,
        )
    })
    .map_err(|f| (f.deadlock_means(stuck_owner()), shape.to_string()))
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::rlock::$rt as must;
        use crate::mutants::rlock::$rt as m;
        use racecourse_impl::thread::rlock::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "reentrant",
                role: Role::Reference,
                check: |p| $check::<reference::Reentrant>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "spin_owner",
                role: Role::MustPass,
                check: |p| $check::<must::SpinOwner>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "plain_lock",
                role: Role::Mutant {
                    must_fail: &["reentrant", "non_owner_release"],
                },
                check: |p| $check::<m::PlainLock>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "first_release_frees",
                role: Role::Mutant {
                    must_fail: &["reentrant", "mutual_exclusion"],
                },
                check: |p| $check::<m::FirstReleaseFrees>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "flag_not_count",
                role: Role::Mutant {
                    must_fail: &["reentrant"],
                },
                check: |p| $check::<m::FlagNotCount>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "any_thread_releases",
                role: Role::Mutant {
                    must_fail: &["non_owner_release"],
                },
                check: |p| $check::<m::AnyThreadReleases>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "panics_on_non_owner",
                role: Role::Mutant {
                    must_fail: &["non_owner_release"],
                },
                check: |p| $check::<m::PanicsOnNonOwner>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "if_not_while",
                role: Role::Mutant {
                    must_fail: &["mutual_exclusion"],
                },
                check: |p| $check::<m::IfNotWhile>(Property::named(p)),
            },
        ]
    }};
}

/// The reentrant lock's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 reentrant-lock tests for one or more implementations, named
/// `rlock::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::rlock! {
///     mine => my_crate::rlock { lock: MyRLock },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! rlock {
    (not_attempted) => {
        $crate::__not_attempted!(rlock);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { lock: $ty:ident }),+ $(,)?) => {
        $crate::__rlock_table! { rlock [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::rlock!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_reads_as_the_calls_it_makes() {
        assert_eq!(
            Property::MutualExclusion.loom_shape().to_string(),
            "2 threads x 1 round of: acquire(), with_lock(..), release(), yielding inside"
        );
    }
}
