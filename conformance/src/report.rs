//! Verdicts and failure reports.
//!
//! Every failure says, in this order: exercise, property, implementation, runtime; what
//! was expected and what was seen; the minimal scenario; the seed or schedule; and one
//! command that replays it. Messages are lower case and name the bug in the student's
//! terms ("item 3 was removed twice").

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an oracle saw wrong in one run, before the runner adds where and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// What the contract promises.
    pub expected: String,
    /// What happened instead.
    pub seen: String,
    /// What kind of failure it is, for code that must tell them apart (the text is
    /// for people).
    #[serde(default)]
    pub kind: Kind,
}

/// What kind of failure a [`Violation`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An oracle judged an outcome or history that the contract forbids.
    #[default]
    Contract,
    /// Every thread was blocked (loom, shuttle).
    Deadlock,
    /// Two unsynchronized accesses to one cell (loom).
    Race,
    /// An execution ran past the model checker's step or branch limit.
    Spin,
    /// The implementation panicked, or its process crashed.
    Panic,
    /// No progress over a whole window on real threads or processes: a deadlock, a
    /// lost wake-up or a livelock, since slowness alone never stops progress.
    Stall,
    /// The check was still making progress when its time budget ran out. Not a
    /// contract violation: a grade reports it as timed out.
    OverBudget,
}

impl Violation {
    /// A contract violation with the two halves of its message.
    pub fn new(expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            seen: seen.into(),
            kind: Kind::Contract,
        }
    }

    /// The same violation, of kind `kind`.
    pub fn of_kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, but {}", self.expected, self.seen)
    }
}

/// Where a check ran: the first four fields of every report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The exercise module, e.g. `shared_list`.
    pub exercise: &'static str,
    /// The property, e.g. `linearizable`.
    pub property: &'static str,
    /// The implementation's type path, as the user wrote it.
    pub implementation: String,
    /// `std`, `loom`, `shuttle` or `process`.
    pub runtime: &'static str,
    /// The libtest name of the test that ran the check, used in the replay command.
    pub test: String,
    /// The package holding that test.
    pub package: String,
    /// The test target (integration test binary) holding that test.
    pub target: String,
}

/// A failed check: everything a student needs to understand and replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Where the check ran.
    pub context: Context,
    /// What went wrong.
    pub violation: Violation,
    /// The minimal scenario that shows it, as text.
    pub scenario: String,
    /// The seed or schedule that reproduces it, with how to use it.
    pub schedule: String,
    /// Extra environment for the replay command, e.g. `RACECOURSE_SEED=12`.
    pub replay_env: Vec<(String, String)>,
}

impl Failure {
    /// The one command that replays this failure.
    pub fn replay_command(&self) -> String {
        let mut cmd = String::new();
        for (k, v) in &self.replay_env {
            cmd.push_str(&format!("{k}={v} "));
        }
        cmd.push_str(&format!(
            "cargo test -p {} --test {} -- --exact {}",
            self.context.package, self.context.target, self.context.test
        ));
        cmd
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.context;
        writeln!(f, "{}::{} failed", c.exercise, c.property)?;
        writeln!(f, "  implementation: {}", c.implementation)?;
        writeln!(f, "  runtime:        {}", c.runtime)?;
        writeln!(f, "  expected:       {}", self.violation.expected)?;
        writeln!(f, "  seen:           {}", self.violation.seen)?;
        writeln!(f, "  scenario:       {}", self.scenario)?;
        writeln!(f, "  schedule:       {}", self.schedule)?;
        write!(f, "  replay:         {}", self.replay_command())
    }
}

impl std::error::Error for Failure {}

/// The outcome of one check.
pub type Verdict = Result<(), Box<Failure>>;
