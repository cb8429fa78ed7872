//! Gradescope's autograder `results.json`, for one submission.
//!
//! Checked against Gradescope's "Autograder Specifications" (results.json output
//! format, <https://gradescope-autograders.readthedocs.io/en/latest/specs/>, and its
//! source in `gradescope/autograder_samples`, `docs/specs.md`): the top level takes
//! `score` (it overrides the sum of the tests' scores, so it is written as exactly that
//! sum), `execution_time` (seconds), `output`, `visibility`, `stdout_visibility` and
//! `tests`; there is no top-level `max_score`. Each test takes `score`, `max_score`,
//! `status` (`passed` or `failed`), `name`, `output` (shown in a `<pre>`, collapsed),
//! `tags` and `visibility`. Visibility values are `hidden`, `after_due_date`,
//! `after_published` and `visible` (the default).

use serde::Serialize;

use super::{
    fraction, outcome_heading, outcome_problem, passed_total, points, property_text, whole_seconds,
};
use crate::grade::model::{ExerciseReport, ExerciseStatus, PropertyReport, SubmissionReport};
use crate::report::Status;

/// The top level of `results.json`, fields in the order the specification lists them.
#[derive(Serialize)]
struct Results {
    score: f64,
    execution_time: u64,
    output: String,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

/// One test case: one property of one exercise.
#[derive(Serialize)]
struct Test {
    name: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    tags: [String; 2],
    visibility: &'static str,
}

/// Gradescope's `results.json` for one submission: one test per property of every
/// exercise (a not-attempted exercise's properties score 0), named
/// `exercise::property` and tagged with the exercise and its catalogue entry; the
/// top-level score is the sum of the tests' scores and the top-level output says how
/// the submission did, with the build error or the declaration problem if there is
/// one.
pub fn gradescope(submission: &SubmissionReport) -> String {
    let tests: Vec<Test> = submission
        .properties()
        .map(|(e, p)| test(submission, e, p))
        .collect();
    let results = Results {
        score: tests.iter().map(|t| t.score).sum(),
        execution_time: whole_seconds(submission.seconds),
        output: summary(submission),
        visibility: "visible",
        // Standard output is the grader's own log; everything a student needs is in
        // `output`.
        stdout_visibility: "hidden",
        tests,
    };
    serde_json::to_string_pretty(&results).expect("plain data with string keys always serializes")
}

fn test(submission: &SubmissionReport, e: &ExerciseReport, p: &PropertyReport) -> Test {
    Test {
        name: format!("{}::{}", e.name, p.name),
        score: p.points,
        max_score: p.max_points,
        // Status, not the score, says passed: a property worth 0 points can still fail.
        status: if p.status == Status::Pass {
            "passed"
        } else {
            "failed"
        },
        output: test_output(submission, e, p),
        tags: [e.name.clone(), e.catalogue.clone()],
        visibility: "visible",
    }
}

/// What a test case shows: the failure reports, why it was not checked, or what
/// passed.
fn test_output(submission: &SubmissionReport, e: &ExerciseReport, p: &PropertyReport) -> String {
    match &e.status {
        ExerciseStatus::NotAttempted => format!(
            "not attempted: the submission does not declare {} ({})",
            e.name, e.catalogue
        ),
        ExerciseStatus::Error { message } => format!("not checked: {message}"),
        ExerciseStatus::Attempted => match p.status {
            Status::Pass => format!("{}\npassed on {}", p.meaning, p.runtimes.join(", ")),
            Status::NotAttempted => match outcome_problem(&submission.outcome) {
                Some(problem) => format!("not checked: {problem}"),
                None => "not checked".to_string(),
            },
            _ => property_text(e, p),
        },
    }
}

/// The submission-wide output: points, properties passed, the outcome's problem and
/// which exercises were not attempted.
fn summary(s: &SubmissionReport) -> String {
    let (pass, all) = passed_total(s);
    let mut out = format!(
        "{}: {} points, {pass} of {all} properties passed.\n",
        s.name,
        fraction(s.score(), s.max_score())
    );
    if let Some(problem) = outcome_problem(&s.outcome) {
        out.push_str(&format!(
            "\n{}:\n\n{problem}\n",
            outcome_heading(&s.outcome)
        ));
    }
    for e in &s.exercises {
        let line = match &e.status {
            ExerciseStatus::Attempted => format!("{}: {}", e.name, fraction(e.score, e.max_score)),
            ExerciseStatus::NotAttempted => {
                format!("{}: not attempted (0/{})", e.name, points(e.max_score))
            }
            ExerciseStatus::Error { .. } => {
                format!("{}: not checked (0/{})", e.name, points(e.max_score))
            }
        };
        out.push_str(&format!("\n{line}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::fixture;
    use super::*;

    const VISIBILITY: [&str; 4] = ["hidden", "after_due_date", "after_published", "visible"];

    fn parse(s: &SubmissionReport) -> Value {
        serde_json::from_str(&gradescope(s)).expect("results.json is JSON")
    }

    #[test]
    fn gradescope_results_have_every_field_gradescope_reads() {
        for s in fixture::class().submissions {
            let v = parse(&s);
            assert!(v["score"].is_number(), "{v}");
            assert!(v["execution_time"].is_u64(), "{v}");
            assert!(v["output"].is_string(), "{v}");
            assert!(
                VISIBILITY.contains(&v["visibility"].as_str().unwrap()),
                "{v}"
            );
            assert!(
                VISIBILITY.contains(&v["stdout_visibility"].as_str().unwrap()),
                "{v}"
            );
            let tests = v["tests"].as_array().expect("tests is an array");
            assert_eq!(tests.len(), 6, "one test per property of every exercise");
            for t in tests {
                assert!(t["score"].is_number() && t["max_score"].is_number(), "{t}");
                assert!(t["name"].as_str().is_some_and(|n| n.contains("::")), "{t}");
                assert!(
                    ["passed", "failed"].contains(&t["status"].as_str().unwrap()),
                    "{t}"
                );
                assert!(
                    VISIBILITY.contains(&t["visibility"].as_str().unwrap()),
                    "{t}"
                );
                assert!(t["output"].is_string(), "{t}");
                assert_eq!(t["tags"].as_array().map(Vec::len), Some(2), "{t}");
            }
        }
    }

    #[test]
    fn gradescope_score_is_the_sum_of_its_tests() {
        for s in fixture::class().submissions {
            let v = parse(&s);
            let sum: f64 = v["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["score"].as_f64().unwrap())
                .sum();
            assert!((v["score"].as_f64().unwrap() - sum).abs() < 1e-9, "{v}");
            assert!((sum - s.score()).abs() < 1e-9);
        }
    }

    #[test]
    fn gradescope_tests_carry_failures_and_not_attempted_exercises_score_zero() {
        let v = parse(&fixture::bob());
        let tests = v["tests"].as_array().unwrap();
        let failing = tests
            .iter()
            .find(|t| t["name"] == "counter::mutual_exclusion")
            .unwrap();
        assert_eq!(failing["status"], "failed");
        assert_eq!(failing["score"].as_f64(), Some(0.0));
        assert!(failing["output"].as_str().unwrap().contains(fixture::NASTY));
        assert_eq!(failing["tags"], serde_json::json!(["counter", "E2"]));

        let alice = parse(&fixture::alice());
        let shm = alice["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "shm_counter::exact_count")
            .unwrap();
        assert_eq!(shm["score"].as_f64(), Some(0.0));
        assert_eq!(shm["max_score"].as_f64(), Some(10.0));
        assert!(shm["output"].as_str().unwrap().starts_with("not attempted"));
    }

    #[test]
    fn gradescope_output_holds_the_build_error() {
        let v = parse(&fixture::carol());
        assert!(
            v["output"].as_str().unwrap().contains(fixture::BUILD_ERROR),
            "{v}"
        );
        assert_eq!(v["score"].as_f64(), Some(0.0));
        assert!(v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "failed"));
    }
}
