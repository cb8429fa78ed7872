//! The main job: runs every property of every exercise over the bundled reference
//! implementations and prints a table of exercise / property / runtime / verdict.
//!
//! ```text
//! cargo run -p racecourse --bin racecourse
//! ```
//!
//! Each cell runs in a child process of this binary (see `racecourse::isolate`), so
//! loom and shuttle never share a process and a crash is one failed row. Exits 1 if
//! any reference implementation fails a property.

use std::process::ExitCode;
use std::time::Instant;

use racecourse::isolate;
use racecourse::registry::{self, Implementation, Role, EXERCISES};
use racecourse::runner::Runtime;

/// One row of the table: a property of one reference implementation on one runtime.
struct Row {
    property: &'static str,
    runtime: Runtime,
    implementation: Implementation,
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for exercise in EXERCISES {
        for property in exercise.properties {
            for &runtime in property.runtimes {
                for implementation in (exercise.implementations)(runtime) {
                    if implementation.role == Role::Reference {
                        rows.push(Row {
                            property: property.name,
                            runtime,
                            implementation,
                        });
                    }
                }
            }
        }
    }
    rows
}

const USAGE: &str = "\
usage: racecourse [EXERCISE...]

Runs every property of the bundled reference implementations and prints a table of
exercise / property / runtime / implementation / verdict. With EXERCISE names, runs
only those. Exits 1 if any check fails.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if let Some(bad) = args.iter().find(|a| registry::exercise(a).is_none()) {
        eprintln!(
            "error: unknown exercise {bad:?}: choose from {} (or none, for all)\n\n{USAGE}",
            registry::names().join(", ")
        );
        return ExitCode::from(2);
    }
    let mut rows = rows();
    rows.retain(|r| args.is_empty() || args.iter().any(|a| a == r.implementation.exercise));

    let in_child = isolate::in_child();
    if !in_child {
        println!(
            "{:<13} {:<19} {:<8} {:<15} {:<8} {:>8}",
            "exercise", "property", "runtime", "implementation", "verdict", "seconds"
        );
    }
    let mut failures = Vec::new();
    for row in &rows {
        let i = row.implementation;
        let cell = format!("{}/{}/{}/{}", i.exercise, row.property, row.runtime, i.name);
        let start = Instant::now();
        let child_args: Vec<&str> = args.iter().map(String::as_str).collect();
        let verdict =
            isolate::cell_with_args("racecourse", &child_args, &cell, || (i.check)(row.property));
        if in_child {
            continue;
        }
        let word = if verdict.is_ok() { "pass" } else { "FAIL" };
        println!(
            "{:<13} {:<19} {:<8} {:<15} {:<8} {:>8.2}",
            i.exercise,
            row.property,
            row.runtime.name(),
            i.name,
            word,
            start.elapsed().as_secs_f64()
        );
        if let Err((found, scenario)) = verdict {
            failures.push(format!(
                "{cell}: {}\n  scenario: {scenario}\n  schedule: {}",
                found.violation, found.schedule
            ));
        }
    }
    if in_child {
        // The cell asked for was not found: the parent reports a missing verdict.
        return ExitCode::from(2);
    }
    println!(
        "\n{} passed, {} failed",
        rows.len() - failures.len(),
        failures.len()
    );
    for f in &failures {
        eprintln!("\n{f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
