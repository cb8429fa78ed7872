//! E5 condition suite: a bounded buffer shared by producers and consumers.
//!
//! Properties (see `EXERCISES.md`, E5 "Condition"):
//! - `exactly_once`: every item put is taken exactly once;
//! - `no_lost_wakeup`: no producer or consumer sleeps on while it could proceed, so
//!   every run ends (producers and consumers on a buffer of capacity 1, where a
//!   notification that reaches the wrong kind of waiter leaves the others asleep);
//! - `capacity`: the buffer never holds more than its capacity.
//!
//! Scenarios: P producers each put their own numbered items, C consumers take their
//! share; the last consumer runs on the calling thread (one thread fewer for loom).
//! What the buffer held is observed from outside: after each `put` returns, the puts
//! returned so far minus the takes begun so far is a lower bound of the items inside.
//! A run that deadlocks is found by loom and shuttle, and reported with what it means
//! here (a lost wake-up); on real threads it is a stall.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use proptest::strategy::{BoxedStrategy, Strategy};
use racecourse_spec::condition::BoundedBuffer;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "condition";

properties! { $ __condition_table;
    /// Every item put is taken exactly once (P producers, C consumers).
    ExactlyOnce => exactly_once [std shuttle loom],
    /// No producer or consumer sleeps on while it could proceed: every run ends (2
    /// producers and 2 consumers on a buffer of capacity 1).
    NoLostWakeup => no_lost_wakeup [std shuttle loom],
    /// The buffer never holds more than its capacity (puts returned minus takes begun,
    /// after every put).
    Capacity => capacity [std shuttle loom],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "a bounded buffer with a condition variable",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "buffer",
        bound: "racecourse_spec::condition::BoundedBuffer",
    }],
    implementations,
    snapshots,
};

/// Producers, consumers and the buffer they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Producer threads.
    pub producers: usize,
    /// Items each producer puts: producer `p` puts `p * items + 1 ..= (p + 1) * items`.
    pub items: usize,
    /// Consumer threads (the last one is the calling thread); they share the items
    /// out as evenly as they go, the first ones taking one more.
    pub consumers: usize,
    /// The buffer's capacity.
    pub capacity: usize,
}

impl Shape {
    /// Items put in all.
    fn total(&self) -> usize {
        self.producers * self.items
    }

    /// How many items consumer `c` takes.
    fn quota(&self, c: usize) -> usize {
        let total = self.total();
        total / self.consumers + usize::from(c < total % self.consumers)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &'static str, many: &'static str| {
            if n == 1 {
                one
            } else {
                many
            }
        };
        write!(
            f,
            "{} {} x {} {}, {} {}, capacity {}",
            self.producers,
            plural(self.producers, "producer", "producers"),
            self.items,
            plural(self.items, "item", "items"),
            self.consumers,
            plural(self.consumers, "consumer", "consumers"),
            self.capacity
        )
    }
}

impl Property {
    /// The scenarios explored under loom, in order, each with its bounds. Four threads
    /// (2 producers and 2 consumers) get one preemption; three threads get two: the
    /// deeper search on the smaller shape, the wider shape on the shallower search,
    /// for a fraction of the executions 2 x 2 with two preemptions would cost (15,000
    /// for `no_lost_wakeup` alone, against 2,000 for both scenarios here).
    fn loom_scenarios(self) -> &'static [(Shape, loom_rt::Bounds)] {
        const ONE_PREEMPTION: loom_rt::Bounds = loom_rt::Bounds {
            preemptions: Some(1),
        };
        match self {
            // Room for every item: producers never wait, so these scenarios are about
            // consumers alone (two of them competing for each item).
            Property::ExactlyOnce => &[
                (
                    Shape {
                        producers: 2,
                        items: 1,
                        consumers: 2,
                        capacity: 2,
                    },
                    ONE_PREEMPTION,
                ),
                (
                    Shape {
                        producers: 1,
                        items: 2,
                        consumers: 2,
                        capacity: 2,
                    },
                    loom_rt::Bounds::BOUNDED,
                ),
            ],
            // Both kinds of waiter at once: a consumer and a producer can sleep side
            // by side on one condition variable (a producer waits for room while a
            // consumer waits for an item: the wrong one woken leaves both asleep).
            Property::NoLostWakeup => &[
                (
                    Shape {
                        producers: 2,
                        items: 1,
                        consumers: 2,
                        capacity: 1,
                    },
                    ONE_PREEMPTION,
                ),
                (
                    Shape {
                        producers: 1,
                        items: 2,
                        consumers: 2,
                        capacity: 1,
                    },
                    loom_rt::Bounds::BOUNDED,
                ),
            ],
            // The consumer (the calling thread) may start late: the producers fill
            // the buffer first. An overfull buffer needs no preemption at all, only
            // that order.
            Property::Capacity => &[(
                Shape {
                    producers: 2,
                    items: 1,
                    consumers: 1,
                    capacity: 1,
                },
                loom_rt::Bounds::BOUNDED,
            )],
        }
    }

    /// Shapes drawn by proptest (fixed seed, shrunk on failure) on std and shuttle.
    fn shapes(
        self,
        producers: std::ops::RangeInclusive<usize>,
        items: std::ops::RangeInclusive<usize>,
        consumers: std::ops::RangeInclusive<usize>,
        capacity: std::ops::RangeInclusive<usize>,
    ) -> BoxedStrategy<Shape> {
        (producers, items, consumers, capacity)
            .prop_map(|(producers, items, consumers, capacity)| Shape {
                producers,
                items,
                consumers,
                capacity,
            })
            .boxed()
    }
}

/// What a deadlock (every thread blocked) means in every scenario here.
fn on_deadlock() -> Violation {
    Violation::new(
        "every producer and consumer to finish: a put wakes a consumer waiting for an item, a take wakes a producer waiting for room",
        "every thread was blocked with puts or takes left to do: a consumer slept while items were ready, or a producer while there was room (a lost wake-up)",
    )
    .of_kind(Kind::Deadlock)
}

/// What one run of a shape did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// Every item put, in no particular order.
    pub put: Vec<u32>,
    /// The items each consumer took, in the order it took them.
    pub taken: Vec<Vec<u32>>,
    /// The most items seen in the buffer at once, from outside: after some put
    /// returned, `.0` puts had returned and `.1` takes had begun.
    pub fullest: (usize, usize),
}

impl Run {
    /// The lower bound of the items the buffer held at its fullest.
    fn most_held(&self) -> usize {
        self.fullest.0.saturating_sub(self.fullest.1)
    }
}

/// "once", "twice", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

/// Judges one run against one property.
fn judge(property: Property, shape: Shape, run: &Run) -> Result<(), Violation> {
    match property {
        Property::ExactlyOnce => {
            // item -> (times put, times taken)
            let mut counts: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
            for &x in &run.put {
                counts.entry(x).or_default().0 += 1;
            }
            for &x in run.taken.iter().flatten() {
                counts.entry(x).or_default().1 += 1;
            }
            match counts.into_iter().find(|&(_, (p, t))| p != t) {
                None => Ok(()),
                Some((x, (0, t))) => Err(Violation::new(
                    "every item taken to be one that was put",
                    format!("item {x} was taken {} but never put", times(t)),
                )),
                Some((x, (p, 0))) => Err(Violation::new(
                    "every item put to be taken exactly once",
                    format!("item {x} was put {} but never taken", times(p)),
                )),
                Some((x, (p, t))) => Err(Violation::new(
                    "every item put to be taken exactly once",
                    format!("item {x} was put {} and taken {}", times(p), times(t)),
                )),
            }
        }
        Property::Capacity => {
            let (returned, begun) = run.fullest;
            let held = run.most_held();
            if held <= shape.capacity {
                Ok(())
            } else {
                Err(Violation::new(
                    format!("the buffer to hold at most {} items", shape.capacity),
                    format!(
                        "when {returned} puts had returned and {begun} takes had begun, the buffer held at least {held} items"
                    ),
                ))
            }
        }
        // Reaching a verdict at all is the property: every thread finished.
        Property::NoLostWakeup => Ok(()),
    }
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use std::sync::Mutex as StdMutex;
    use std::sync::Arc;
    use crate::runner::Progress;

    /// What the threads of a run count, in std atomics invisible to the model
    /// checkers (they add no interleavings).
    #[derive(Debug, Default)]
    struct Counts {
        /// Puts that returned.
        puts_returned: StdAtomicUsize,
        /// Takes that were called (begun, returned or not).
        takes_begun: StdAtomicUsize,
        /// Items the producers put of their own (not the last producer's make-up).
        produced: StdAtomicUsize,
        /// Producers done with their own items.
        finished: StdAtomicUsize,
        /// (puts returned, takes begun) when the lower bound was highest.
        fullest: StdMutex<(usize, usize)>,
    }

    impl Counts {
        /// After a put returned: the items in the buffer are at least the puts
        /// returned minus the takes begun.
        fn put_returned(&self) {
            let returned = self.puts_returned.fetch_add(1, StdOrdering::SeqCst) + 1;
            let begun = self.takes_begun.load(StdOrdering::SeqCst);
            let mut fullest = self.fullest.lock().unwrap_or_else(|p| p.into_inner());
            if returned.saturating_sub(begun) > fullest.0.saturating_sub(fullest.1) {
                *fullest = (returned, begun);
            }
        }
    }

    /// Takes `quota` items from `buffer`.
    fn consume<B: BoundedBuffer>(buffer: &B, quota: usize, counts: &Counts, progress: &Progress) -> Vec<u32> {
        (0..quota)
            .map(|_| {
                counts.takes_begun.fetch_add(1, StdOrdering::SeqCst);
                let item = buffer.take();
                progress.tick();
                item
            })
            .collect()
    }

    /// Runs `shape` once on `B`.
    ///
    /// Producers stop early when the runner asks (a slow implementation on real
    /// threads); the last producer to finish then puts as many extra items as were not
    /// produced, so every consumer still gets its share and nobody waits forever.
    /// Under the model checkers nobody asks, and there are no extra items.
    pub fn run<B: BoundedBuffer>(shape: Shape, progress: &Progress) -> Result<Run, Violation> {
        let buffer = rt::sync::Arc::new(B::with_capacity(shape.capacity));
        let counts = Arc::new(Counts::default());
        let total = shape.total();
        let producers: Vec<_> = (0..shape.producers)
            .map(|p| {
                let buffer = rt::sync::Arc::clone(&buffer);
                let counts = Arc::clone(&counts);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let mut put = Vec::new();
                    let mut put_one = |item: u32| {
                        buffer.put(item);
                        put.push(item);
                        counts.put_returned();
                        progress.tick();
                    };
                    let mut own = 0;
                    for j in 0..shape.items {
                        if progress.should_stop() {
                            break;
                        }
                        put_one((p * shape.items + j + 1) as u32);
                        own += 1;
                    }
                    counts.produced.fetch_add(own, StdOrdering::SeqCst);
                    if counts.finished.fetch_add(1, StdOrdering::SeqCst) + 1 == shape.producers {
                        let missing = total - counts.produced.load(StdOrdering::SeqCst);
                        for k in 0..missing {
                            put_one((total + k + 1) as u32);
                        }
                    }
                    put
                })
            })
            .collect();
        let consumers: Vec<_> = (0..shape.consumers - 1)
            .map(|c| {
                let buffer = rt::sync::Arc::clone(&buffer);
                let counts = Arc::clone(&counts);
                let progress = progress.clone();
                rt::thread::spawn(move || consume(&*buffer, shape.quota(c), &counts, &progress))
            })
            .collect();
        // A schedule point before the calling thread's first take, which it notes
        // before any model checker sees it: the producers may fill the buffer first.
        rt::thread::yield_now();
        let last = consume(&*buffer, shape.quota(shape.consumers - 1), &counts, progress);
        let mut run = Run::default();
        for (p, h) in producers.into_iter().enumerate() {
            match h.join() {
                Ok(put) => run.put.extend(put),
                Err(_) => return Err(Violation::new("no panic", format!("producer {p} panicked in put"))),
            }
        }
        for (c, h) in consumers.into_iter().enumerate() {
            match h.join() {
                Ok(taken) => run.taken.push(taken),
                Err(_) => return Err(Violation::new("no panic", format!("consumer {c} panicked in take"))),
            }
        }
        run.taken.push(last);
        run.fullest = *counts.fullest.lock().unwrap_or_else(|p| p.into_inner());
        Ok(run)
    }
}

/// Checks `property` of `B` on std threads: 6 drawn shapes of up to 4 producers x 50
/// items and 4 consumers, 5 trials each, within the std time budget (a slow buffer
/// gets fewer and shorter trials).
pub fn check_std<B: BoundedBuffer>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    crate::runner::drawn(property.shapes(1..=4, 1..=50, 1..=4, 1..=4), 6, |shape| {
        std_rt::explore(&budget, 5, move |progress| {
            judge(property, shape, &on_std::run::<B>(shape, progress)?)
        })
    })
}

/// Checks `property` of `B` under shuttle: 6 drawn shapes of 2 or 3 producers x up to
/// 3 items, 1 to 3 consumers and a capacity of 1 or 2, 25 random and 25 PCT
/// iterations each.
pub fn check_shuttle<B: BoundedBuffer>(property: Property) -> Result<(), Finding> {
    let budget = shuttle_rt::Budget {
        random: 25,
        pct: 25,
        base_seed: 0,
    };
    crate::runner::drawn(property.shapes(2..=3, 1..=3, 1..=3, 1..=2), 6, |shape| {
        shuttle_rt::explore(budget, move || {
            judge(
                property,
                shape,
                &on_shuttle::run::<B>(shape, &Progress::new())?,
            )
        })
        .map_err(|found| found.deadlock_means(on_deadlock()))
    })
}

/// Checks `property` of `B` under loom, on each of its scenarios in turn (see
/// [`Property::loom_scenarios`]); the first violation found is the verdict.
pub fn check_loom<B: BoundedBuffer>(property: Property) -> Result<(), Finding> {
    for &(shape, bounds) in property.loom_scenarios() {
        // loom aborts the process on a deadlock: say first what one would mean.
        crate::isolate::note(&shape.to_string(), Some(on_deadlock()));
        loom_rt::explore(bounds, move || {
            judge(
                property,
                shape,
                &on_loom::run::<B>(shape, &Progress::new())?,
            )
        })
        .map_err(|found| (found.deadlock_means(on_deadlock()), shape.to_string()))?;
    }
    Ok(())
}

/// A final outcome: the items each consumer took, in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outcome(pub Vec<Vec<u32>>);

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (c, taken) in self.0.iter().enumerate() {
            if c > 0 {
                f.write_str(", ")?;
            }
            write!(f, "consumer {c} took {taken:?}")?;
        }
        Ok(())
    }
}

/// The outcomes the contract allows for `shape`: the items put, dealt out to the
/// consumers' shares in every order (a buffer may hand items out in any order).
pub fn allowed_outcomes(shape: Shape) -> BTreeSet<Outcome> {
    fn deal(
        shape: Shape,
        left: &mut Vec<u32>,
        taken: &mut Vec<Vec<u32>>,
        out: &mut BTreeSet<Outcome>,
    ) {
        let c = taken.len() - 1;
        if taken[c].len() == shape.quota(c) {
            if c + 1 == shape.consumers {
                out.insert(Outcome(taken.clone()));
                return;
            }
            taken.push(Vec::new());
            deal(shape, left, taken, out);
            taken.pop();
            return;
        }
        for i in 0..left.len() {
            let x = left.remove(i);
            taken[c].push(x);
            deal(shape, left, taken, out);
            taken[c].pop();
            left.insert(i, x);
        }
    }
    let mut items: Vec<u32> = (1..=shape.total() as u32).collect();
    let mut out = BTreeSet::new();
    deal(shape, &mut items, &mut vec![Vec::new()], &mut out);
    out
}

/// The shapes whose census is snapshotted: small enough for loom's exhaustive
/// exploration (two threads besides the calling one). Consumers that compete get room
/// for both items (the full buffer adds nothing to who takes what, and doubles the
/// executions: 40,590 against 20,693); the producers that compete share one slot, so
/// one census has a producer waiting for room.
pub fn census_shapes() -> [(&'static str, Shape); 2] {
    [
        (
            "one_producer_two_consumers",
            Shape {
                producers: 1,
                items: 2,
                consumers: 2,
                capacity: 2,
            },
        ),
        (
            "two_producers_one_consumer",
            Shape {
                producers: 2,
                items: 1,
                consumers: 1,
                capacity: 1,
            },
        ),
    ]
}

/// The census of `shape` on `B`: every outcome reached over every interleaving.
pub fn census_loom<B: BoundedBuffer>(
    shape: Shape,
) -> (crate::oracle::census::Census<Outcome>, Result<(), Found>) {
    use std::sync::{Arc, Mutex};
    let census = Arc::new(Mutex::new(crate::oracle::census::Census::default()));
    let sink = Arc::clone(&census);
    let result = loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
        let run = on_loom::run::<B>(shape, &Progress::new())?;
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .reached
            .insert(Outcome(run.taken));
        Ok(())
    });
    let mut census = census.lock().unwrap_or_else(|p| p.into_inner()).clone();
    census.allowed = allowed_outcomes(shape);
    (census, result)
}

/// The reference's snapshots: under loom, the census of each shape of
/// [`census_shapes`].
fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    use racecourse_impl::thread::condition::on_loom::Buffer;
    if runtime != Runtime::Loom {
        return Vec::new();
    }
    census_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let (census, result) = census_loom::<Buffer>(shape);
            if let Err(v) = result
                .map_err(|f| f.violation)
                .and_then(|()| census.verdict("every consumer to take its share"))
            {
                panic!("the reference's census of {shape}: {v}");
            }
            (
                format!("condition__census__{name}"),
                format!("scenario: {shape}\n\n{}", census.render()),
            )
        })
        .collect()
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::condition::$rt as must;
        use crate::mutants::condition::$rt as m;
        use racecourse_impl::thread::condition::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "buffer",
                role: Role::Reference,
                check: |p| $check::<reference::Buffer>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "two_condvars",
                role: Role::MustPass,
                check: |p| $check::<must::TwoCondvars>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "semaphores",
                role: Role::MustPass,
                check: |p| $check::<must::Semaphores>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "if_not_while",
                role: Role::Mutant {
                    must_fail: &["exactly_once", "no_lost_wakeup"],
                },
                check: |p| $check::<m::IfNotWhile>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "notify_one",
                role: Role::Mutant {
                    must_fail: &["no_lost_wakeup"],
                },
                check: |p| $check::<m::NotifyOne>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "state_after_notify",
                role: Role::Mutant {
                    must_fail: &["no_lost_wakeup"],
                },
                check: |p| $check::<m::StateAfterNotify>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "off_by_one_full",
                role: Role::Mutant {
                    must_fail: &["capacity"],
                },
                check: |p| $check::<m::OffByOneFull>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "peek_then_pop",
                role: Role::Mutant {
                    must_fail: &["exactly_once"],
                },
                check: |p| $check::<m::PeekThenPop>(Property::named(p)),
            },
        ]
    }};
}

/// The buffer's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 condition tests for one or more implementations, named
/// `condition::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::condition! {
///     mine => my_crate::condition { buffer: Buffer },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes (racecourse's own tests
/// keep loom and shuttle in separate binaries); `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! condition {
    (not_attempted) => {
        $crate::__not_attempted!(condition);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { buffer: $ty:ident }),+ $(,)?) => {
        $crate::__condition_table! { condition [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::condition!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_the_first_consumers_take_more() {
        let shape = Shape {
            producers: 2,
            items: 5,
            consumers: 3,
            capacity: 1,
        };
        let shares: Vec<usize> = (0..3).map(|c| shape.quota(c)).collect();
        assert_eq!(shares, [4, 3, 3]);
    }

    #[test]
    fn allowed_outcomes_deal_every_item_once() {
        let (_, shape) = census_shapes()[0];
        let allowed: Vec<String> = allowed_outcomes(shape)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            allowed,
            [
                "consumer 0 took [1], consumer 1 took [2]",
                "consumer 0 took [2], consumer 1 took [1]"
            ]
        );
    }

    #[test]
    fn a_duplicate_names_the_item() {
        let shape = Shape {
            producers: 2,
            items: 1,
            consumers: 2,
            capacity: 1,
        };
        let run = Run {
            put: vec![1, 2],
            taken: vec![vec![1], vec![1]],
            fullest: (1, 0),
        };
        let v = judge(Property::ExactlyOnce, shape, &run).unwrap_err();
        assert_eq!(v.seen, "item 1 was put once and taken twice");
        let run = Run {
            fullest: (2, 0),
            ..run
        };
        let v = judge(Property::Capacity, shape, &run).unwrap_err();
        assert_eq!(
            v.seen,
            "when 2 puts had returned and 0 takes had begun, the buffer held at least 2 items"
        );
    }
}
