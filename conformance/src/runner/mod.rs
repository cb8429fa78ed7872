//! Runners: execute one check many times on one runtime and turn the first violation
//! into a [`Found`] that says how to reproduce it.
//!
//! A check is a closure that runs a scenario once and judges it, returning
//! `Err(Violation)` when the contract is broken. Runners differ in how they vary the
//! interleaving:
//! - [`std_rt`]: real threads, many trials, each watched for progress: a trial fails
//!   only when no operation completes for a whole window, never for being slow;
//! - [`shuttle_rt`]: shuttle's random and PCT schedulers, one fixed seed per iteration,
//!   so a failure names the seed that replays it;
//! - [`loom_rt`]: loom's exhaustive exploration (preemption-bounded beyond two threads).
//!
//! Panics inside a check (a student's `unwrap`, a loom deadlock, a shuttle deadlock)
//! are caught and reported as violations; they never escape a runner.

pub mod loom_rt;
pub mod shuttle_rt;
pub mod std_rt;
pub mod watch;

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use crate::report::{Kind, Violation};

/// Where a thread implementation runs, or `Process` for real OS processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// Real OS threads, stress trials.
    Std,
    /// shuttle's randomized and PCT schedulers.
    Shuttle,
    /// loom's exhaustive exploration.
    Loom,
    /// Real OS processes.
    Process,
}

impl Runtime {
    /// Every runtime, in report order.
    pub const ALL: [Runtime; 4] = [
        Runtime::Std,
        Runtime::Shuttle,
        Runtime::Loom,
        Runtime::Process,
    ];

    /// The runtime with this name (`std`, `shuttle`, `loom`, `process`).
    pub fn named(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|rt| rt.name() == name)
    }

    /// The name used in test names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Std => "std",
            Runtime::Shuttle => "shuttle",
            Runtime::Loom => "loom",
            Runtime::Process => "process",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A violation together with how the runner reached it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Found {
    /// What went wrong.
    pub violation: Violation,
    /// The seed or schedule, in words.
    pub schedule: String,
    /// Environment that makes a rerun take the same path, if any.
    pub replay_env: Vec<(String, String)>,
}

/// One run of a scenario, judged: `Err` when the contract was broken.
pub type Check = dyn Fn() -> Result<(), Violation> + Send + Sync + 'static;

/// A failure before it is placed in a test: what was found, and the minimal scenario
/// that shows it, as text.
pub type Finding = (Found, String);

/// proptest configuration with a fixed seed: every run draws the same scenarios.
fn proptest_config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5ace_c0de),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    }
}

/// Draws scenarios (any displayable value) with proptest and explores each with `explore`; on failure,
/// proptest shrinks the scenario and the report carries the minimal one.
///
/// Two kinds of failure are not shrunk. A stall (no progress on real threads over a
/// whole window) costs a window to reproduce, and each shrinking step would cost
/// another; a time-out is no verdict on the scenario. After either, the remaining
/// cases pass at once, so proptest stops shrinking and the report carries the scenario
/// that showed it. Before each scenario the isolated child notes it, so that a check
/// killed from outside still names what it was exploring.
pub fn drawn<S, E>(strategy: S, cases: u32, explore: E) -> Result<(), Finding>
where
    S: Strategy,
    S::Value: std::fmt::Display,
    E: Fn(S::Value) -> Result<(), Found>,
{
    let last = std::cell::RefCell::new(None::<Found>);
    let settled = std::cell::Cell::new(false);
    let mut runner = TestRunner::new(proptest_config(cases));
    let result = runner.run(&strategy, |scenario| {
        if settled.get() {
            return Ok(());
        }
        crate::isolate::note(&scenario.to_string(), None);
        explore(scenario).map_err(|found| {
            if matches!(found.violation.kind, Kind::Stall | Kind::OverBudget) {
                settled.set(true);
            }
            let message = found.violation.to_string();
            *last.borrow_mut() = Some(found);
            TestCaseError::fail(message)
        })
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(_, minimal)) => {
            let found = last
                .into_inner()
                .expect("a failing case records what it found");
            Err((found, minimal.to_string()))
        }
        Err(TestError::Abort(reason)) => Err((
            Found {
                violation: Violation::new(
                    "scenarios to run",
                    format!("proptest aborted: {reason}"),
                ),
                schedule: "proptest, fixed seed".to_string(),
                replay_env: Vec::new(),
            },
            "none".to_string(),
        )),
    }
}

/// Turns a caught panic into a violation, keeping a [`Violation`] payload as it is.
pub(crate) fn violation_from_panic(payload: Box<dyn Any + Send>) -> Violation {
    if let Some(v) = payload.downcast_ref::<Violation>() {
        return v.clone();
    }
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    };
    describe_panic(&message)
}

/// A thread of a scenario panicked: the panic's own message, quoted, after who it was
/// (`in thread 1`); a model checker's deadlock report keeps its kind.
pub(crate) fn panicked(who: impl fmt::Display, payload: Box<dyn Any + Send>) -> Violation {
    let violation = violation_from_panic(payload);
    Violation {
        seen: format!("{who}: {}", violation.seen),
        ..violation
    }
}

/// A model checker's "deadlock" restated as `meaning`, what waited for what in the
/// scenario at hand; any other violation as it is.
pub(crate) fn deadlock_means(meaning: Violation, violation: Violation) -> Violation {
    if violation.kind == Kind::Deadlock {
        meaning.of_kind(Kind::Deadlock)
    } else {
        violation
    }
}

impl Found {
    /// [`deadlock_means`] on the violation found.
    pub(crate) fn deadlock_means(self, meaning: Violation) -> Found {
        Found {
            violation: deadlock_means(meaning, self.violation),
            ..self
        }
    }
}

/// How a panic message from the model checkers or the implementation is to be read.
pub(crate) fn kind_of_panic(message: &str) -> Kind {
    let lower = message.to_lowercase();
    if lower.contains("deadlock") {
        Kind::Deadlock
    } else if lower.contains("causality violation") {
        Kind::Race
    } else if lower.contains("maximum number of branches") || lower.contains("exceeded") {
        Kind::Spin
    } else {
        Kind::Panic
    }
}

/// Names the usual model-checker failures in the student's terms.
pub(crate) fn describe_panic(message: &str) -> Violation {
    let first = message.lines().next().unwrap_or("").trim();
    let kind = kind_of_panic(message);
    let violation = match kind {
        Kind::Deadlock => Violation::new(
            "every thread to make progress",
            format!("the threads deadlocked: every thread was blocked ({first})"),
        ),
        Kind::Race => Violation::new(
            "every access to shared data to be synchronized",
            format!("two threads accessed the same data without a lock ({first})"),
        ),
        Kind::Spin => Violation::new(
            "every thread to finish",
            format!("a thread kept running without progress: a spin loop? ({first})"),
        ),
        _ => Violation::new("no panic", format!("the implementation panicked: {first}")),
    };
    violation.of_kind(kind)
}

/// Runs `f` and catches a panic as a violation.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Violation> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(violation_from_panic)
}

/// The progress of one run of a scenario: operations completed, and whether the
/// runner asks the run to stop early.
///
/// A scenario calls [`tick`](Self::tick) after every operation it completes; on real
/// threads the [`std_rt`] runner watches the count and fails a trial only when it stops
/// moving for a whole window (a stall), and asks a slow trial to stop once the check's
/// time budget is spent ([`should_stop`](Self::should_stop)): a scenario that honours it
/// judges the operations it completed. Every tick also beats this process's
/// [heartbeat](racecourse_impl::process::heartbeat), which the isolating parent
/// watches the same way. Under loom and shuttle the count is a std atomic, invisible to
/// the model checkers, and nobody asks a run to stop.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<ProgressState>);

#[derive(Debug, Default)]
struct ProgressState {
    /// Operations completed so far.
    done: AtomicU64,
    /// Set by the runner once the check's time budget is spent.
    stop: AtomicBool,
}

impl Progress {
    /// A fresh count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one completed operation.
    pub fn tick(&self) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
        racecourse_impl::process::heartbeat::beat();
    }

    /// Operations completed so far.
    pub fn done(&self) -> u64 {
        self.0.done.load(Ordering::Relaxed)
    }

    /// Whether the runner asks the run to stop before its next operation.
    pub fn should_stop(&self) -> bool {
        self.0.stop.load(Ordering::Relaxed)
    }

    /// Asks the run to stop before its next operation.
    pub(crate) fn request_stop(&self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads a whole number of seconds from the environment variable `name`.
pub(crate) fn secs_from_env(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .unwrap_or(default)
}
