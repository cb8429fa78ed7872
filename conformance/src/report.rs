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
    /// Not a failure: a review found that the implementation's output differs from the
    /// reference's (`seen` holds the difference). The test passes and reports it.
    Review,
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

/// How a generated test ended, as a grade reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every run accepted the implementation.
    Pass,
    /// The implementation broke the contract (or crashed, deadlocked, stalled).
    Fail,
    /// The check was still making progress when its budget (or the submission's) ran
    /// out: no contract violation was seen.
    TimedOut,
    /// The submission does not declare the exercise.
    NotAttempted,
    /// The check could not run: the submission does not build, or the harness failed.
    Error,
}

impl Status {
    /// The word used in tables: `pass`, `fail`, `timed out`, `not attempted`, `error`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::TimedOut => "timed out",
            Status::NotAttempted => "not attempted",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One generated test's verdict, in the structured form `racecourse grade` reads: each
/// generated test writes one when `RACECOURSE_VERDICTS` names a directory, so the
/// grade and `cargo test` can never disagree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The exercise, e.g. `counter`.
    pub exercise: String,
    /// The property, e.g. `mutual_exclusion`.
    pub property: String,
    /// `std`, `shuttle`, `loom` or `process`.
    pub runtime: String,
    /// The implementation's type path, as the test names it.
    pub implementation: String,
    /// The libtest name of the test.
    pub test: String,
    /// Pass, fail or timed out.
    pub status: Status,
    /// What went wrong, unless it passed.
    pub failure: Option<FailureRecord>,
    /// How long the test took.
    pub seconds: f64,
    /// For a review that found a difference: how the output differs from the
    /// reference's (a unified diff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// The report of a failed (or timed-out) test, field by field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// What kind of failure it is.
    pub kind: Kind,
    /// What the contract promises.
    pub expected: String,
    /// What happened instead.
    pub seen: String,
    /// The minimal scenario.
    pub scenario: String,
    /// The seed or schedule.
    pub schedule: String,
    /// The command that replays it.
    pub replay: String,
}

impl Failure {
    /// This failure as a record's failure part.
    pub fn record(&self) -> FailureRecord {
        FailureRecord {
            kind: self.violation.kind,
            expected: self.violation.expected.clone(),
            seen: self.violation.seen.clone(),
            scenario: self.scenario.clone(),
            schedule: self.schedule.clone(),
            replay: self.replay_command(),
        }
    }
}

impl Record {
    /// The status a failure of `kind` gives: over budget is timed out, anything else a
    /// failure.
    pub fn status_of(kind: Kind) -> Status {
        match kind {
            Kind::OverBudget => Status::TimedOut,
            _ => Status::Fail,
        }
    }

    /// The failure as the multi-line text `cargo test` prints.
    pub fn failure_text(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        Some(format!(
            "{}::{} failed\n  implementation: {}\n  runtime:        {}\n  expected:       {}\n  seen:           {}\n  scenario:       {}\n  schedule:       {}\n  replay:         {}",
            self.exercise, self.property, self.implementation, self.runtime, f.expected, f.seen, f.scenario, f.schedule, f.replay
        ))
    }
}
