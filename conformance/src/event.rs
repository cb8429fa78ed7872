//! E5 event suite: a flag that threads wait on until another thread sets it.
//!
//! Properties (see `EXERCISES.md`, E5 "Event"):
//! - `production_line`: the course's example, assembly (threads in `wait`) never starts
//!   before manufacture (a thread that makes the parts, then calls `set`) finished, and
//!   sees every part it made;
//! - `wakes_every_waiter`: one `set` wakes every waiting thread;
//! - `clear_resets`: after `clear` the event is not set, and a `wait` that starts then
//!   returns only after the next `set`;
//! - `wait_timeout`: `wait_timeout` returns false when nothing sets the event and true
//!   once it is set. Real threads only: the model checkers have no time (the facade's
//!   `Condvar::wait_timeout` never times out under loom or shuttle). Only return
//!   values are judged, never a duration.
//!
//! A waiter that never wakes is a deadlock under loom and shuttle, reported with what
//! it means for the property; on real threads it is a stall.

use std::fmt;
use std::time::Duration;

use proptest::strategy::{BoxedStrategy, Strategy};
use racecourse_spec::event::Event;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "event";

// The model checkers have no time: `wait_timeout` is checked on real threads only.
properties! { $ __event_table;
    /// The production line: assembly (threads in `wait`) never starts before
    /// manufacture (a thread that makes the parts, then calls `set`) finished, and
    /// sees every part made.
    ProductionLine => production_line [std shuttle loom],
    /// One `set` wakes every waiting thread, not one of them.
    WakesEveryWaiter => wakes_every_waiter [std shuttle loom],
    /// `clear` resets: `is_set` is false after it, and a `wait` that starts after it
    /// returns only after the next `set`.
    ClearResets => clear_resets [std shuttle loom],
    /// `wait_timeout` returns false when nothing sets the event and true once it is set
    /// (return values only, never a duration).
    WaitTimeout => wait_timeout [std],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "an event that threads wait on",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "event",
        bound: "racecourse_spec::event::Event",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The parts the manufacturer makes before it sets the event.
pub const PARTS: u32 = 3;

/// The timeout of a `wait_timeout` that must time out: short, since only the return
/// value is judged.
pub const SHORT: Duration = Duration::from_millis(1);

/// The timeout of a `wait_timeout` that must see a `set`: far longer than the std
/// runner's stall window, so a waiter that misses the `set` is found as a stall and a
/// `false` return can only be wrong.
pub const LONG: Duration = Duration::from_secs(600);

/// One scenario of a property: how many threads wait on the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The property the scenario checks.
    pub property: Property,
    /// Threads that wait on the event.
    pub waiters: usize,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.waiters;
        // "1 thread waits", "2 threads wait".
        let (s, verb_s) = if n == 1 { ("", "s") } else { ("s", "") };
        match self.property {
            Property::ProductionLine => write!(
                f,
                "a manufacturer makes {PARTS} parts, then sets the event; {n} assembler{s} wait{verb_s} on it, then count{verb_s} the parts"
            ),
            Property::WakesEveryWaiter => write!(
                f,
                "{n} thread{s} wait{verb_s} on the event; the main thread sets it once"
            ),
            Property::ClearResets => write!(
                f,
                "set, clear and is_set on a new event; then {n} thread{s} wait{verb_s} while the main thread sets it again"
            ),
            Property::WaitTimeout => write!(
                f,
                "wait_timeout({SHORT:?}) on a new event, after set and after clear; then {n} thread{s} in wait_timeout({LONG:?}) while the main thread sets it"
            ),
        }
    }
}

impl Property {
    /// The scenario explored under loom, and its bounds: exhaustive for two threads,
    /// preemption-bounded for the two waiters beside the main thread that sets.
    fn loom_scenario(self) -> (Scenario, loom_rt::Bounds) {
        let (waiters, bounds) = match self {
            Property::WakesEveryWaiter => (2, loom_rt::Bounds::BOUNDED),
            _ => (1, loom_rt::Bounds::EXHAUSTIVE),
        };
        let scenario = Scenario {
            property: self,
            waiters,
        };
        (scenario, bounds)
    }

    /// Scenarios drawn by proptest (fixed seed, shrunk on failure) on std and shuttle.
    fn scenarios(self, waiters: std::ops::RangeInclusive<usize>) -> BoxedStrategy<Scenario> {
        let (lo, hi) = (*waiters.start(), *waiters.end());
        // Waking every waiter takes two of them at least.
        let lo = if self == Property::WakesEveryWaiter {
            lo.max(2)
        } else {
            lo
        };
        (lo..=hi.max(lo))
            .prop_map(move |waiters| Scenario {
                property: self,
                waiters,
            })
            .boxed()
    }

    /// What a deadlock (every thread blocked) means in this property's scenario.
    fn on_deadlock(self) -> Violation {
        match self {
            Property::ProductionLine => Violation::new(
                "the assembly to wake once the manufacturer set the event",
                "every thread was blocked: an assembler slept on in wait although the event was set (a lost wake-up)",
            ),
            Property::WakesEveryWaiter => Violation::new(
                "one set to wake every waiting thread",
                "every thread was blocked after the set: a waiter slept on in wait although the event was set (set must wake every waiter, and a wait must not miss a set)",
            ),
            Property::ClearResets => Violation::new(
                "a wait to end when the event is set again after clear",
                "every thread was blocked: a waiter slept on in wait although the event was set again (a lost wake-up)",
            ),
            Property::WaitTimeout => Violation::new(
                "every wait_timeout to return",
                "every thread was blocked in wait_timeout",
            ),
        }
        .of_kind(Kind::Deadlock)
    }
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering as StdOrdering};
    use std::sync::Arc;
    use crate::runner::Progress;

    /// The parts the manufacturer makes: written before `set`, read after `wait`.
    /// Under loom the cell is tracked, so a read that `wait` does not order after the
    /// write is reported as a race.
    struct Parts(rt::cell::UnsafeCell<u32>);

    // SAFETY: the manufacturer writes the cell before it calls `set`; assemblers read
    // it only after `wait` returned and they saw the manufacture finished, so an event
    // that keeps its contract orders every read after the write. An event that breaks
    // it only runs under the model checkers: loom reports the race, shuttle runs one
    // thread at a time.
    unsafe impl Sync for Parts {}

    /// Joins `handles`, naming the thread that panicked (`what` describes them).
    fn join_all(
        handles: Vec<rt::thread::JoinHandle<Result<(), Violation>>>,
        what: &str,
    ) -> Result<(), Violation> {
        let mut first = Ok(());
        for (i, h) in handles.into_iter().enumerate() {
            let result = h.join().unwrap_or_else(|_| {
                Err(Violation::new("no panic", format!("{what} {i} panicked in the event")))
            });
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Runs one scenario of `scenario.property` on `E` and judges it.
    pub fn run<E: Event>(scenario: Scenario, progress: &Progress) -> Result<(), Violation> {
        match scenario.property {
            Property::ProductionLine => production_line::<E>(scenario.waiters, progress),
            Property::WakesEveryWaiter => wakes_every_waiter::<E>(scenario.waiters, progress),
            Property::ClearResets => clear_resets::<E>(scenario.waiters, progress),
            Property::WaitTimeout => wait_timeout::<E>(scenario.waiters, progress),
        }
    }

    /// Assemblers wait on the event and then count the parts; the manufacturer makes
    /// them, notes that manufacture finished, and sets the event. The note is a std
    /// atomic, invisible to the model checkers: it adds no interleavings.
    fn production_line<E: Event>(assemblers: usize, progress: &Progress) -> Result<(), Violation> {
        let event = rt::sync::Arc::new(E::new());
        let parts = rt::sync::Arc::new(Parts(rt::cell::UnsafeCell::new(0)));
        let finished = Arc::new(StdAtomicBool::new(false));
        // Assemblers first: a model checker that runs threads in order then reaches
        // an assembler's wait before the set.
        let mut handles: Vec<_> = (0..assemblers)
            .map(|i| {
                let event = rt::sync::Arc::clone(&event);
                let parts = rt::sync::Arc::clone(&parts);
                let finished = Arc::clone(&finished);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    event.wait();
                    if !finished.load(StdOrdering::SeqCst) {
                        return Err(Violation::new(
                            "assembly to start only after manufacture finished and set the event",
                            format!("assembler {i} returned from wait before the manufacturer set the event"),
                        ));
                    }
                    // SAFETY: see `Parts`: read after `wait`, which orders it after
                    // the manufacturer's write (loom checks that it does).
                    let seen = parts.0.with(|p| unsafe { *p });
                    progress.tick();
                    if seen == PARTS {
                        Ok(())
                    } else {
                        Err(Violation::new(
                            format!("the assembly to see the {PARTS} parts made before set"),
                            format!("assembler {i} saw {seen} parts after wait returned"),
                        ))
                    }
                })
            })
            .collect();
        {
            let event = rt::sync::Arc::clone(&event);
            let parts = rt::sync::Arc::clone(&parts);
            let finished = Arc::clone(&finished);
            let progress = progress.clone();
            handles.push(rt::thread::spawn(move || {
                // SAFETY: see `Parts`: the one write, before `set`.
                parts.0.with_mut(|p| unsafe { *p = PARTS });
                finished.store(true, StdOrdering::SeqCst);
                event.set();
                progress.tick();
                Ok(())
            }));
        }
        join_all(handles, "thread")
    }

    /// `waiters` threads wait; the main thread sets the event once and joins them.
    fn wakes_every_waiter<E: Event>(waiters: usize, progress: &Progress) -> Result<(), Violation> {
        let event = rt::sync::Arc::new(E::new());
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let event = rt::sync::Arc::clone(&event);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    event.wait();
                    progress.tick();
                    Ok(())
                })
            })
            .collect();
        event.set();
        progress.tick();
        join_all(handles, "waiter")
    }

    /// `set`, `clear` and `is_set` in one thread; then waiters that start after the
    /// `clear` must stay in `wait` until the main thread sets the event again.
    fn clear_resets<E: Event>(waiters: usize, progress: &Progress) -> Result<(), Violation> {
        let event = rt::sync::Arc::new(E::new());
        if event.is_set() {
            return Err(Violation::new("a new event not to be set", "is_set() returned true on a new event"));
        }
        event.set();
        if !event.is_set() {
            return Err(Violation::new("is_set() to be true after set()", "is_set() returned false after set()"));
        }
        event.clear();
        if event.is_set() {
            return Err(Violation::new(
                "clear() to reset the event",
                "is_set() returned true after set() then clear()",
            ));
        }
        progress.tick();
        let set_again = Arc::new(StdAtomicBool::new(false));
        let handles: Vec<_> = (0..waiters)
            .map(|i| {
                let event = rt::sync::Arc::clone(&event);
                let set_again = Arc::clone(&set_again);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    event.wait();
                    progress.tick();
                    if set_again.load(StdOrdering::SeqCst) {
                        Ok(())
                    } else {
                        Err(Violation::new(
                            "a wait that starts after clear() to return only after the next set()",
                            format!("waiter {i} returned from wait although the event was cleared and not set again"),
                        ))
                    }
                })
            })
            .collect();
        // A schedule point before the note: the model checkers switch threads only at
        // one, and the note is invisible to them. Without it the main thread would
        // note "set again" before any waiter ran, and a wait that returns at once
        // would go unseen.
        rt::thread::yield_now();
        set_again.store(true, StdOrdering::SeqCst);
        event.set();
        progress.tick();
        join_all(handles, "waiter")
    }

    /// `wait_timeout` that must time out (a new event, a cleared one), that must not (a
    /// set event), and `waiters` threads in a long `wait_timeout` that a `set` ends.
    /// Only return values are judged.
    fn wait_timeout<E: Event>(waiters: usize, progress: &Progress) -> Result<(), Violation> {
        let event = rt::sync::Arc::new(E::new());
        if event.wait_timeout(SHORT) {
            return Err(Violation::new(
                "wait_timeout to return false when nothing sets the event",
                format!("wait_timeout({SHORT:?}) returned true on a new event"),
            ));
        }
        progress.tick();
        event.set();
        if !event.wait_timeout(SHORT) {
            return Err(Violation::new(
                "wait_timeout to return true on a set event",
                format!("wait_timeout({SHORT:?}) returned false after set()"),
            ));
        }
        progress.tick();
        event.clear();
        if event.wait_timeout(SHORT) {
            return Err(Violation::new(
                "wait_timeout to return false when nothing sets the event",
                format!("wait_timeout({SHORT:?}) returned true after set() then clear()"),
            ));
        }
        progress.tick();
        let handles: Vec<_> = (0..waiters)
            .map(|i| {
                let event = rt::sync::Arc::clone(&event);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let woken = event.wait_timeout(LONG);
                    progress.tick();
                    if woken {
                        Ok(())
                    } else {
                        Err(Violation::new(
                            "wait_timeout to return true once the event is set",
                            format!("waiter {i}'s wait_timeout({LONG:?}) returned false although the event was set while it waited, long before its timeout"),
                        ))
                    }
                })
            })
            .collect();
        event.set();
        progress.tick();
        join_all(handles, "waiter")
    }
}

/// Checks `property` of `E` on std threads: 4 drawn scenarios of up to 4 waiters, 10
/// trials each, within the std time budget.
pub fn check_std<E: Event>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    crate::runner::drawn(property.scenarios(1..=4), 4, |scenario| {
        std_rt::explore(&budget, 10, move |progress| {
            on_std::run::<E>(scenario, progress)
        })
    })
}

/// Checks `property` of `E` under shuttle: 3 drawn scenarios of up to 3 waiters, 50
/// random and 50 PCT iterations each.
pub fn check_shuttle<E: Event>(property: Property) -> Result<(), Finding> {
    assert!(
        property != Property::WaitTimeout,
        "wait_timeout is checked on real threads only"
    );
    let budget = shuttle_rt::Budget {
        random: 50,
        pct: 50,
        base_seed: 0,
    };
    crate::runner::drawn(property.scenarios(1..=3), 3, |scenario| {
        shuttle_rt::explore(budget, move || {
            on_shuttle::run::<E>(scenario, &Progress::new())
        })
        .map_err(|found| found.deadlock_means(property.on_deadlock()))
    })
}

/// Checks `property` of `E` under loom: one scenario, exhaustive for one waiter and
/// the setter, preemption-bounded for two waiters.
pub fn check_loom<E: Event>(property: Property) -> Result<(), Finding> {
    assert!(
        property != Property::WaitTimeout,
        "wait_timeout is checked on real threads only"
    );
    let (scenario, bounds) = property.loom_scenario();
    // loom aborts the process on a deadlock: say first what one would mean.
    crate::isolate::note(&scenario.to_string(), Some(property.on_deadlock()));
    loom_rt::explore(bounds, move || {
        on_loom::run::<E>(scenario, &Progress::new())
    })
    .map_err(|found| {
        (
            found.deadlock_means(property.on_deadlock()),
            scenario.to_string(),
        )
    })
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::event::$rt as must;
        use crate::mutants::event::$rt as m;
        use racecourse_impl::thread::event::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "flag",
                role: Role::Reference,
                check: |p| $check::<reference::Flag>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "atomic_flag",
                role: Role::MustPass,
                check: |p| $check::<must::AtomicFlag>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "generation",
                role: Role::MustPass,
                check: |p| $check::<must::Generation>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "wakes_one",
                role: Role::Mutant {
                    must_fail: &["wakes_every_waiter"],
                },
                check: |p| $check::<m::WakesOne>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "flag_outside_lock",
                role: Role::Mutant {
                    must_fail: &["production_line", "wakes_every_waiter", "clear_resets"],
                },
                check: |p| $check::<m::FlagOutsideLock>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "returns_at_once",
                role: Role::Mutant {
                    must_fail: &["production_line", "clear_resets"],
                },
                check: |p| $check::<m::ReturnsAtOnce>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "clear_does_nothing",
                role: Role::Mutant {
                    must_fail: &["clear_resets", "wait_timeout"],
                },
                check: |p| $check::<m::ClearDoesNothing>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "timeout_says_set",
                role: Role::Mutant {
                    must_fail: &["wait_timeout"],
                },
                check: |p| $check::<m::TimeoutSaysSet>(Property::named(p)),
            },
        ]
    }};
}

/// The event's implementations (reference, must-pass, mutants) for `runtime`.
///
/// `wait_timeout` is checked on std alone, so the std kill matrix holds the mutants
/// declared for it: its checks are single-threaded up to the first wrong return value,
/// so no race decides them.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 event tests for one or more implementations, named
/// `event::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::event! {
///     mine => my_crate::event { event: Flag },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes (racecourse's own tests
/// keep loom and shuttle in separate binaries); `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! event {
    (not_attempted) => {
        $crate::__not_attempted!(event);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { event: $ty:ident }),+ $(,)?) => {
        $crate::__event_table! { event [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::event!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_say_what_runs() {
        let (s, _) = Property::ProductionLine.loom_scenario();
        assert_eq!(
            s.to_string(),
            "a manufacturer makes 3 parts, then sets the event; 1 assembler waits on it, then counts the parts"
        );
    }
}
