//! Exercism's test runner `results.json`, version 3, for one submission.
//!
//! Checked against Exercism's "The Test Runner Interface"
//! (<https://exercism.org/docs/building/tooling/test-runners/interface>, source
//! `exercism/docs`, `building/tooling/test-runners/interface.md`):
//!
//! - top level: `version` (3 links tests to tasks), `status` is `pass` (all tests
//!   passed), `fail` (at least one test has status `fail` or `error`) or `error` (no
//!   test was executed, e.g. a compile error). `message` is required when the status is
//!   `error`, holds the compiler's error unchanged, and is limited to 65535 characters
//!   (fewer with multibyte characters, so the limit is counted here in bytes);
//!   otherwise it is null or absent. `tests` is required for `pass` and `fail`, in the
//!   order of the tests file (here: registry order, then report order).
//! - per test: `name` and `status` (`pass`, `fail`, `error`) are required; `message`
//!   is required for `fail` and `error` and null or absent otherwise, and is not limited
//!   in length; `test_code` should be present; `task_id` is an optional number, given
//!   only when a test belongs to exactly one task. `output` is for what the student's
//!   own code printed, limited to 500 characters: the verdict records do not capture
//!   it, so it is never written.

use serde::Serialize;

use super::{outcome_heading, outcome_problem, property_text, unchecked};
use crate::grade::model::{ExerciseReport, ExerciseStatus, PropertyReport, SubmissionReport};
use crate::report::Status;

/// The specification's limit on the top-level `message`.
const MESSAGE_LIMIT: usize = 65_535;

/// The top level of `results.json`.
#[derive(Serialize)]
struct Results {
    version: u8,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    tests: Vec<Test>,
}

/// One test: one property of an attempted exercise.
#[derive(Serialize)]
struct Test {
    name: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    test_code: String,
    task_id: usize,
}

/// Exercism's `results.json` (version 3) for one submission: one test per property of
/// every attempted exercise, linked by `task_id` to the exercise's 1-based position in
/// registry order. The status is `error`, with the problem as `message`, when no test
/// could run: the submission does not build, its declaration is wrong, it declares no
/// exercise, or none of its tests left a verdict.
pub fn exercism(submission: &SubmissionReport) -> String {
    let results = if unchecked(&submission.outcome) {
        let problem = outcome_problem(&submission.outcome).unwrap_or_default();
        error(
            format!("{}:\n\n{problem}", outcome_heading(&submission.outcome)),
            Vec::new(),
        )
    } else {
        graded(submission)
    };
    serde_json::to_string_pretty(&results).expect("plain data with string keys always serializes")
}

fn error(message: String, tests: Vec<Test>) -> Results {
    Results {
        version: 3,
        status: "error",
        message: Some(limited(message)),
        tests,
    }
}

/// The results of a submission that was built and run.
fn graded(submission: &SubmissionReport) -> Results {
    let tests: Vec<Test> = submission
        .exercises
        .iter()
        .enumerate()
        .filter(|(_, e)| e.status != ExerciseStatus::NotAttempted)
        .flat_map(|(i, e)| e.properties.iter().map(move |p| test(i + 1, e, p)))
        .collect();
    if tests.is_empty() {
        return error(
            "no exercise attempted: declare the exercises you implemented in \
             [package.metadata.racecourse]"
                .to_string(),
            tests,
        );
    }
    if tests.iter().all(|t| t.status == "error") {
        return error(errors(submission, &tests), tests);
    }
    let status = if tests.iter().all(|t| t.status == "pass") {
        "pass"
    } else {
        "fail"
    };
    Results {
        version: 3,
        status,
        message: None,
        tests,
    }
}

fn test(task_id: usize, e: &ExerciseReport, p: &PropertyReport) -> Test {
    let (status, message) = match (&e.status, p.status) {
        (ExerciseStatus::Error { message }, _) => ("error", Some(message.clone())),
        (_, Status::Pass) => ("pass", None),
        (_, Status::Fail) => ("fail", Some(property_text(e, p))),
        // Timed out, or no verdict: the test did not return one.
        (_, Status::TimedOut | Status::Error | Status::NotAttempted) => {
            ("error", Some(property_text(e, p)))
        }
    };
    Test {
        name: format!("{}::{}", e.name, p.name),
        status,
        message,
        test_code: format!("{}\nchecked on: {}", p.meaning, p.runtimes.join(", ")),
        task_id,
    }
}

/// Why no test left a verdict: the outcome's problem, else the exercises' errors, else
/// the first test's message.
fn errors(submission: &SubmissionReport, tests: &[Test]) -> String {
    let mut parts: Vec<String> = outcome_problem(&submission.outcome).into_iter().collect();
    for e in &submission.exercises {
        if let ExerciseStatus::Error { message } = &e.status {
            parts.push(format!("{}: {message}", e.name));
        }
    }
    if parts.is_empty() {
        parts.extend(tests.iter().find_map(|t| t.message.clone()));
    }
    parts.join("\n\n")
}

/// `message` cut to the specification's limit, at a character boundary, with a note
/// that it was cut.
fn limited(message: String) -> String {
    if message.len() <= MESSAGE_LIMIT {
        return message;
    }
    let note = "\n\n[message truncated: Exercism allows 65535 bytes]";
    let mut end = MESSAGE_LIMIT - note.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &message[..end])
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::fixture;
    use super::*;
    use crate::grade::model::Outcome;

    fn parse(s: &SubmissionReport) -> Value {
        serde_json::from_str(&exercism(s)).expect("results.json is JSON")
    }

    fn present(v: &Value, key: &str) -> bool {
        v.get(key).is_some_and(|m| !m.is_null())
    }

    /// Every rule of the interface that a file can be checked against by itself.
    fn assert_valid(v: &Value) {
        assert_eq!(v["version"], 3, "{v}");
        let status = v["status"].as_str().unwrap();
        assert!(["pass", "fail", "error"].contains(&status), "{v}");
        assert_eq!(
            present(v, "message"),
            status == "error",
            "message iff error: {v}"
        );
        if let Some(m) = v["message"].as_str() {
            assert!(!m.is_empty() && m.len() <= MESSAGE_LIMIT, "{v}");
        }
        let tests = v["tests"].as_array().expect("tests is an array");
        if status != "error" {
            assert!(!tests.is_empty(), "{v}");
        }
        for t in tests {
            assert!(t["name"].as_str().is_some_and(|n| !n.is_empty()), "{t}");
            let s = t["status"].as_str().unwrap();
            assert!(["pass", "fail", "error"].contains(&s), "{t}");
            assert_eq!(
                present(t, "message"),
                s != "pass",
                "message iff not pass: {t}"
            );
            assert!(t["task_id"].as_u64().is_some_and(|id| id > 0), "{t}");
            assert!(t["test_code"].is_string(), "{t}");
            if let Some(output) = t.get("output").and_then(Value::as_str) {
                assert!(output.chars().count() <= 500, "{t}");
            }
        }
        let statuses: Vec<&str> = tests
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        match status {
            "pass" => assert!(statuses.iter().all(|s| *s == "pass"), "{v}"),
            "fail" => assert!(statuses.iter().any(|s| *s != "pass"), "{v}"),
            _ => assert!(statuses.iter().all(|s| *s == "error"), "{v}"),
        }
    }

    #[test]
    fn exercism_results_follow_the_version_3_interface() {
        for s in fixture::class().submissions {
            assert_valid(&parse(&s));
        }
    }

    #[test]
    fn exercism_status_is_pass_fail_or_error_with_the_build_error() {
        let alice = parse(&fixture::alice());
        assert_eq!(alice["status"], "pass");
        assert_eq!(
            alice["tests"].as_array().unwrap().len(),
            5,
            "not-attempted exercises have no tests"
        );

        let bob = parse(&fixture::bob());
        assert_eq!(bob["status"], "fail");
        let failing = bob["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "counter::mutual_exclusion")
            .unwrap();
        assert_eq!(failing["status"], "fail");
        assert!(failing["message"]
            .as_str()
            .unwrap()
            .contains(fixture::NASTY));
        let unfinished = bob["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "shared_list::no_lost_items")
            .unwrap();
        assert_eq!(unfinished["status"], "error");

        let carol = parse(&fixture::carol());
        assert_eq!(carol["status"], "error");
        assert!(carol["message"]
            .as_str()
            .unwrap()
            .contains(fixture::BUILD_ERROR));
    }

    #[test]
    fn exercism_task_ids_are_registry_positions() {
        let bob = parse(&fixture::bob());
        let ids: Vec<(String, u64)> = bob["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["task_id"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(ids[0], ("shared_list::linearizable".to_string(), 1));
        assert_eq!(ids[2], ("counter::mutual_exclusion".to_string(), 2));
        assert_eq!(ids[5], ("shm_counter::exact_count".to_string(), 3));
    }

    #[test]
    fn exercism_message_is_cut_to_the_limit_at_a_character_boundary() {
        let mut carol = fixture::carol();
        carol.outcome = Outcome::BuildFailed {
            first_error: "é".repeat(MESSAGE_LIMIT),
        };
        let v = parse(&carol);
        assert_valid(&v);
        assert!(v["message"]
            .as_str()
            .unwrap()
            .ends_with("[message truncated: Exercism allows 65535 bytes]"));
    }

    #[test]
    fn exercism_reports_an_error_when_no_exercise_is_attempted() {
        let mut alice = fixture::alice();
        for e in &mut alice.exercises {
            e.status = ExerciseStatus::NotAttempted;
        }
        let v = parse(&alice);
        assert_valid(&v);
        assert_eq!(v["status"], "error");
        assert!(v["message"]
            .as_str()
            .unwrap()
            .starts_with("no exercise attempted"));
    }
}
