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

use racecourse::runner::Finding;
use racecourse::runner::Runtime;
use racecourse::{counter, isolate, shared_list};
use racecourse_impl::thread::counter as counters;
use racecourse_impl::thread::shared_list as lists;

/// One row of the table: a property of one implementation on one runtime.
struct Row {
    exercise: &'static str,
    property: &'static str,
    runtime: Runtime,
    implementation: &'static str,
    check: Box<dyn Fn() -> Result<(), Finding>>,
}

fn shared_list_rows(rows: &mut Vec<Row>) {
    macro_rules! list {
        ($name:literal, $ty:ident) => {
            for p in shared_list::Property::ALL {
                for &rt in p.runtimes() {
                    let check: Box<dyn Fn() -> Result<(), Finding>> = match rt {
                        Runtime::Std => Box::new(move || {
                            shared_list::check_std::<lists::on_std::$ty, lists::on_std::Program>(p)
                        }),
                        Runtime::Shuttle => Box::new(move || {
                            shared_list::check_shuttle::<
                                lists::on_shuttle::$ty,
                                lists::on_shuttle::Program,
                            >(p)
                        }),
                        Runtime::Loom => Box::new(move || {
                            shared_list::check_loom::<lists::on_loom::$ty, lists::on_loom::Program>(
                                p,
                            )
                        }),
                        Runtime::Process => unreachable!("E4 has no process runtime"),
                    };
                    rows.push(Row {
                        exercise: shared_list::EXERCISE,
                        property: p.name(),
                        runtime: rt,
                        implementation: $name,
                        check,
                    });
                }
            }
        };
    }
    list!("fifo", Fifo);
    list!("lifo", Lifo);
}

fn counter_rows(rows: &mut Vec<Row>) {
    for p in counter::Property::ALL {
        for &rt in p.runtimes() {
            let check: Box<dyn Fn() -> Result<(), Finding>> = match rt {
                Runtime::Std => Box::new(move || counter::check_std::<counters::on_std::Locked>(p)),
                Runtime::Shuttle => {
                    Box::new(move || counter::check_shuttle::<counters::on_shuttle::Locked>(p))
                }
                Runtime::Loom => {
                    Box::new(move || counter::check_loom::<counters::on_loom::Locked>(p))
                }
                Runtime::Process => unreachable!("the thread counter has no process runtime"),
            };
            rows.push(Row {
                exercise: counter::EXERCISE,
                property: p.name(),
                runtime: rt,
                implementation: "locked",
                check,
            });
        }
    }
}

racecourse_impl::register_shm_counter_worker!(static ROBUST: racecourse_impl::process::shm_counter::RobustLocked);

fn shm_counter_rows(rows: &mut Vec<Row>) {
    use racecourse::shm_counter;
    for p in shm_counter::Property::ALL {
        rows.push(Row {
            exercise: shm_counter::EXERCISE,
            property: p.name(),
            runtime: Runtime::Process,
            implementation: "robust",
            check: Box::new(move || shm_counter::check(&ROBUST, p)),
        });
    }
}

const USAGE: &str = "\
usage: racecourse [EXERCISE...]

Runs every property of the bundled reference implementations and prints a table of
exercise / property / runtime / implementation / verdict. With EXERCISE names, runs
only those (shared_list, counter, shm_counter). Exits 1 if any check fails.";

const EXERCISES: [&str; 3] = ["shared_list", "counter", "shm_counter"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if let Some(bad) = args.iter().find(|a| !EXERCISES.contains(&a.as_str())) {
        eprintln!(
            "error: unknown exercise {bad:?}: choose from {} (or none, for all)\n\n{USAGE}",
            EXERCISES.join(", ")
        );
        return ExitCode::from(2);
    }
    let mut rows = Vec::new();
    shared_list_rows(&mut rows);
    counter_rows(&mut rows);
    shm_counter_rows(&mut rows);
    rows.retain(|r| args.is_empty() || args.iter().any(|a| a == r.exercise));

    let in_child = isolate::in_child();
    if !in_child {
        println!(
            "{:<13} {:<19} {:<8} {:<15} {:<8} {:>8}",
            "exercise", "property", "runtime", "implementation", "verdict", "seconds"
        );
    }
    let mut failures = Vec::new();
    for row in &rows {
        let cell = format!(
            "{}/{}/{}/{}",
            row.exercise, row.property, row.runtime, row.implementation
        );
        let start = Instant::now();
        let child_args: Vec<&str> = args.iter().map(String::as_str).collect();
        let verdict = isolate::cell_with_args("racecourse", &child_args, &cell, || (row.check)());
        if in_child {
            continue;
        }
        let word = if verdict.is_ok() { "pass" } else { "FAIL" };
        println!(
            "{:<13} {:<19} {:<8} {:<15} {:<8} {:>8.2}",
            row.exercise,
            row.property,
            row.runtime.name(),
            row.implementation,
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
