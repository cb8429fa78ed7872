//! E4 suite: an adder and a remover sharing a list.
//!
//! Properties (see `EXERCISES.md`, E4):
//! - `linearizable`: every recorded history has a real-time-respecting order that the
//!   declared sequential model (FIFO or LIFO) accepts;
//! - `no_lost_items`: added = removed + remaining, as multisets;
//! - `no_phantom_items`: `remove` only returns items added before it returned;
//! - `concurrent_program`: the exercise program runs the adder and the remover at the
//!   same time (a program that joins one before starting the other deadlocks a probe);
//! - `census`: every final outcome of the program with k = 2, over every interleaving,
//!   is one the sequential model allows.
//!
//! Scenarios are small on loom (fixed, two threads exhaustive, three bounded), drawn by
//! proptest with a fixed seed on shuttle and std, and shrunk to a minimal one on failure.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use racecourse_spec::shared_list::{AdderRemover, RemovalOrder, SharedList};

use crate::oracle::invariants;
use crate::oracle::linearizability::{self, Call, ListModel, ListOp, ListRet};
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "shared_list";

// The program-level properties need a model checker: on real threads a probe could
// only wait on a clock, and only loom explores every interleaving for the census.
properties! { $ __shared_list_table;
    /// Every history has a real-time order that the declared FIFO/LIFO model accepts.
    Linearizable => linearizable [std shuttle loom],
    /// added = removed + remaining, as multisets.
    NoLostItems => no_lost_items [std shuttle loom],
    /// `remove` only returns items whose `add` began before the remove returned.
    NoPhantomItems => no_phantom_items [std shuttle loom],
    /// The program starts the adder and the remover before joining either (a probe
    /// deadlocks a program that does not).
    ConcurrentProgram => concurrent_program [shuttle loom],
    /// Every outcome of the program with k = 2, over every interleaving, is allowed.
    Census => census [loom],
    /// The program's census (k = 2, every interleaving) next to the reference's for
    /// the same declared order: the outcomes it reaches and those it never does.
    CensusReview => census_review [loom] review,
    /// The program's transcript under shuttle's seed 7 next to the reference's for the
    /// same declared order (it differs whenever the schedule points differ).
    TranscriptReview => transcript_review [shuttle] review,
}

/// The seed of the fixed shuttle schedule transcripts are taken under.
pub const TRANSCRIPT_SEED: u64 = 7;

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E4",
    title: "an adder and a remover sharing a list",
    properties: &Property::INFO,
    slots: &[
        Slot {
            name: "list",
            bound: "racecourse_spec::shared_list::SharedList",
        },
        Slot {
            name: "program",
            bound: "racecourse_spec::shared_list::AdderRemover",
        },
    ],
    implementations,
    snapshots,
};

/// Which operations each thread performs, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// One list of operations per thread.
    pub threads: Vec<Vec<ListOp>>,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ops) in self.threads.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "thread {i}: ")?;
            for (j, op) in ops.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{op}")?;
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// A scenario from operation kinds, numbering the added items 1, 2, 3, .. so every
    /// item is distinct and a report can name it.
    pub fn numbered(kinds: Vec<Vec<u8>>) -> Scenario {
        let mut next = 0;
        let threads = kinds
            .into_iter()
            .map(|ops| {
                ops.into_iter()
                    .map(|kind| match kind % 4 {
                        0 | 1 => {
                            next += 1;
                            ListOp::Add(next)
                        }
                        2 => ListOp::Remove,
                        _ => ListOp::Snapshot,
                    })
                    .collect()
            })
            .collect();
        Scenario { threads }
    }

    /// Parses a scenario in the form [`Display`](fmt::Display) prints:
    /// `thread 0: add(1), remove(); thread 1: snapshot()`.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let mut threads = Vec::new();
        for (i, part) in text.split(';').enumerate() {
            let (head, ops) = part
                .split_once(':')
                .ok_or_else(|| format!("expected `thread {i}: ..` in {part:?}"))?;
            if head.trim() != format!("thread {i}") {
                return Err(format!("expected `thread {i}`, found {:?}", head.trim()));
            }
            let ops = ops
                .split(',')
                .map(|op| match op.trim() {
                    "remove()" => Ok(ListOp::Remove),
                    "snapshot()" => Ok(ListOp::Snapshot),
                    other => other
                        .strip_prefix("add(")
                        .and_then(|rest| rest.strip_suffix(')'))
                        .and_then(|x| x.parse().ok())
                        .map(ListOp::Add)
                        .ok_or_else(|| {
                            format!(
                                "unknown operation {other:?}: use add(n), remove() or snapshot()"
                            )
                        }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            threads.push(ops);
        }
        Ok(Scenario { threads })
    }

    fn strategy(
        threads: std::ops::RangeInclusive<usize>,
        ops: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Scenario> {
        prop::collection::vec(prop::collection::vec(0u8..4, ops), threads)
            .prop_map(Scenario::numbered)
    }
}

/// What one execution of a scenario recorded.
#[derive(Clone, Debug)]
pub struct Run {
    /// Every call, with logical invocation and response times; the last is the final
    /// snapshot taken after all threads were joined.
    pub history: Vec<Call<ListOp, ListRet>>,
}

impl Run {
    fn added(&self) -> Vec<u32> {
        self.history
            .iter()
            .filter_map(|c| match c.op {
                ListOp::Add(x) => Some(x),
                _ => None,
            })
            .collect()
    }

    fn removed(&self) -> Vec<u32> {
        self.history
            .iter()
            .filter_map(|c| match c.ret {
                ListRet::Removed(Some(x)) => Some(x),
                _ => None,
            })
            .collect()
    }

    fn remaining(&self) -> Vec<u32> {
        match self.history.last().map(|c| &c.ret) {
            Some(ListRet::Snapshot(items)) => items.clone(),
            _ => Vec::new(),
        }
    }
}

/// Judges one run of a scenario against one property.
pub fn judge(property: Property, order: RemovalOrder, run: &Run) -> Result<(), Violation> {
    match property {
        Property::Linearizable => {
            match linearizability::check(&ListModel { order }, &run.history, LINEARIZABILITY_BUDGET) {
                linearizability::Outcome::Linearizable(_) => Ok(()),
                linearizability::Outcome::NotLinearizable { explanation, .. } => Err(Violation::new(
                    format!("a history that a {} list could produce", order.name()),
                    explanation,
                )),
                linearizability::Outcome::Unknown { steps } => Err(Violation::new(
                    "a linearizability verdict",
                    format!("the search gave up after {steps} steps: unknown, which is never a pass (report this scenario)"),
                )),
            }
        }
        Property::NoLostItems => {
            invariants::conservation(&run.added(), &run.removed(), &run.remaining())
        }
        Property::NoPhantomItems => invariants::no_phantom_items(&run.history),
        Property::ConcurrentProgram
        | Property::Census
        | Property::CensusReview
        | Property::TranscriptReview => {
            unreachable!("program properties are not judged on scenarios")
        }
    }
}

/// Search steps before the linearizability checker answers unknown.
///
/// Calls of one thread are sequential, so the search only visits per-thread prefixes
/// (at most 13^4 for std's four threads of up to twelve calls) times the list states
/// reachable there; this budget leaves a wide margin, because an unknown verdict fails
/// the check and a correct implementation must never fail.
const LINEARIZABILITY_BUDGET: usize = 5_000_000;

/// k for the program-level properties: the census and the progress probe.
pub const PROGRAM_K: u32 = 2;

/// A record of what the exercise program did to its list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramLog {
    /// Events in the order they completed: `adder: add(0)`, `remover: remove() -> None`.
    pub events: Vec<String>,
    /// The items passed to `add`, in order.
    pub added: Vec<u32>,
    /// What each `remove` returned, in order.
    pub removed: Vec<Option<u32>>,
    /// The list's contents when the program dropped it.
    pub remaining: Option<Vec<u32>>,
}

/// A final outcome of the program: what the remover got and what was left.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Outcome {
    /// What each `remove` returned, in order.
    pub removed: Vec<Option<u32>>,
    /// The list when the program ended.
    pub remaining: Vec<u32>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let removed: Vec<String> = self
            .removed
            .iter()
            .map(|r| match r {
                Some(x) => x.to_string(),
                None => "none".to_string(),
            })
            .collect();
        write!(
            f,
            "removed [{}], remaining {:?}",
            removed.join(", "),
            self.remaining
        )
    }
}

/// The outcomes the sequential model allows for the program with `k` items: every
/// interleaving of the adder's `add(0..k)` with the remover's `k` removes.
pub fn allowed_outcomes(order: RemovalOrder, k: u32) -> BTreeSet<Outcome> {
    fn walk(
        order: RemovalOrder,
        k: u32,
        added: u32,
        removes: u32,
        list: Vec<u32>,
        removed: Vec<Option<u32>>,
        out: &mut BTreeSet<Outcome>,
    ) {
        if added == k && removes == k {
            out.insert(Outcome {
                removed,
                remaining: list,
            });
            return;
        }
        if added < k {
            let mut l = list.clone();
            l.push(added);
            walk(order, k, added + 1, removes, l, removed.clone(), out);
        }
        if removes < k {
            let mut l = list;
            let r = match order {
                RemovalOrder::Fifo if !l.is_empty() => Some(l.remove(0)),
                RemovalOrder::Lifo => l.pop(),
                _ => None,
            };
            let mut removed = removed;
            removed.push(r);
            walk(order, k, added, removes + 1, l, removed, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(order, k, 0, 0, Vec::new(), Vec::new(), &mut out);
    out
}

/// The census of the exercise program: each final outcome reached, allowed or not.
pub type Census = crate::oracle::census::Census<Outcome>;

/// What the program census asks of the program's calls.
fn expected_calls() -> String {
    format!("the adder to add 0..{PROGRAM_K} in order and the remover to remove {PROGRAM_K} times")
}

fn record(census: &mut Census, log: &ProgramLog) {
    let expected_adds: Vec<u32> = (0..PROGRAM_K).collect();
    if log.added != expected_adds {
        census
            .misbehaved
            .insert(format!("the adder added {:?}", log.added));
    } else if log.removed.len() != PROGRAM_K as usize {
        census.misbehaved.insert(format!(
            "the remover called remove {} times",
            log.removed.len()
        ));
    } else if let Some(remaining) = &log.remaining {
        census.reached.insert(Outcome {
            removed: log.removed.clone(),
            remaining: remaining.clone(),
        });
    } else {
        census
            .misbehaved
            .insert("the program never dropped its list".to_string());
    }
}

/// The final outcome of one run of a scenario: what each thread's calls returned, in
/// order, and the list at the end.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScenarioOutcome {
    /// Per thread, what each call returned.
    pub returns: Vec<Vec<ListRet>>,
    /// The list after every thread was joined.
    pub remaining: Vec<u32>,
}

impl fmt::Display for ScenarioOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rets) in self.returns.iter().enumerate() {
            let rets: Vec<String> = rets
                .iter()
                .map(|r| match r {
                    ListRet::Added => "added".to_string(),
                    ListRet::Removed(Some(x)) => x.to_string(),
                    ListRet::Removed(None) => "none".to_string(),
                    ListRet::Snapshot(items) => format!("{items:?}"),
                })
                .collect();
            write!(f, "thread {i}: {}; ", rets.join(", "))?;
        }
        write!(f, "remaining {:?}", self.remaining)
    }
}

impl ScenarioOutcome {
    fn of(scenario: &Scenario, run: &Run) -> ScenarioOutcome {
        let mut returns = vec![Vec::new(); scenario.threads.len()];
        for call in &run.history[..run.history.len() - 1] {
            returns[call.thread].push(call.ret.clone());
        }
        ScenarioOutcome {
            returns,
            remaining: run.remaining(),
        }
    }
}

/// Every outcome of `scenario` that some interleaving of its threads' calls produces
/// on a sequential list with removal order `order`.
pub fn allowed_scenario_outcomes(
    order: RemovalOrder,
    scenario: &Scenario,
) -> BTreeSet<ScenarioOutcome> {
    use crate::oracle::linearizability::Model;
    fn walk(
        model: &ListModel,
        scenario: &Scenario,
        next: &mut Vec<usize>,
        state: Vec<u32>,
        returns: &mut Vec<Vec<ListRet>>,
        out: &mut BTreeSet<ScenarioOutcome>,
    ) {
        let mut done = true;
        for t in 0..scenario.threads.len() {
            if let Some(op) = scenario.threads[t].get(next[t]) {
                done = false;
                let (after, ret) = model.step(&state, op);
                next[t] += 1;
                returns[t].push(ret);
                walk(model, scenario, next, after, returns, out);
                returns[t].pop();
                next[t] -= 1;
            }
        }
        if done {
            out.insert(ScenarioOutcome {
                returns: returns.clone(),
                remaining: state,
            });
        }
    }
    let model = ListModel { order };
    let mut out = BTreeSet::new();
    let mut next = vec![0; scenario.threads.len()];
    let mut returns = vec![Vec::new(); scenario.threads.len()];
    walk(
        &model,
        scenario,
        &mut next,
        model.init(),
        &mut returns,
        &mut out,
    );
    out
}

/// The census of one loom scenario: every outcome reached over every interleaving.
pub fn scenario_census_loom<L: SharedList>(
    scenario: &Scenario,
    bounds: loom_rt::Bounds,
) -> (
    crate::oracle::census::Census<ScenarioOutcome>,
    Result<(), Found>,
) {
    let census = Arc::new(Mutex::new(crate::oracle::census::Census::default()));
    let sink = Arc::clone(&census);
    let s = scenario.clone();
    let result = loom_rt::explore(bounds, move || {
        let run = on_loom::run_scenario::<L>(&s, &Progress::new())?;
        let outcome = ScenarioOutcome::of(&s, &run);
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .reached
            .insert(outcome);
        Ok(())
    });
    let mut census = census.lock().unwrap_or_else(|p| p.into_inner()).clone();
    census.allowed = allowed_scenario_outcomes(L::ORDER, scenario);
    (census, result)
}

racecourse_spec::runtimes! {
    use rt::sync::{Condvar, Mutex as RtMutex};
    use std::sync::atomic::{AtomicU64, Ordering as StdOrdering};

    /// Runs `scenario` once on this runtime: one thread per operation list, then a
    /// final snapshot after all are joined.
    ///
    /// Timestamps come from a std atomic, invisible to the model checkers, so recording
    /// adds no interleavings of its own. Every completed call ticks `progress`.
    pub fn run_scenario<L: SharedList>(scenario: &Scenario, progress: &crate::runner::Progress) -> Result<Run, Violation> {
        let list = rt::sync::Arc::new(L::new());
        let clock = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = scenario
            .threads
            .iter()
            .cloned()
            .enumerate()
            .map(|(thread, ops)| {
                let list = rt::sync::Arc::clone(&list);
                let clock = Arc::clone(&clock);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    ops.into_iter()
                        .map(|op| {
                            let call_at = clock.fetch_add(1, StdOrdering::SeqCst);
                            let ret = apply(&*list, &op);
                            let ret_at = clock.fetch_add(1, StdOrdering::SeqCst);
                            progress.tick();
                            Call { thread, op, ret, call_at, ret_at }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut history = Vec::new();
        for (thread, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(calls) => history.extend(calls),
                Err(_) => {
                    return Err(Violation::new(
                        "no panic",
                        format!("thread {thread} panicked inside the list"),
                    ))
                }
            }
        }
        let thread = scenario.threads.len();
        let call_at = clock.fetch_add(1, StdOrdering::SeqCst);
        let ret = ListRet::Snapshot(list.snapshot());
        let ret_at = clock.fetch_add(1, StdOrdering::SeqCst);
        history.push(Call { thread, op: ListOp::Snapshot, ret, call_at, ret_at });
        Ok(Run { history })
    }

    fn apply<L: SharedList>(list: &L, op: &ListOp) -> ListRet {
        match op {
            ListOp::Add(x) => {
                list.add(*x);
                ListRet::Added
            }
            ListOp::Remove => ListRet::Removed(list.remove()),
            ListOp::Snapshot => ListRet::Snapshot(list.snapshot()),
        }
    }

    /// A list that logs what the program does to it, for the census and transcript.
    ///
    /// The log is a std mutex: model checkers run one thread at a time, so it never
    /// blocks and adds no interleavings.
    pub struct Recorder<L: SharedList> {
        inner: L,
        log: Arc<Mutex<ProgramLog>>,
    }

    impl<L: SharedList> std::fmt::Debug for Recorder<L> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Recorder").finish_non_exhaustive()
        }
    }

    impl<L: SharedList> Recorder<L> {
        /// Wraps `inner`, logging into `log`.
        pub fn wrap(inner: L, log: Arc<Mutex<ProgramLog>>) -> Self {
            Self { inner, log }
        }
    }

    impl<L: SharedList> SharedList for Recorder<L> {
        const ORDER: RemovalOrder = L::ORDER;
        fn new() -> Self {
            Self::wrap(L::new(), Arc::default())
        }
        fn add(&self, x: u32) {
            self.inner.add(x);
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.added.push(x);
            log.events.push(format!("adder: add({x})"));
        }
        fn remove(&self) -> Option<u32> {
            let r = self.inner.remove();
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.removed.push(r);
            log.events.push(match r {
                Some(x) => format!("remover: removed {x}"),
                None => "remover: nothing to remove".to_string(),
            });
            r
        }
        fn snapshot(&self) -> Vec<u32> {
            self.inner.snapshot()
        }
    }

    impl<L: SharedList> Drop for Recorder<L> {
        fn drop(&mut self) {
            let remaining = self.inner.snapshot();
            self.log.lock().unwrap_or_else(|p| p.into_inner()).remaining = Some(remaining);
        }
    }

    /// What the progress probe has seen.
    #[derive(Default)]
    struct GateState {
        adder_started: bool,
        removes: u32,
    }

    /// A list whose first `add` waits until `remove` has been called, and whose last
    /// expected `remove` waits until `add` has been called: a program that finishes one
    /// thread before starting the other deadlocks here, which the model checkers report.
    pub struct Gate<L: SharedList> {
        inner: L,
        state: RtMutex<GateState>,
        changed: Condvar,
    }

    impl<L: SharedList> std::fmt::Debug for Gate<L> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Gate").finish_non_exhaustive()
        }
    }

    impl<L: SharedList> SharedList for Gate<L> {
        const ORDER: RemovalOrder = L::ORDER;
        fn new() -> Self {
            Self { inner: L::new(), state: RtMutex::new(GateState::default()), changed: Condvar::new() }
        }
        fn add(&self, x: u32) {
            let mut state = self.state.lock().unwrap();
            if !state.adder_started {
                state.adder_started = true;
                self.changed.notify_all();
                while state.removes == 0 {
                    state = self.changed.wait(state).unwrap();
                }
            }
            drop(state);
            self.inner.add(x);
        }
        fn remove(&self) -> Option<u32> {
            let mut state = self.state.lock().unwrap();
            state.removes += 1;
            self.changed.notify_all();
            if state.removes == PROGRAM_K {
                while !state.adder_started {
                    state = self.changed.wait(state).unwrap();
                }
            }
            drop(state);
            self.inner.remove()
        }
        fn snapshot(&self) -> Vec<u32> {
            self.inner.snapshot()
        }
    }

    /// Runs the program once on a recorder and returns its log.
    pub fn run_program<L: SharedList, P: AdderRemover>() -> ProgramLog {
        let log = Arc::new(Mutex::new(ProgramLog::default()));
        P::run(Recorder::wrap(L::new(), Arc::clone(&log)), PROGRAM_K);
        let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        log
    }

    /// Runs the program once on the progress probe.
    pub fn run_gated<L: SharedList, P: AdderRemover>() -> Result<(), Violation> {
        P::run(Gate::<L>::new(), PROGRAM_K);
        Ok(())
    }
}

/// The committed regression scenarios (`conformance/regressions/shared_list.txt`):
/// minimal scenarios that exposed real bugs, checked before any drawn scenario.
pub fn regressions() -> Vec<Scenario> {
    include_str!("../regressions/shared_list.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            Scenario::parse(line)
                .unwrap_or_else(|e| panic!("regressions/shared_list.txt: {e} (in {line:?})"))
        })
        .collect()
}

/// Explores the regression scenarios, then `cases` drawn ones, with `explore`.
fn regressions_then_drawn<E>(
    threads: std::ops::RangeInclusive<usize>,
    ops: std::ops::RangeInclusive<usize>,
    cases: u32,
    explore: E,
) -> Result<(), Finding>
where
    E: Fn(Scenario) -> Result<(), Found>,
{
    for scenario in regressions() {
        explore(scenario.clone()).map_err(|found| (found, scenario.to_string()))?;
    }
    crate::runner::drawn(Scenario::strategy(threads, ops), cases, explore)
}

/// Scenarios explored exhaustively under loom: two threads of up to three operations,
/// covering concurrent removers, adds racing removes, and LIFO/FIFO order.
pub fn loom_scenarios() -> Vec<(Scenario, loom_rt::Bounds)> {
    use ListOp::{Add, Remove, Snapshot};
    vec![
        (
            Scenario {
                threads: vec![vec![Add(1), Add(2), Remove], vec![Remove, Add(3), Remove]],
            },
            loom_rt::Bounds::EXHAUSTIVE,
        ),
        (
            Scenario {
                threads: vec![
                    vec![Add(1), Remove, Snapshot],
                    vec![Add(2), Remove, Snapshot],
                ],
            },
            loom_rt::Bounds::EXHAUSTIVE,
        ),
        (
            Scenario {
                threads: vec![vec![Add(1), Add(2)], vec![Remove], vec![Remove]],
            },
            loom_rt::Bounds::BOUNDED,
        ),
    ]
}

/// What a deadlock of the progress probe means.
fn not_concurrent() -> Violation {
    Violation::new(
        "the adder and the remover to run at the same time",
        "the adder's first add waited for a remove that never came (or the remover's last remove for an add): the program must start both threads before joining either",
    )
}

fn program_violation(v: Violation) -> Violation {
    if v.kind == Kind::Deadlock {
        not_concurrent().of_kind(Kind::Deadlock)
    } else {
        v
    }
}

fn census_of<F>(explore: F) -> (Census, Result<(), Found>)
where
    F: FnOnce(Arc<Mutex<Census>>) -> Result<(), Found>,
{
    let census = Arc::new(Mutex::new(Census::default()));
    let result = explore(Arc::clone(&census));
    let census = census.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (census, result)
}

/// The outcome census of the program under loom's exhaustive exploration.
pub fn census_loom<L, P>() -> (Census, Result<(), Found>)
where
    L: SharedList,
    P: AdderRemover + 'static,
{
    let (mut census, result) = census_of(|census| {
        loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
            let log = on_loom::run_program::<L, P>();
            record(&mut census.lock().unwrap_or_else(|p| p.into_inner()), &log);
            Ok(())
        })
    });
    census.allowed = allowed_outcomes(L::ORDER, PROGRAM_K);
    (census, result)
}

/// The program's transcript under one fixed shuttle schedule.
pub fn transcript_shuttle<L, P>(seed: u64) -> Vec<String>
where
    L: SharedList,
    P: AdderRemover + 'static,
{
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let budget = shuttle_rt::Budget {
        random: 1,
        pct: 0,
        base_seed: seed,
    };
    let result = shuttle_rt::explore(budget, move || {
        *sink.lock().unwrap() = on_shuttle::run_program::<L, P>().events;
        Ok(())
    });
    let mut events = events.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Err(found) = result {
        events.push(format!("failed: {}", found.violation));
    }
    events
}

use crate::runner::Finding;

/// Checks `property` of `L` (with program `P`) on std threads.
pub fn check_std<L: SharedList, P: AdderRemover + 'static>(
    property: Property,
) -> Result<(), Finding> {
    let order = L::ORDER;
    let budget = std_rt::Budget::start();
    regressions_then_drawn(2..=4, 1..=12, 8, |scenario| {
        std_rt::explore(&budget, 10, move |progress| {
            judge(
                property,
                order,
                &on_std::run_scenario::<L>(&scenario, progress)?,
            )
        })
    })
}

/// Checks `property` of `L` (with program `P`) under shuttle.
pub fn check_shuttle<L: SharedList, P: AdderRemover + 'static>(
    property: Property,
) -> Result<(), Finding> {
    let order = L::ORDER;
    match property {
        Property::ConcurrentProgram => shuttle_rt::explore(shuttle_rt::Budget::DEFAULT, || {
            on_shuttle::run_gated::<L, P>()
        })
        .map_err(|f| {
            (
                Found {
                    violation: program_violation(f.violation),
                    ..f
                },
                format!("the exercise program, k = {PROGRAM_K}"),
            )
        }),
        Property::Census | Property::CensusReview => unreachable!("the census runs under loom"),
        Property::TranscriptReview => {
            let scenario = format!("the exercise program, k = {PROGRAM_K}");
            let transcript = transcript_shuttle::<L, P>(TRANSCRIPT_SEED).join("\n");
            let reference =
                crate::review::reference(&format!("shared_list__transcript__{}", order.name()))
                    .map_err(|f| (f, scenario.clone()))?;
            crate::review::compare(
                &format!("the transcript of the reference {} list", order.name()),
                &reference,
                &transcript,
                &format!("shuttle random scheduler, seed {TRANSCRIPT_SEED}"),
            )
            .map_err(|f| (f, scenario))
        }
        _ => regressions_then_drawn(2..=3, 1..=4, 24, |scenario| {
            let budget = shuttle_rt::Budget {
                random: 50,
                pct: 50,
                base_seed: 0,
            };
            shuttle_rt::explore(budget, move || {
                judge(
                    property,
                    order,
                    &on_shuttle::run_scenario::<L>(&scenario, &Progress::new())?,
                )
            })
        }),
    }
}

/// Checks `property` of `L` (with program `P`) under loom.
pub fn check_loom<L: SharedList, P: AdderRemover + 'static>(
    property: Property,
) -> Result<(), Finding> {
    let order = L::ORDER;
    match property {
        Property::ConcurrentProgram => {
            // loom aborts the process on a deadlock: say first what one would mean.
            let scenario = format!("the exercise program, k = {PROGRAM_K}");
            crate::isolate::note(&scenario, Some(not_concurrent()));
            loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, || on_loom::run_gated::<L, P>()).map_err(
                |f| {
                    (
                        Found {
                            violation: program_violation(f.violation),
                            ..f
                        },
                        format!("the exercise program, k = {PROGRAM_K}"),
                    )
                },
            )
        }
        Property::CensusReview => {
            let scenario = format!("the exercise program, k = {PROGRAM_K}");
            crate::isolate::note(&scenario, None);
            let (census, result) = census_loom::<L, P>();
            result.map_err(|f| (f, scenario.clone()))?;
            let reference =
                crate::review::reference(&format!("shared_list__census__{}", order.name()))
                    .map_err(|f| (f, scenario.clone()))?;
            crate::review::compare(
                &format!("the census of the reference {} list", order.name()),
                &reference,
                &census.render(),
                "loom, exhaustive",
            )
            .map_err(|f| (f, scenario))
        }
        Property::TranscriptReview => unreachable!("the transcript is taken under shuttle"),
        Property::Census => {
            let scenario = format!("the exercise program, k = {PROGRAM_K}");
            crate::isolate::note(&scenario, None);
            let (census, result) = census_loom::<L, P>();
            result.map_err(|f| (f, scenario.clone()))?;
            census.verdict(&expected_calls()).map_err(|violation| {
                (
                    Found {
                        violation,
                        schedule: "loom, exhaustive".to_string(),
                        replay_env: Vec::new(),
                    },
                    scenario,
                )
            })
        }
        _ => {
            for (scenario, bounds) in loom_scenarios() {
                crate::isolate::note(&scenario.to_string(), None);
                let s = scenario.clone();
                loom_rt::explore(bounds, move || {
                    judge(
                        property,
                        order,
                        &on_loom::run_scenario::<L>(&s, &Progress::new())?,
                    )
                })
                .map_err(|f| (f, scenario.to_string()))?;
            }
            Ok(())
        }
    }
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident, $runtime:expr) => {{
        use crate::must_pass::shared_list::$rt as must;
        use crate::mutants::shared_list::$rt as m;
        use racecourse_impl::thread::shared_list::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "fifo",
                role: Role::Reference,
                check: |p| $check::<reference::Fifo, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lifo",
                role: Role::Reference,
                check: |p| $check::<reference::Lifo, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "two_stacks",
                role: Role::MustPass,
                check: |p| $check::<must::TwoStacks, must::RemoverFirst>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "rw_locked",
                role: Role::MustPass,
                check: |p| $check::<must::RwLocked, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "no_lock",
                // shuttle never preempts inside an unsynchronized access, so `no_lock`
                // looks atomic there: only loom, which tracks cells, must catch it.
                role: Role::Mutant {
                    must_fail: if $runtime == Runtime::Loom {
                        &["linearizable", "no_lost_items", "no_phantom_items"]
                    } else {
                        &[]
                    },
                },
                check: |p| $check::<m::NoLock, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "check_then_act",
                role: Role::Mutant {
                    must_fail: &["linearizable", "no_lost_items", "no_phantom_items"],
                },
                check: |p| $check::<m::CheckThenAct, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "try_lock_remove",
                role: Role::Mutant {
                    must_fail: &["linearizable"],
                },
                check: |p| $check::<m::TryLockRemove, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "clear_all",
                role: Role::Mutant {
                    must_fail: &["linearizable", "no_lost_items", "census"],
                },
                check: |p| $check::<m::ClearAll, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lifo_declared_fifo",
                role: Role::Mutant {
                    must_fail: &["linearizable", "census"],
                },
                check: |p| $check::<m::LifoDeclaredFifo, reference::Program>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "off_by_one_adder",
                role: Role::Mutant {
                    must_fail: &["census"],
                },
                check: |p| $check::<reference::Fifo, m::OffByOneAdder>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "joined_adder",
                role: Role::Mutant {
                    must_fail: &["concurrent_program"],
                },
                check: |p| $check::<reference::Fifo, m::JoinedAdder>(Property::named(p)),
            },
        ]
    }};
}

/// The references' snapshots: under loom, the census of the program (k = 2) and of
/// each loom scenario; under shuttle, the program's transcript under seed 7; for
/// each reference (fifo and lifo).
fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    use racecourse_impl::thread::shared_list::{on_loom, on_shuttle};
    let mut out = Vec::new();
    match runtime {
        Runtime::Loom => {
            for (order, census) in [
                ("fifo", census_loom::<on_loom::Fifo, on_loom::Program>()),
                ("lifo", census_loom::<on_loom::Lifo, on_loom::Program>()),
            ] {
                let (census, result) = census;
                if let Err(f) = result {
                    panic!("the {order} reference's census failed: {}", f.violation);
                }
                out.push((format!("shared_list__census__{order}"), census.render()));
            }
            for (i, (scenario, bounds)) in loom_scenarios().into_iter().enumerate() {
                for (order, (census, result)) in [
                    (
                        "fifo",
                        scenario_census_loom::<on_loom::Fifo>(&scenario, bounds),
                    ),
                    (
                        "lifo",
                        scenario_census_loom::<on_loom::Lifo>(&scenario, bounds),
                    ),
                ] {
                    if let Err(f) = result
                        .map_err(|f| f.violation)
                        .and_then(|()| census.verdict("the scenario's calls"))
                    {
                        panic!("the {order} reference on scenario {}: {f}", i + 1);
                    }
                    out.push((
                        format!("shared_list__census__scenario_{}__{order}", i + 1),
                        format!("scenario: {scenario}\n\n{}", census.render()),
                    ));
                }
            }
        }
        Runtime::Shuttle => {
            out.push((
                "shared_list__transcript__fifo".to_string(),
                transcript_shuttle::<on_shuttle::Fifo, on_shuttle::Program>(TRANSCRIPT_SEED)
                    .join("\n"),
            ));
            out.push((
                "shared_list__transcript__lifo".to_string(),
                transcript_shuttle::<on_shuttle::Lifo, on_shuttle::Program>(TRANSCRIPT_SEED)
                    .join("\n"),
            ));
        }
        _ => {}
    }
    out
}

/// The E4 implementations (references, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std, Runtime::Std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle, Runtime::Shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom, Runtime::Loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E4 tests for one or more implementations.
///
/// One line per implementation: a name, the module made by
/// [`racecourse_spec::runtimes!`], and the list and program types in it. The tests are
/// named `shared_list::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::shared_list! {
///     mine => my_crate::shared_list { list: Stack, program: Program },
/// }
/// ```
///
/// `runtimes: [loom]` before the list restricts the runtimes (racecourse's own tests
/// keep loom and shuttle in separate binaries); `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! shared_list {
    (not_attempted) => {
        $crate::__not_attempted!(shared_list);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { list: $list:ident, program: $prog:ident }),+ $(,)?) => {
        $crate::__shared_list_table! { shared_list [$($rt)*] [$($name [$($seg)::+] [$list $prog]),+] }
    };
    ($($impls:tt)+) => {
        $crate::shared_list!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_print_as_they_parse() {
        for scenario in regressions() {
            assert_eq!(Scenario::parse(&scenario.to_string()), Ok(scenario));
        }
    }

    #[test]
    fn a_bad_scenario_says_what_to_write() {
        let e = Scenario::parse("thread 0: push(1)").unwrap_err();
        assert!(e.contains("use add(n), remove() or snapshot()"), "{e}");
        let e = Scenario::parse("thread 1: remove()").unwrap_err();
        assert!(e.contains("expected `thread 0`"), "{e}");
    }
}
