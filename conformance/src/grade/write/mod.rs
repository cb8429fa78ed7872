//! Report writers: terminal table, Gradescope and Exercism `results.json`, JUnit XML,
//! Markdown summary, class CSV.
//!
//! Every writer is a pure function from the [`model`](super::model) to a `String`: the
//! caller decides where it goes. The helpers here hold what the formats share (how a
//! number of points reads, which problems of a submission are worth showing, and what
//! each says), so that the six reports never disagree.

mod csv;
mod exercism;
mod gradescope;
mod junit;
mod markdown;
mod table;

pub use csv::csv;
pub use exercism::exercism;
pub use gradescope::gradescope;
pub use junit::junit;
pub use markdown::markdown;
pub use table::table;

use super::model::{
    ClassReport, ExerciseReport, ExerciseStatus, Outcome, PropertyReport, SubmissionReport,
};
use crate::report::Status;

/// Points as people read them: at most 2 decimals, no trailing zeros (`10`, `7.5`,
/// `3.33`).
fn points(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    // A tiny negative rounding error must not print as `-0`.
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// `earned/possible`, e.g. `7.5/10`.
fn fraction(earned: f64, possible: f64) -> String {
    format!("{}/{}", points(earned), points(possible))
}

/// How many of an exercise's properties passed, and how many it has (reviews, which
/// judge nothing, left out).
fn passed(exercise: &ExerciseReport) -> (usize, usize) {
    let checks = exercise.properties.iter().filter(|p| !p.review);
    let pass = checks.clone().filter(|p| p.status == Status::Pass).count();
    (pass, checks.count())
}

/// The same over every exercise of a submission.
fn passed_total(submission: &SubmissionReport) -> (usize, usize) {
    submission
        .exercises
        .iter()
        .map(passed)
        .fold((0, 0), |(p, n), (q, m)| (p + q, n + m))
}

/// `attempted`, `not attempted` or `error`.
fn exercise_word(status: &ExerciseStatus) -> &'static str {
    match status {
        ExerciseStatus::Attempted => "attempted",
        ExerciseStatus::NotAttempted => "not attempted",
        ExerciseStatus::Error { .. } => "error",
    }
}

/// `graded`, `invalid`, `build failed` or `over budget`.
fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Graded => "graded",
        Outcome::Invalid { .. } => "invalid",
        Outcome::BuildFailed { .. } => "build failed",
        Outcome::OverBudget { .. } => "over budget",
    }
}

/// Whether nothing of the submission could be checked, so its exercises and
/// properties have nothing to add to what the outcome says.
fn unchecked(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Invalid { .. } | Outcome::BuildFailed { .. }
    )
}

/// What a student must read about the outcome, unless it was graded normally.
fn outcome_problem(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Graded => None,
        Outcome::Invalid { message } => Some(message.clone()),
        Outcome::BuildFailed { first_error } => Some(first_error.clone()),
        Outcome::OverBudget { budget_seconds } => Some(format!(
            "the tests ran past the budget of {budget_seconds} seconds: the tests that had \
             not finished are reported as timed out"
        )),
    }
}

/// The sentence that introduces [`outcome_problem`]'s text.
fn outcome_heading(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Graded => "graded",
        Outcome::Invalid { .. } => {
            "the submission's declaration or manifest is wrong; nothing was built"
        }
        Outcome::BuildFailed { .. } => "the submission does not build; the compiler's first error",
        Outcome::OverBudget { .. } => "the submission ran over its time budget",
    }
}

/// Why the runtime's test left no verdict, for a runtime listed in `missing`.
fn no_verdict(runtime: &str) -> String {
    format!(
        "no verdict: the {runtime} test was still running when the budget ran out, or its \
         test binary died"
    )
}

/// Whether a property needs its failure shown: it failed, timed out or errored.
fn is_problem(property: &PropertyReport) -> bool {
    matches!(
        property.status,
        Status::Fail | Status::TimedOut | Status::Error
    )
}

/// What went wrong with a property, one text per test: the failure reports, a line for
/// a test that did not pass but left no report, and one per runtime without a verdict.
fn property_details(exercise: &ExerciseReport, property: &PropertyReport) -> Vec<String> {
    let mut out = Vec::new();
    for record in &property.records {
        match record.failure_text() {
            Some(text) => out.push(text),
            None if record.status != Status::Pass => out.push(format!(
                "{}::{} {} on {}",
                exercise.name,
                property.name,
                record.status.word(),
                record.runtime
            )),
            None => {}
        }
    }
    out.extend(property.missing.iter().map(|r| no_verdict(r)));
    out
}

/// [`property_details`] as one text, never empty: the status word if nothing else is
/// known.
fn property_text(exercise: &ExerciseReport, property: &PropertyReport) -> String {
    let details = property_details(exercise, property);
    if details.is_empty() {
        format!(
            "{}::{} {}",
            exercise.name,
            property.name,
            property.status.word()
        )
    } else {
        details.join("\n\n")
    }
}

/// The problems of one submission worth showing, in report order: first the outcome,
/// then exercises that could not be checked, then properties that did not pass.
#[derive(Debug)]
enum Problem<'a> {
    /// The outcome was not a normal grade; the text says why.
    Outcome(String),
    /// A declared exercise could not be checked.
    Exercise(&'a ExerciseReport, &'a str),
    /// A property failed, timed out or errored.
    Property(&'a ExerciseReport, &'a PropertyReport),
    /// A review found that the submission's output differs from the reference's (not a
    /// failure: shown so that a reviewer sees how): the runtime and the diff.
    Review(&'a ExerciseReport, &'a PropertyReport, &'a str, &'a str),
}

/// The [`Problem`]s of `submission`. When nothing could be checked, only the outcome is
/// listed: every exercise would just repeat it.
fn problems(submission: &SubmissionReport) -> Vec<Problem<'_>> {
    let mut out: Vec<Problem<'_>> = outcome_problem(&submission.outcome)
        .map(Problem::Outcome)
        .into_iter()
        .collect();
    if unchecked(&submission.outcome) {
        return out;
    }
    for exercise in &submission.exercises {
        match &exercise.status {
            ExerciseStatus::NotAttempted => {}
            ExerciseStatus::Error { message } => out.push(Problem::Exercise(exercise, message)),
            ExerciseStatus::Attempted => {
                for p in &exercise.properties {
                    if is_problem(p) {
                        out.push(Problem::Property(exercise, p));
                    }
                    for (runtime, diff) in p.differences() {
                        out.push(Problem::Review(exercise, p, runtime, diff));
                    }
                }
            }
        }
    }
    out
}

/// The exercise names of a class, in registry order: the columns of the class tables.
/// Every submission lists every exercise, but the union keeps a partial report whole.
fn exercise_columns(class: &ClassReport) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for e in class.submissions.iter().flat_map(|s| &s.exercises) {
        if !names.contains(&e.name.as_str()) {
            names.push(&e.name);
        }
    }
    names
}

/// Whole seconds, for formats that want an integer; never negative.
fn whole_seconds(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod fixture {
    //! A small class, by hand: alice passes everything she attempted; bob fails one
    //! property with a report full of characters every format must escape, and one of
    //! his tests left no verdict; carol does not build.

    use std::collections::BTreeMap;

    use crate::grade::model::{
        ClassReport, ExerciseReport, ExerciseStatus, Outcome, PropertyReport, SubmissionReport,
    };
    use crate::report::{FailureRecord, Kind, Record, Status};

    /// The failure's `seen` text: `<`, `&`, `"`, `'`, `|`, a comma, newlines, a fence,
    /// and an escape character that XML 1.0 does not allow.
    pub(super) const NASTY: &str =
        "<T> & \"co\" | 'x', then\nline two\r\n```\nfenced\n```\n\u{1b}[31mred";

    /// The BuildFailed submission's first compiler error.
    pub(super) const BUILD_ERROR: &str =
        "error[E0308]: mismatched types\n --> src/lib.rs:3:5\n  | expected `Vec<u32>`, found `&str`";

    fn record(
        exercise: &str,
        property: &str,
        runtime: &str,
        failure: Option<FailureRecord>,
    ) -> Record {
        let status = failure
            .as_ref()
            .map_or(Status::Pass, |f| Record::status_of(f.kind));
        Record {
            exercise: exercise.into(),
            property: property.into(),
            runtime: runtime.into(),
            implementation: "student::Impl".into(),
            test: format!("{exercise}::{property}::{runtime}::student"),
            status,
            failure,
            seconds: 0.25,
            review: None,
        }
    }

    fn property(
        exercise: &str,
        name: &str,
        runtimes: &[&str],
        failing: Option<(&str, FailureRecord)>,
        missing: &[&str],
        max_points: f64,
    ) -> PropertyReport {
        let records: Vec<Record> = runtimes
            .iter()
            .filter(|rt| !missing.contains(rt))
            .map(|rt| {
                let failure = failing
                    .as_ref()
                    .filter(|(on, _)| on == rt)
                    .map(|(_, f)| f.clone());
                record(exercise, name, rt, failure)
            })
            .collect();
        let status = if let Some(r) = records.iter().find(|r| r.status != Status::Pass) {
            r.status
        } else if missing.is_empty() {
            Status::Pass
        } else {
            Status::TimedOut
        };
        PropertyReport {
            review: false,
            name: name.into(),
            meaning: format!("{name} holds on every run"),
            status,
            points: if status == Status::Pass {
                max_points
            } else {
                0.0
            },
            max_points,
            runtimes: runtimes.iter().map(|r| r.to_string()).collect(),
            records,
            missing: missing.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn exercise(
        name: &str,
        catalogue: &str,
        status: ExerciseStatus,
        properties: Vec<PropertyReport>,
    ) -> ExerciseReport {
        let properties = match status {
            ExerciseStatus::Attempted => properties,
            // Nothing ran: every property reports the exercise's status.
            _ => properties
                .into_iter()
                .map(|p| PropertyReport {
                    status: if status == ExerciseStatus::NotAttempted {
                        Status::NotAttempted
                    } else {
                        Status::Error
                    },
                    points: 0.0,
                    records: Vec::new(),
                    missing: Vec::new(),
                    ..p
                })
                .collect(),
        };
        ExerciseReport {
            name: name.into(),
            catalogue: catalogue.into(),
            title: format!("the {name} exercise"),
            declared: BTreeMap::new(),
            score: properties.iter().map(|p| p.points).sum(),
            max_score: properties.iter().map(|p| p.max_points).sum(),
            status,
            properties,
        }
    }

    /// The three exercises, passing unless `failing` says otherwise.
    fn exercises(
        statuses: [ExerciseStatus; 3],
        failing: Option<(&str, FailureRecord)>,
        missing: &[&str],
    ) -> Vec<ExerciseReport> {
        let all = ["std", "shuttle", "loom"];
        let [s0, s1, s2] = statuses;
        vec![
            exercise(
                "shared_list",
                "E1",
                s0,
                vec![
                    property("shared_list", "linearizable", &all, None, &[], 5.0),
                    property("shared_list", "no_lost_items", &all, None, missing, 5.0),
                ],
            ),
            exercise(
                "counter",
                "E2",
                s1,
                vec![
                    property(
                        "counter",
                        "mutual_exclusion",
                        &all,
                        failing,
                        &[],
                        10.0 / 3.0,
                    ),
                    property("counter", "final_count", &all, None, &[], 10.0 / 3.0),
                    property("counter", "no_deadlock", &all, None, &[], 10.0 / 3.0),
                ],
            ),
            exercise(
                "shm_counter",
                "E5",
                s2,
                vec![property(
                    "shm_counter",
                    "exact_count",
                    &["process"],
                    None,
                    &[],
                    10.0,
                )],
            ),
        ]
    }

    fn submission(
        name: &str,
        outcome: Outcome,
        exercises: Vec<ExerciseReport>,
    ) -> SubmissionReport {
        SubmissionReport {
            name: name.into(),
            path: format!("submissions/{name}"),
            package: Some("student".into()),
            outcome,
            exercises,
            seconds: 42.6,
        }
    }

    pub(super) fn alice() -> SubmissionReport {
        use ExerciseStatus::*;
        submission(
            "alice",
            Outcome::Graded,
            exercises([Attempted, Attempted, NotAttempted], None, &[]),
        )
    }

    pub(super) fn bob() -> SubmissionReport {
        use ExerciseStatus::*;
        let failure = FailureRecord {
            kind: Kind::Race,
            expected: "no two increments interleave".into(),
            seen: NASTY.into(),
            scenario: "2 threads x 1 increment".into(),
            schedule: "loom: exhaustive".into(),
            replay: "cargo test -p harness --test counter -- --exact counter::mutual_exclusion::loom::student".into(),
        };
        submission(
            "bob, \"the builder\"",
            Outcome::Graded,
            exercises(
                [Attempted, Attempted, Attempted],
                Some(("loom", failure)),
                &["loom"],
            ),
        )
    }

    pub(super) fn carol() -> SubmissionReport {
        let error = || ExerciseStatus::Error {
            message: "the submission does not build".into(),
        };
        submission(
            "carol",
            Outcome::BuildFailed {
                first_error: BUILD_ERROR.into(),
            },
            exercises([error(), error(), ExerciseStatus::NotAttempted], None, &[]),
        )
    }

    pub(super) fn class() -> ClassReport {
        ClassReport {
            submissions: vec![alice(), bob(), carol()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_print_at_most_two_decimals_without_trailing_zeros() {
        assert_eq!(points(10.0), "10");
        assert_eq!(points(7.5), "7.5");
        assert_eq!(points(10.0 / 3.0), "3.33");
        assert_eq!(points(0.0), "0");
        assert_eq!(points(-0.0001), "0");
        assert_eq!(points(100.0), "100");
        assert_eq!(fraction(7.5, 10.0), "7.5/10");
    }

    #[test]
    fn a_submission_that_did_not_build_shows_only_its_build_error() {
        let carol = fixture::carol();
        let problems = problems(&carol);
        assert!(
            matches!(problems.as_slice(), [Problem::Outcome(text)] if text == fixture::BUILD_ERROR)
        );
    }

    #[test]
    fn failing_and_unfinished_properties_are_problems_and_passing_ones_are_not() {
        let bob = fixture::bob();
        let names: Vec<String> = problems(&bob)
            .iter()
            .map(|p| match p {
                Problem::Property(e, p) => format!("{}::{}", e.name, p.name),
                other => panic!("unexpected problem {other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            ["shared_list::no_lost_items", "counter::mutual_exclusion"]
        );
        assert!(problems(&fixture::alice()).is_empty());
    }
}
