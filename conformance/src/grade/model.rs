//! What a grading run found: the data every report format is written from.
//!
//! A [`ClassReport`] holds one [`SubmissionReport`] per submission; each holds one
//! [`ExerciseReport`] per exercise of the registry (attempted or not); each of those
//! one [`PropertyReport`] per property, with the [`Record`]s of its generated tests
//! (one per runtime). Points come from the rubric and are already computed here, so a
//! writer only formats.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::{Record, Status};

/// Every submission of one grading run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClassReport {
    /// In the order they were given.
    pub submissions: Vec<SubmissionReport>,
}

/// One submission's grade.
#[derive(Clone, Debug, Serialize)]
pub struct SubmissionReport {
    /// Its name in reports: the directory's name (a student id, say).
    pub name: String,
    /// The directory that was graded.
    pub path: String,
    /// The Cargo package name, if the manifest could be read.
    pub package: Option<String>,
    /// Whether it could be graded at all.
    pub outcome: Outcome,
    /// One per exercise of the registry, in registry order.
    pub exercises: Vec<ExerciseReport>,
    /// Wall time spent on it (build and tests).
    pub seconds: f64,
}

/// Whether a submission could be graded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Built and ran; the exercises say how it did.
    Graded,
    /// Its declaration (`[package.metadata.racecourse]`) or manifest is wrong: nothing
    /// was built. `message` says what and what to do.
    Invalid {
        /// The problem, in one paragraph.
        message: String,
    },
    /// It does not compile: `first_error` is the compiler's first error, as rendered.
    BuildFailed {
        /// The first error the compiler printed.
        first_error: String,
    },
    /// Its tests ran past the per-submission budget; the tests that had finished keep
    /// their verdicts, the others are timed out.
    OverBudget {
        /// The budget, in seconds.
        budget_seconds: u64,
    },
}

/// One exercise of a submission.
#[derive(Clone, Debug, Serialize)]
pub struct ExerciseReport {
    /// The exercise's name, e.g. `counter`.
    pub name: String,
    /// Where it is in the catalogue, e.g. `E5`.
    pub catalogue: String,
    /// What it is, in a few words.
    pub title: String,
    /// Attempted (declared) or not; an error if it could not be checked.
    pub status: ExerciseStatus,
    /// The declaration: slot name -> type path in the submission.
    pub declared: BTreeMap<String, String>,
    /// One per property, in report order.
    pub properties: Vec<PropertyReport>,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
}

/// Whether an exercise was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExerciseStatus {
    /// Declared and checked.
    Attempted,
    /// Not declared by the submission.
    NotAttempted,
    /// Declared, but it could not be checked (the submission does not build, or its
    /// declaration is wrong): `message` says why.
    Error {
        /// Why, in one paragraph.
        message: String,
    },
}

/// One property of an exercise: its tests on every runtime, and the points.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    /// The property's name, e.g. `linearizable`.
    pub name: String,
    /// What it means, in one line.
    pub meaning: String,
    /// A review (compares with the reference, judges nothing): see
    /// [`PropertyInfo::review`](crate::property::PropertyInfo::review).
    pub review: bool,
    /// Pass only if every runtime's test passed; otherwise the worst of them (fail,
    /// then error, then timed out), or not attempted.
    pub status: Status,
    /// Points earned: all or nothing.
    pub points: f64,
    /// Points possible (from the rubric).
    pub max_points: f64,
    /// The runtimes that check it, in order.
    pub runtimes: Vec<String>,
    /// The verdict of each runtime's test that has one (a test that never reported is
    /// listed in `missing`).
    pub records: Vec<Record>,
    /// Runtimes whose test left no verdict (it was still running when the budget ran
    /// out, or the test binary died).
    pub missing: Vec<String>,
}

impl PropertyReport {
    /// For a review: how the submission's output differs from the reference's, per
    /// runtime that found a difference.
    pub fn differences(&self) -> Vec<(&str, &str)> {
        self.records
            .iter()
            .filter_map(|r| Some((r.runtime.as_str(), r.review.as_deref()?)))
            .collect()
    }

    /// The failure reports of this property's tests, as `cargo test` prints them.
    pub fn failure_texts(&self) -> Vec<String> {
        self.records
            .iter()
            .filter_map(Record::failure_text)
            .collect()
    }
}

impl SubmissionReport {
    /// Points earned over every exercise.
    pub fn score(&self) -> f64 {
        self.exercises.iter().map(|e| e.score).sum()
    }

    /// Points possible over every exercise.
    pub fn max_score(&self) -> f64 {
        self.exercises.iter().map(|e| e.max_score).sum()
    }

    /// Every property report of every exercise, with its exercise.
    pub fn properties(&self) -> impl Iterator<Item = (&ExerciseReport, &PropertyReport)> {
        self.exercises
            .iter()
            .flat_map(|e| e.properties.iter().map(move |p| (e, p)))
    }
}
