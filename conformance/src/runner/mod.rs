//! Runners: execute one check many times on one runtime and turn the first violation
//! into a [`Found`] that says how to reproduce it.
//!
//! A check is a closure that runs a scenario once and judges it, returning
//! `Err(Violation)` when the contract is broken. Runners differ in how they vary the
//! interleaving:
//! - [`std_rt`]: real threads, many trials, each under a deadline that turns a hang
//!   into a failure;
//! - [`shuttle_rt`]: shuttle's random and PCT schedulers, one fixed seed per iteration,
//!   so a failure names the seed that replays it;
//! - [`loom_rt`]: loom's exhaustive exploration (preemption-bounded beyond two threads).
//!
//! Panics inside a check (a student's `unwrap`, a loom deadlock, a shuttle deadlock)
//! are caught and reported as violations; they never escape a runner.

pub mod loom_rt;
pub mod shuttle_rt;
pub mod std_rt;

use std::any::Any;
use std::fmt;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use crate::report::Violation;

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
pub fn drawn<S, E>(strategy: S, cases: u32, explore: E) -> Result<(), Finding>
where
    S: Strategy,
    S::Value: std::fmt::Display,
    E: Fn(S::Value) -> Result<(), Found>,
{
    let last = std::cell::RefCell::new(None::<Found>);
    let mut runner = TestRunner::new(proptest_config(cases));
    let result = runner.run(&strategy, |scenario| {
        explore(scenario).map_err(|found| {
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

/// How a panic out of a check is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PanicKind {
    /// Every thread was blocked (loom, shuttle).
    Deadlock,
    /// Two unsynchronized accesses to one cell (loom).
    Race,
    /// An execution ran past the checker's step or branch limit.
    Spin,
    /// Anything else: the implementation itself panicked.
    Panic,
}

impl PanicKind {
    /// Classifies a panic message from the model checkers or the implementation.
    pub(crate) fn of(message: &str) -> PanicKind {
        let lower = message.to_lowercase();
        if lower.contains("deadlock") {
            PanicKind::Deadlock
        } else if lower.contains("causality violation") {
            PanicKind::Race
        } else if lower.contains("maximum number of branches") || lower.contains("exceeded") {
            PanicKind::Spin
        } else {
            PanicKind::Panic
        }
    }
}

/// Names the usual model-checker failures in the student's terms.
pub(crate) fn describe_panic(message: &str) -> Violation {
    let first = message.lines().next().unwrap_or("").trim();
    match PanicKind::of(message) {
        PanicKind::Deadlock => Violation::new(
            "every thread to make progress",
            format!("the threads deadlocked: every thread was blocked ({first})"),
        ),
        PanicKind::Race => Violation::new(
            "every access to shared data to be synchronized",
            format!("two threads accessed the same data without a lock ({first})"),
        ),
        PanicKind::Spin => Violation::new(
            "every thread to finish",
            format!("a thread kept running without progress: a spin loop? ({first})"),
        ),
        PanicKind::Panic => {
            Violation::new("no panic", format!("the implementation panicked: {first}"))
        }
    }
}

/// Runs `f` and catches a panic as a violation.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Violation> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(violation_from_panic)
}
