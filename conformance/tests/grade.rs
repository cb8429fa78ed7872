//! `racecourse grade` over a class of broken submissions: one that does not compile,
//! one that names a missing type, one with an invalid declaration, one that
//! deadlocks, one that prints megabytes and one that leaks a process escaping its
//! process group; with two correct ones, a thread exercise and a process exercise
//! (the generated tests' process path). The class report must be complete, every submission judged for what
//! it did, and nothing left running.
//!
//! One test only: the grader makes this process a child subreaper and reaps every
//! child it has after each run, which would reap other tests' children too.

use std::path::PathBuf;
use std::time::Instant;

use racecourse::grade::model::{ExerciseStatus, Outcome};
use racecourse::grade::rubric::Rubric;
use racecourse::grade::{self, write};
use racecourse::report::{Kind, Status};

fn sleeping_leftovers() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains("sleep 7261")
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
fn a_class_of_broken_submissions_gets_a_complete_report() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/class");
    let names = [
        "good", "broken", "typo", "deadlock", "chatty", "invalid", "leaky", "shm",
    ];
    let dirs: Vec<PathBuf> = names.iter().map(|n| fixtures.join(n)).collect();
    let mut options = grade::Options::new(Rubric::default());
    options.scratch = options.scratch.join("fixtures");
    options.limits.stall_secs = 2;
    options.progress = false;
    let started = Instant::now();
    let class = grade::grade(&dirs, &options);
    eprintln!(
        "graded the fixture class in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let table = write::table(&class);
    eprintln!("{table}");

    assert_eq!(
        class.submissions.len(),
        names.len(),
        "one report per submission"
    );
    let by = |name: &str| {
        class
            .submissions
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no report for {name}"))
    };
    let counter = |name: &str| {
        by(name)
            .exercises
            .iter()
            .find(|e| e.name == "counter")
            .expect("every report lists every exercise")
            .clone()
    };

    let good = counter("good");
    assert_eq!(good.status, ExerciseStatus::Attempted);
    assert_eq!(good.score, good.max_score, "{table}");

    match &by("broken").outcome {
        Outcome::BuildFailed { first_error } => {
            assert!(first_error.contains("error"), "{first_error}")
        }
        other => panic!("broken: {other:?}"),
    }
    assert!(matches!(
        counter("broken").status,
        ExerciseStatus::Error { .. }
    ));

    match counter("typo").status {
        ExerciseStatus::Error { message } => assert!(message.contains("Lockd"), "{message}"),
        other => panic!("typo: {other:?}"),
    }
    let typo_list = by("typo")
        .exercises
        .iter()
        .find(|e| e.name == "shared_list")
        .unwrap()
        .clone();
    assert_eq!(
        typo_list.score, typo_list.max_score,
        "a bad path fails only its exercise"
    );

    for p in &counter("deadlock").properties {
        assert_eq!(p.status, Status::Fail, "deadlock::{}", p.name);
        for r in &p.records {
            let kind = r.failure.as_ref().map(|f| f.kind);
            assert!(
                matches!(kind, Some(Kind::Deadlock | Kind::Stall)),
                "deadlock::{} on {}: {kind:?}",
                p.name,
                r.runtime
            );
        }
    }

    let chatty = counter("chatty");
    assert_eq!(
        chatty.score, chatty.max_score,
        "megabytes of output are no failure"
    );

    match &by("invalid").outcome {
        Outcome::Invalid { message } => assert!(message.contains("countr"), "{message}"),
        other => panic!("invalid: {other:?}"),
    }

    let shm = by("shm")
        .exercises
        .iter()
        .find(|e| e.name == "shm_counter")
        .unwrap()
        .clone();
    assert_eq!(shm.status, ExerciseStatus::Attempted);
    assert_eq!(
        shm.score, shm.max_score,
        "a process exercise through the grader: {table}"
    );

    let leaky = counter("leaky");
    assert_eq!(leaky.score, leaky.max_score, "{table}");
    let left = sleeping_leftovers();
    assert!(left.is_empty(), "processes left running: {left:?}");

    // Every report format is written for the whole class.
    for s in &class.submissions {
        assert!(write::gradescope(s).contains("\"tests\""));
        assert!(write::exercism(s).contains("\"version\": 3"));
    }
    assert_eq!(write::csv(&class).lines().count(), names.len() + 1);
    assert_eq!(
        write::junit(&class).matches("<testsuite ").count(),
        names.len()
    );
}
