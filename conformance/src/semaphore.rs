//! E5 semaphore suite: Python's `Semaphore` and `BoundedSemaphore`, one exercise with
//! two slots (`semaphore` and `bounded`).
//!
//! Properties (see `EXERCISES.md`, E5 "Semaphore(k)"), each checked on both slots
//! where it applies:
//! - `at_most_k`: never more than `k` threads hold a permit at once, with more than `k`
//!   threads contending (an in-section count, yielding inside);
//! - `rendezvous`: `k` holders are *reached*: threads that take a permit wait inside
//!   until `k` of them are inside at once, so a semaphore that admits only `k - 1`
//!   deadlocks the rendezvous, which loom and shuttle report as a deadlock;
//! - `extra_release`: a release beyond the initial value adds a permit to a plain
//!   semaphore (`Semaphore(0)`, `release()`, then `acquire()` returns) and is refused
//!   with `Err` by a bounded one: `n` threads that each acquire once and release twice,
//!   `r` rounds, get exactly `n * r` errors in every interleaving, which also holds a
//!   release that tests and increments under two acquisitions of its lock to account.
//!
//! The references' census of the rendezvous (every order of entries and exits, under
//! exhaustive loom) is snapshotted: `semaphore__census__*`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use racecourse_spec::semaphore::{BoundedSemaphore, Semaphore, TooManyReleases};

use crate::oracle::census::Census;
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "semaphore";

properties! { $ __semaphore_table;
    /// Never more than k threads hold a permit at once (k permits, more threads, an
    /// in-section count, yielding inside); both semaphores.
    AtMostK => at_most_k [std shuttle loom],
    /// k holders are reached: threads wait inside until k of them are inside at once,
    /// so a semaphore that admits k - 1 deadlocks (reported as such); both semaphores.
    Rendezvous => rendezvous [std shuttle loom],
    /// A release beyond the initial value adds a permit to a semaphore and returns
    /// `Err` from a bounded one (n threads x r rounds of acquire, release, release get
    /// exactly n * r errors).
    ExtraRelease => extra_release [std shuttle loom],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "a semaphore and a bounded semaphore",
    properties: &Property::INFO,
    slots: &[
        Slot {
            name: "semaphore",
            bound: "racecourse_spec::semaphore::Semaphore",
        },
        Slot {
            name: "bounded",
            bound: "racecourse_spec::semaphore::BoundedSemaphore",
        },
    ],
    implementations,
    snapshots,
};

/// Which of the two slots a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flavour {
    /// The `semaphore` slot.
    Plain,
    /// The `bounded` slot.
    Bounded,
}

impl Flavour {
    fn name(self) -> &'static str {
        match self {
            Flavour::Plain => "semaphore",
            Flavour::Bounded => "bounded semaphore",
        }
    }
}

/// Either slot, seen through one interface by the scenarios.
pub trait Permits: Send + Sync + 'static {
    /// Which slot this is.
    const KIND: Flavour;
    /// A semaphore with `k` permits.
    fn make(k: usize) -> Self;
    /// `acquire()`.
    fn take(&self);
    /// `release()`: always `Ok` for a plain semaphore.
    fn give(&self) -> Result<(), TooManyReleases>;
    /// `with_permit(f)`.
    fn with<R>(&self, f: impl FnOnce() -> R) -> R;
}

/// The `semaphore` slot as [`Permits`].
#[derive(Debug)]
pub struct AsPlain<S>(S);

/// The `bounded` slot as [`Permits`].
#[derive(Debug)]
pub struct AsBounded<B>(B);

impl<S: Semaphore> Permits for AsPlain<S> {
    const KIND: Flavour = Flavour::Plain;
    fn make(k: usize) -> Self {
        AsPlain(S::new(k))
    }
    fn take(&self) {
        self.0.acquire();
    }
    fn give(&self) -> Result<(), TooManyReleases> {
        self.0.release();
        Ok(())
    }
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.with_permit(f)
    }
}

impl<B: BoundedSemaphore> Permits for AsBounded<B> {
    const KIND: Flavour = Flavour::Bounded;
    fn make(k: usize) -> Self {
        AsBounded(B::new(k))
    }
    fn take(&self) {
        self.0.acquire();
    }
    fn give(&self) -> Result<(), TooManyReleases> {
        self.0.release()
    }
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.with_permit(f)
    }
}

/// `at_most_k`'s scenario: more threads than permits, each taking a permit `each`
/// times with `with_permit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crowd {
    /// Which slot.
    pub kind: Flavour,
    /// Permits the semaphore is made with.
    pub permits: usize,
    /// Threads started.
    pub threads: usize,
    /// `with_permit` calls per thread.
    pub each: usize,
}

impl fmt::Display for Crowd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}): {} threads x {} with_permit(..), yielding inside",
            self.kind.name(),
            self.permits,
            self.threads,
            self.each
        )
    }
}

/// `rendezvous`' scenario: threads that take a permit and wait inside until `permits`
/// of them are inside at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meeting {
    /// Which slot.
    pub kind: Flavour,
    /// Permits the semaphore is made with, and holders the rendezvous waits for.
    pub permits: usize,
    /// Threads started, at least `permits` and at least 2.
    pub threads: usize,
}

impl fmt::Display for Meeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let until = match self.permits {
            1 => "until 1 thread is inside".to_string(),
            k => format!("until {k} threads are inside at once"),
        };
        write!(
            f,
            "{}({}): {} threads, each: with_permit(wait inside {until})",
            self.kind.name(),
            self.permits,
            self.threads,
        )
    }
}

/// `extra_release`'s concurrent scenario on a bounded semaphore: each thread, each
/// round, acquires once and releases twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Surplus {
    /// Permits the bounded semaphore is made with.
    pub permits: usize,
    /// Threads started.
    pub threads: usize,
    /// Rounds per thread.
    pub rounds: usize,
}

impl fmt::Display for Surplus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounds = if self.rounds == 1 { "round" } else { "rounds" };
        write!(
            f,
            "bounded semaphore({}): {} threads x {} {rounds} of: acquire(), release(), release()",
            self.permits, self.threads, self.rounds
        )
    }
}

/// The first sequential steps of `extra_release`, one per slot.
const PLAIN_EXTRA: &str = "semaphore(0): release(), then acquire()";
const BOUNDED_EXTRA: &str =
    "bounded semaphore(1): release() while full, then acquire(), release(), release()";

/// One entry to or exit from the semaphore, as the census records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Event {
    /// The thread.
    pub thread: usize,
    /// `true` for the return of `acquire`, `false` for the call of `release`.
    pub entered: bool,
}

/// A final outcome of the rendezvous: every entry and exit, in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Order(pub Vec<Event>);

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let events: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{} {}", e.thread, if e.entered { "in" } else { "out" }))
            .collect();
        f.write_str(&events.join(", "))
    }
}

/// Every order of entries and exits a correct semaphore allows in `meeting`: each
/// thread enters, then leaves; never more than `permits` inside; nobody leaves before
/// `permits` threads have been inside at once.
pub fn allowed_orders(meeting: Meeting) -> BTreeSet<Order> {
    fn walk(
        m: Meeting,
        stage: &mut Vec<u8>,
        inside: usize,
        open: bool,
        order: &mut Vec<Event>,
        out: &mut BTreeSet<Order>,
    ) {
        if stage.iter().all(|&s| s == 2) {
            out.insert(Order(order.clone()));
            return;
        }
        for t in 0..m.threads {
            match stage[t] {
                0 if inside < m.permits => {
                    stage[t] = 1;
                    order.push(Event {
                        thread: t,
                        entered: true,
                    });
                    let now_open = open || inside + 1 == m.permits;
                    walk(m, stage, inside + 1, now_open, order, out);
                    order.pop();
                    stage[t] = 0;
                }
                1 if open => {
                    stage[t] = 2;
                    order.push(Event {
                        thread: t,
                        entered: false,
                    });
                    walk(m, stage, inside - 1, open, order, out);
                    order.pop();
                    stage[t] = 1;
                }
                _ => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(
        meeting,
        &mut vec![0; meeting.threads],
        0,
        false,
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// What a deadlock of the rendezvous means.
fn too_few_holders(m: Meeting) -> Violation {
    let (k, name) = (m.permits, m.kind.name());
    let seen = if k == 1 {
        format!("the threads deadlocked: no thread got the permit of {name}(1), every thread waited in acquire() though it was free (or a release woke nobody)")
    } else {
        format!("the threads deadlocked: fewer than {k} threads held a permit of {name}({k}) at once; those inside waited at the rendezvous for more holders, and the others waited in acquire() though a permit was free (or a release woke nobody)")
    };
    Violation::new(
        format!("{k} threads to hold a permit of {name}({k}) at once"),
        seen,
    )
    .of_kind(Kind::Deadlock)
}

/// What a deadlock of a crowd means: nobody is inside `with_permit`, since a thread
/// inside only yields.
fn free_permit_unused(c: Crowd) -> Violation {
    Violation::new(
        "a thread waiting in acquire() to get a free permit",
        format!(
            "the threads deadlocked in acquire() or release() with no thread inside with_permit: a permit of {}({}) was free and nobody got it (or a release woke nobody)",
            c.kind.name(),
            c.permits
        ),
    )
    .of_kind(Kind::Deadlock)
}

/// What a deadlock of `semaphore(0): release(), then acquire()` means.
fn release_added_nothing() -> Violation {
    Violation::new(
        "a release beyond the initial value to add a permit to a semaphore (as Python's Semaphore)",
        "the threads deadlocked: after release() on semaphore(0), acquire() waited forever: the release added no permit",
    )
    .of_kind(Kind::Deadlock)
}

racecourse_spec::runtimes! {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use crate::runner::Progress;

    /// Runs `crowd`: each thread calls `with_permit` `each` times, counting itself
    /// inside and yielding there. Returns the most threads seen inside at once. Each
    /// thread ticks `progress` after every call and stops early when asked.
    pub fn run_crowd<P: Permits>(crowd: Crowd, progress: &Progress) -> Result<usize, Violation> {
        let sem = rt::sync::Arc::new(P::make(crowd.permits));
        let inside = Arc::new(StdAtomicUsize::new(0));
        let most = Arc::new(StdAtomicUsize::new(0));
        let handles: Vec<_> = (0..crowd.threads)
            .map(|_| {
                let sem = rt::sync::Arc::clone(&sem);
                let inside = Arc::clone(&inside);
                let most = Arc::clone(&most);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    for _ in 0..crowd.each {
                        if progress.should_stop() {
                            break;
                        }
                        sem.with(|| {
                            let now = inside.fetch_add(1, StdOrdering::SeqCst) + 1;
                            most.fetch_max(now, StdOrdering::SeqCst);
                            rt::thread::yield_now();
                            inside.fetch_sub(1, StdOrdering::SeqCst);
                        });
                        progress.tick();
                    }
                })
            })
            .collect();
        for (thread, h) in handles.into_iter().enumerate() {
            h.join().map_err(|payload| crate::runner::panicked(format_args!("in thread {thread}"), payload))?;
        }
        Ok(most.load(StdOrdering::SeqCst))
    }

    /// Where the rendezvous stands: how many threads are inside it, and whether
    /// `permits` of them have been inside at once.
    #[derive(Default)]
    struct Gathering {
        inside: usize,
        open: bool,
    }

    /// Runs `meeting` once: each thread takes a permit, waits inside until `permits`
    /// threads have been inside at once, and gives it back. Returns the order of
    /// entries and exits (recorded in a std mutex, invisible to the model checkers).
    /// Each thread ticks `progress` when it has left. Nobody stops early: a thread
    /// that skipped its turn would leave the others waiting at the rendezvous.
    pub fn run_meeting<P: Permits>(meeting: Meeting, progress: &Progress) -> Result<Order, Violation> {
        let sem = rt::sync::Arc::new(P::make(meeting.permits));
        let gathering = rt::sync::Arc::new((rt::sync::Mutex::new(Gathering::default()), rt::sync::Condvar::new()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..meeting.threads)
            .map(|thread| {
                let sem = rt::sync::Arc::clone(&sem);
                let gathering = rt::sync::Arc::clone(&gathering);
                let order = Arc::clone(&order);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let log = |entered| {
                        order.lock().unwrap_or_else(|p| p.into_inner()).push(Event { thread, entered });
                    };
                    sem.with(|| {
                        log(true);
                        let (state, arrived) = &*gathering;
                        let mut g = state.lock().unwrap();
                        g.inside += 1;
                        if g.inside >= meeting.permits {
                            g.open = true;
                            arrived.notify_all();
                        }
                        let mut g = arrived.wait_while(g, |g| !g.open).unwrap();
                        g.inside -= 1;
                        drop(g);
                        log(false);
                    });
                    progress.tick();
                })
            })
            .collect();
        for (thread, h) in handles.into_iter().enumerate() {
            h.join().map_err(|payload| crate::runner::panicked(format_args!("in thread {thread}"), payload))?;
        }
        let order = order.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(Order(order))
    }

    /// `semaphore(0): release(), then acquire()`: returns once the acquire does.
    pub fn run_plain_extra<S: Semaphore>(progress: &Progress) -> Result<(), Violation> {
        let sem = S::new(0);
        sem.release();
        sem.acquire();
        progress.tick();
        Ok(())
    }

    /// The sequential steps of `extra_release` on a bounded semaphore
    /// ([`BOUNDED_EXTRA`]).
    pub fn run_bounded_extra<B: BoundedSemaphore>(progress: &Progress) -> Result<(), Violation> {
        let sem = B::new(1);
        if sem.release().is_ok() {
            return Err(Violation::new(
                "release() on a full bounded semaphore to return Err(TooManyReleases)",
                "bounded semaphore(1) was released before any acquire(), and release() returned Ok",
            ));
        }
        sem.acquire();
        if sem.release().is_err() {
            return Err(Violation::new(
                "release() after acquire() to return Ok",
                "bounded semaphore(1): release() while full, then acquire(), then release() returned Err: the refused release changed the count",
            ));
        }
        if sem.release().is_ok() {
            return Err(Violation::new(
                "release() on a full bounded semaphore to return Err(TooManyReleases)",
                "bounded semaphore(1): acquire(), release(), then a second release() returned Ok",
            ));
        }
        progress.tick();
        Ok(())
    }

    /// Runs `surplus` on a bounded semaphore and returns how many releases returned
    /// `Err`, and how many rounds completed. Each thread ticks `progress` after every
    /// round and stops early when asked.
    pub fn run_surplus<B: BoundedSemaphore>(surplus: Surplus, progress: &Progress) -> Result<(usize, usize), Violation> {
        let sem = rt::sync::Arc::new(B::new(surplus.permits));
        let handles: Vec<_> = (0..surplus.threads)
            .map(|_| {
                let sem = rt::sync::Arc::clone(&sem);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let (mut refused, mut rounds) = (0, 0);
                    for _ in 0..surplus.rounds {
                        if progress.should_stop() {
                            break;
                        }
                        sem.acquire();
                        refused += usize::from(sem.release().is_err());
                        refused += usize::from(sem.release().is_err());
                        rounds += 1;
                        progress.tick();
                    }
                    (refused, rounds)
                })
            })
            .collect();
        let (mut refused, mut rounds) = (0, 0);
        for (thread, h) in handles.into_iter().enumerate() {
            let (r, n) = h.join().map_err(|payload| crate::runner::panicked(format_args!("in thread {thread}"), payload))?;
            refused += r;
            rounds += n;
        }
        Ok((refused, rounds))
    }
}

/// Judges one run of a crowd.
fn judge_crowd(crowd: Crowd, most_inside: usize) -> Result<(), Violation> {
    if most_inside > crowd.permits {
        Err(Violation::new(
            format!(
                "at most {} threads holding a permit of {}({}) at once",
                crowd.permits,
                crowd.kind.name(),
                crowd.permits
            ),
            format!("{most_inside} threads held a permit at once"),
        ))
    } else {
        Ok(())
    }
}

/// Judges one run of the surplus scenario.
fn judge_surplus(surplus: Surplus, (refused, rounds): (usize, usize)) -> Result<(), Violation> {
    if refused == rounds {
        return Ok(());
    }
    let planned = surplus.threads * surplus.rounds;
    let expected = if rounds == planned {
        format!(
            "exactly {rounds} releases refused ({} threads x {} rounds each release once more than they acquire)",
            surplus.threads, surplus.rounds
        )
    } else {
        format!("exactly {rounds} releases refused, one per completed round (stopped early by the time budget)")
    };
    let seen = if refused < rounds {
        format!(
            "only {refused} releases returned Err: {} went beyond the initial value and returned Ok",
            rounds - refused
        )
    } else {
        format!(
            "{refused} releases returned Err: {} releases of an acquired permit were refused",
            refused - rounds
        )
    };
    Err(Violation::new(expected, seen))
}

fn kinds() -> [Flavour; 2] {
    [Flavour::Plain, Flavour::Bounded]
}

fn crowds(
    kind: Flavour,
    permits: std::ops::RangeInclusive<usize>,
    extra: std::ops::RangeInclusive<usize>,
    each: std::ops::RangeInclusive<usize>,
) -> impl proptest::strategy::Strategy<Value = Crowd> {
    use proptest::strategy::Strategy;
    (permits, extra, each).prop_map(move |(permits, extra, each)| Crowd {
        kind,
        permits,
        threads: permits + extra,
        each,
    })
}

fn meetings(
    kind: Flavour,
    permits: std::ops::RangeInclusive<usize>,
    extra: std::ops::RangeInclusive<usize>,
) -> impl proptest::strategy::Strategy<Value = Meeting> {
    use proptest::strategy::Strategy;
    // At least two threads: one alone has nobody to race (and shuttle's PCT refuses a
    // test without concurrency).
    (permits, extra).prop_map(move |(permits, extra)| Meeting {
        kind,
        permits,
        threads: (permits + extra).max(2),
    })
}

fn surpluses(
    permits: std::ops::RangeInclusive<usize>,
    threads: std::ops::RangeInclusive<usize>,
    rounds: std::ops::RangeInclusive<usize>,
) -> impl proptest::strategy::Strategy<Value = Surplus> {
    use proptest::strategy::Strategy;
    (permits, threads, rounds).prop_map(|(permits, threads, rounds)| Surplus {
        permits,
        threads,
        rounds,
    })
}

/// Checks `property` of `S` and `B` on std threads: 4 drawn scenarios per slot (up to
/// 4 permits, 4 threads more than permits, 200 calls each), 5 trials each, within the
/// std time budget.
pub fn check_std<S: Semaphore, B: BoundedSemaphore>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    match property {
        Property::AtMostK => {
            crate::runner::drawn(crowds(Flavour::Plain, 1..=4, 1..=4, 1..=200), 4, |c| {
                std_rt::explore(&budget, 5, move |progress| {
                    judge_crowd(c, on_std::run_crowd::<AsPlain<S>>(c, progress)?)
                })
            })?;
            crate::runner::drawn(crowds(Flavour::Bounded, 1..=4, 1..=4, 1..=200), 4, |c| {
                std_rt::explore(&budget, 5, move |progress| {
                    judge_crowd(c, on_std::run_crowd::<AsBounded<B>>(c, progress)?)
                })
            })
        }
        Property::Rendezvous => {
            crate::runner::drawn(meetings(Flavour::Plain, 1..=4, 0..=4), 4, |m| {
                std_rt::explore(&budget, 10, move |progress| {
                    on_std::run_meeting::<AsPlain<S>>(m, progress).map(drop)
                })
            })?;
            crate::runner::drawn(meetings(Flavour::Bounded, 1..=4, 0..=4), 4, |m| {
                std_rt::explore(&budget, 10, move |progress| {
                    on_std::run_meeting::<AsBounded<B>>(m, progress).map(drop)
                })
            })
        }
        Property::ExtraRelease => {
            std_rt::explore(&budget, 1, on_std::run_plain_extra::<S>)
                .map_err(|f| (f, PLAIN_EXTRA.to_string()))?;
            std_rt::explore(&budget, 1, on_std::run_bounded_extra::<B>)
                .map_err(|f| (f, BOUNDED_EXTRA.to_string()))?;
            crate::runner::drawn(surpluses(1..=3, 2..=6, 1..=200), 4, |s| {
                std_rt::explore(&budget, 5, move |progress| {
                    judge_surplus(s, on_std::run_surplus::<B>(s, progress)?)
                })
            })
        }
    }
}

/// Checks `property` of `S` and `B` under shuttle: 4 drawn scenarios per slot (up to
/// 3 permits, 2 threads more, 3 calls each), 25 random and 25 PCT iterations each.
pub fn check_shuttle<S: Semaphore, B: BoundedSemaphore>(property: Property) -> Result<(), Finding> {
    let budget = shuttle_rt::Budget {
        random: 25,
        pct: 25,
        base_seed: 0,
    };
    let progress = Progress::new;
    match property {
        Property::AtMostK => {
            let named = |c: Crowd, f: Found| f.deadlock_means(free_permit_unused(c));
            crate::runner::drawn(crowds(Flavour::Plain, 1..=3, 1..=2, 1..=3), 4, |c| {
                shuttle_rt::explore(budget, move || {
                    judge_crowd(c, on_shuttle::run_crowd::<AsPlain<S>>(c, &progress())?)
                })
                .map_err(|f| named(c, f))
            })?;
            crate::runner::drawn(crowds(Flavour::Bounded, 1..=3, 1..=2, 1..=3), 4, |c| {
                shuttle_rt::explore(budget, move || {
                    judge_crowd(c, on_shuttle::run_crowd::<AsBounded<B>>(c, &progress())?)
                })
                .map_err(|f| named(c, f))
            })
        }
        Property::Rendezvous => {
            let named = |m: Meeting, f: Found| f.deadlock_means(too_few_holders(m));
            crate::runner::drawn(meetings(Flavour::Plain, 1..=3, 0..=2), 4, |m| {
                shuttle_rt::explore(budget, move || {
                    on_shuttle::run_meeting::<AsPlain<S>>(m, &progress()).map(drop)
                })
                .map_err(|f| named(m, f))
            })?;
            crate::runner::drawn(meetings(Flavour::Bounded, 1..=3, 0..=2), 4, |m| {
                shuttle_rt::explore(budget, move || {
                    on_shuttle::run_meeting::<AsBounded<B>>(m, &progress()).map(drop)
                })
                .map_err(|f| named(m, f))
            })
        }
        Property::ExtraRelease => {
            let once = shuttle_rt::Budget {
                random: 1,
                pct: 0,
                base_seed: 0,
            };
            shuttle_rt::explore(once, move || on_shuttle::run_plain_extra::<S>(&progress()))
                .map_err(|f| {
                    let violation =
                        crate::runner::deadlock_means(release_added_nothing(), f.violation);
                    (Found { violation, ..f }, PLAIN_EXTRA.to_string())
                })?;
            shuttle_rt::explore(
                once,
                move || on_shuttle::run_bounded_extra::<B>(&progress()),
            )
            .map_err(|f| (f, BOUNDED_EXTRA.to_string()))?;
            crate::runner::drawn(surpluses(1..=2, 2..=3, 1..=2), 4, |s| {
                shuttle_rt::explore(budget, move || {
                    judge_surplus(s, on_shuttle::run_surplus::<B>(s, &progress())?)
                })
            })
        }
    }
}

/// The scenarios of `rendezvous` under loom, for each slot: `k` = 2 (two holders must
/// meet) and `k` = 1 (two threads contend for one permit), two threads, exhaustive.
/// They are also the census scenarios.
fn loom_meetings(kind: Flavour) -> [Meeting; 2] {
    [
        Meeting {
            kind,
            permits: 2,
            threads: 2,
        },
        Meeting {
            kind,
            permits: 1,
            threads: 2,
        },
    ]
}

/// Explores `meeting` under loom, exhaustively, collecting its census.
fn meeting_census_loom<P: Permits>(meeting: Meeting) -> (Census<Order>, Result<(), Found>) {
    let census = Arc::new(Mutex::new(Census::default()));
    let sink = Arc::clone(&census);
    crate::isolate::note(&meeting.to_string(), Some(too_few_holders(meeting)));
    let result = loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
        let order = on_loom::run_meeting::<P>(meeting, &Progress::new())?;
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .reached
            .insert(order);
        Ok(())
    });
    let mut census = census.lock().unwrap_or_else(|p| p.into_inner()).clone();
    census.allowed = allowed_orders(meeting);
    let result = result.map_err(|f| f.deadlock_means(too_few_holders(meeting)));
    (census, result)
}

/// Checks `property` of `S` and `B` under loom: two threads, exhaustive.
pub fn check_loom<S: Semaphore, B: BoundedSemaphore>(property: Property) -> Result<(), Finding> {
    let exhaustive = loom_rt::Bounds::EXHAUSTIVE;
    match property {
        Property::AtMostK => {
            for kind in kinds() {
                let c = Crowd {
                    kind,
                    permits: 1,
                    threads: 2,
                    each: 1,
                };
                crate::isolate::note(&c.to_string(), Some(free_permit_unused(c)));
                let most = move |c: Crowd| match kind {
                    Flavour::Plain => on_loom::run_crowd::<AsPlain<S>>(c, &Progress::new()),
                    Flavour::Bounded => on_loom::run_crowd::<AsBounded<B>>(c, &Progress::new()),
                };
                loom_rt::explore(exhaustive, move || judge_crowd(c, most(c)?)).map_err(|f| {
                    let violation =
                        crate::runner::deadlock_means(free_permit_unused(c), f.violation);
                    (Found { violation, ..f }, c.to_string())
                })?;
            }
            Ok(())
        }
        Property::Rendezvous => {
            for m in loom_meetings(Flavour::Plain) {
                meeting_census_loom::<AsPlain<S>>(m)
                    .1
                    .map_err(|f| (f, m.to_string()))?;
            }
            for m in loom_meetings(Flavour::Bounded) {
                meeting_census_loom::<AsBounded<B>>(m)
                    .1
                    .map_err(|f| (f, m.to_string()))?;
            }
            Ok(())
        }
        Property::ExtraRelease => {
            crate::isolate::note(PLAIN_EXTRA, Some(release_added_nothing()));
            loom_rt::explore(exhaustive, || {
                on_loom::run_plain_extra::<S>(&Progress::new())
            })
            .map_err(|f| {
                let violation = crate::runner::deadlock_means(release_added_nothing(), f.violation);
                (Found { violation, ..f }, PLAIN_EXTRA.to_string())
            })?;
            crate::isolate::note(BOUNDED_EXTRA, None);
            loom_rt::explore(exhaustive, || {
                on_loom::run_bounded_extra::<B>(&Progress::new())
            })
            .map_err(|f| (f, BOUNDED_EXTRA.to_string()))?;
            let s = Surplus {
                permits: 1,
                threads: 2,
                rounds: 1,
            };
            crate::isolate::note(&s.to_string(), None);
            loom_rt::explore(exhaustive, move || {
                judge_surplus(s, on_loom::run_surplus::<B>(s, &Progress::new())?)
            })
            .map_err(|f| (f, s.to_string()))
        }
    }
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::semaphore::$rt as must;
        use crate::mutants::semaphore::$rt as m;
        use racecourse_impl::thread::semaphore::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "counting",
                role: Role::Reference,
                check: |p| $check::<reference::Counting, reference::Bounded>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "spin_cas",
                role: Role::MustPass,
                check: |p| $check::<must::SpinCas, must::SpinCasBounded>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "admits_k_plus_one",
                role: Role::Mutant {
                    must_fail: &["at_most_k"],
                },
                check: |p| $check::<m::AdmitsKPlusOne, reference::Bounded>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "admits_k_minus_one",
                role: Role::Mutant {
                    must_fail: &["rendezvous"],
                },
                check: |p| $check::<m::AdmitsKMinusOne, reference::Bounded>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "one_at_a_time",
                role: Role::Mutant {
                    must_fail: &["rendezvous"],
                },
                check: |p| $check::<m::OneAtATime, reference::Bounded>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "test_then_decrement",
                role: Role::Mutant {
                    must_fail: &["at_most_k"],
                },
                check: |p| $check::<reference::Counting, m::TestThenDecrement>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "unchecked_extra_release",
                role: Role::Mutant {
                    must_fail: &["extra_release"],
                },
                check: |p| {
                    $check::<reference::Counting, m::UncheckedExtraRelease>(Property::named(p))
                },
            },
            Implementation {
                exercise: NAME,
                name: "panics_on_extra_release",
                role: Role::Mutant {
                    must_fail: &["extra_release"],
                },
                check: |p| {
                    $check::<reference::Counting, m::PanicsOnExtraRelease>(Property::named(p))
                },
            },
            Implementation {
                exercise: NAME,
                name: "capped_release",
                role: Role::Mutant {
                    must_fail: &["extra_release"],
                },
                check: |p| $check::<m::CappedRelease, reference::Bounded>(Property::named(p)),
            },
        ]
    }};
}

/// The semaphore's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// The references' snapshots: under loom, the census of each rendezvous scenario
/// (every order of entries and exits), for each slot.
fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    use racecourse_impl::thread::semaphore::on_loom::{Bounded, Counting};
    if runtime != Runtime::Loom {
        return Vec::new();
    }
    let mut out = Vec::new();
    for kind in kinds() {
        for m in loom_meetings(kind) {
            let (census, result) = match kind {
                Flavour::Plain => meeting_census_loom::<AsPlain<Counting>>(m),
                Flavour::Bounded => meeting_census_loom::<AsBounded<Bounded>>(m),
            };
            if let Err(v) = result
                .map_err(|f| f.violation)
                .and_then(|()| census.verdict("the scenario's calls"))
            {
                panic!("the reference on {m}: {v}");
            }
            let slot = match kind {
                Flavour::Plain => "semaphore",
                Flavour::Bounded => "bounded",
            };
            out.push((
                format!("semaphore__census__{slot}__k{}", m.permits),
                format!("scenario: {m}\n\n{}", census.render()),
            ));
        }
    }
    out
}

/// Generates the E5 semaphore tests for one or more implementations, named
/// `semaphore::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::semaphore! {
///     mine => my_crate::semaphore { semaphore: Counting, bounded: Bounded },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! semaphore {
    (not_attempted) => {
        $crate::__not_attempted!(semaphore);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { semaphore: $s:ident, bounded: $b:ident }),+ $(,)?) => {
        $crate::__semaphore_table! { semaphore [$($rt)*] [$($name [$($seg)::+] [$s $b]),+] }
    };
    ($($impls:tt)+) => {
        $crate::semaphore!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_permit_allows_one_holder_at_a_time() {
        let m = Meeting {
            kind: Flavour::Plain,
            permits: 1,
            threads: 2,
        };
        let orders: Vec<String> = allowed_orders(m).iter().map(|o| o.to_string()).collect();
        assert_eq!(
            orders,
            ["0 in, 0 out, 1 in, 1 out", "1 in, 1 out, 0 in, 0 out"]
        );
    }

    #[test]
    fn two_permits_let_nobody_out_before_both_are_in() {
        let m = Meeting {
            kind: Flavour::Plain,
            permits: 2,
            threads: 2,
        };
        assert_eq!(allowed_orders(m).len(), 4);
        for o in allowed_orders(m) {
            assert!(o.0[0].entered && o.0[1].entered, "{o}");
        }
    }

    #[test]
    fn every_surplus_round_refuses_one_release() {
        let s = Surplus {
            permits: 1,
            threads: 2,
            rounds: 1,
        };
        assert!(judge_surplus(s, (2, 2)).is_ok());
        let v = judge_surplus(s, (1, 2)).unwrap_err();
        assert!(v.seen.contains("1 went beyond the initial value"), "{v}");
    }
}
