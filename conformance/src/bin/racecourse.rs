//! `racecourse`: grade submissions, check the reference implementations, list the
//! exercises.
//!
//! ```text
//! cargo run -p racecourse --bin racecourse                         # grade the bundled sample submissions
//! cargo run -p racecourse --bin racecourse -- grade path/to/alice  # grade one submission
//! cargo run -p racecourse --bin racecourse -- references           # every property of the references
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use racecourse::grade::model::ClassReport;
use racecourse::grade::rubric::Rubric;
use racecourse::grade::{self, harness, write};
use racecourse::isolate;
use racecourse::registry::{self, Implementation, Role, EXERCISES};
use racecourse::runner::Runtime;

/// Grades implementations of the threads-and-processes exercises.
///
/// Without a command, grades the sample submissions bundled in `students/` and prints
/// the table: what `racecourse grade` shows for a class.
#[derive(Parser, Debug)]
#[command(name = "racecourse", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Grade submissions: each a directory holding a Cargo crate that declares its
    /// exercises in [package.metadata.racecourse] (see `racecourse exercises`).
    ///
    /// The grader writes a test harness from each declaration (a submission's own
    /// tests are never run), builds it in a scratch workspace that shares one target
    /// directory with every other submission, runs every property of every declared
    /// exercise, and prints a table. Reports for other tools are written with
    /// --format. A submission that does not build, hangs or floods its output gets a
    /// report like any other; the rest of the class is still graded.
    Grade(GradeArgs),
    /// Check every property of the bundled reference implementations, as a table.
    References {
        /// Only these exercises (default: all).
        exercises: Vec<String>,
    },
    /// List the exercises, what a submission declares for each, and their properties.
    Exercises,
    /// Print the rubric in use (the default, or --rubric FILE made explicit): a
    /// starting point for a course's own rubric file.
    Rubric {
        /// A rubric file to read and print in full.
        #[arg(long, value_name = "FILE")]
        rubric: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct GradeArgs {
    /// Submission directories (each holds a Cargo.toml).
    #[arg(required = true, value_name = "SUBMISSION")]
    submissions: Vec<PathBuf>,

    /// Points per exercise and property (TOML; see `racecourse rubric` for the format).
    /// Default: 10 points per exercise, split evenly among its properties.
    #[arg(long, value_name = "FILE")]
    rubric: Option<PathBuf>,

    /// Also write a report: gradescope, exercism, junit, markdown or csv, optionally
    /// with a path (`--format gradescope=/autograder/results/results.json`). Without a
    /// path, reports go under --out. Repeat for several.
    #[arg(long, value_name = "FORMAT[=PATH]", value_parser = parse_format)]
    format: Vec<FormatSpec>,

    /// Directory for reports written without an explicit path.
    #[arg(long, value_name = "DIR", default_value = "racecourse-report")]
    out: PathBuf,

    /// How long one submission's tests may run in all, in seconds; tests still running
    /// then are reported as timed out.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    budget: u64,

    /// A check fails once nothing completes for this long, in seconds (a deadlock);
    /// slowness alone never fails a check.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    stall: u64,

    /// Where the scratch workspaces and the shared target directory go
    /// (default: target/racecourse-grade in racecourse's own workspace).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,

    /// Rerun every test, even for a submission whose tests ran unchanged before.
    #[arg(long)]
    fresh: bool,

    /// Grade only part K of N of the submissions (`count:K/N`, as cargo nextest's
    /// --partition): for spreading a class over several CI runners.
    #[arg(long, value_name = "count:K/N", value_parser = parse_partition)]
    partition: Option<(usize, usize)>,

    /// Exit with 1 unless every submission earned every point.
    #[arg(long)]
    strict: bool,

    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Gradescope,
    Exercism,
    Junit,
    Markdown,
    Csv,
}

#[derive(Clone, Debug)]
struct FormatSpec {
    format: Format,
    path: Option<PathBuf>,
}

fn parse_format(text: &str) -> Result<FormatSpec, String> {
    let (name, path) = match text.split_once('=') {
        Some((n, p)) => (n, Some(PathBuf::from(p))),
        None => (text, None),
    };
    let format = Format::from_str(name, true).map_err(|_| {
        format!("unknown format `{name}`: use gradescope, exercism, junit, markdown or csv")
    })?;
    Ok(FormatSpec { format, path })
}

fn parse_partition(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{text}` is not a partition: write count:K/N, with 1 <= K <= N");
    let (k, n) = text
        .strip_prefix("count:")
        .and_then(|kn| kn.split_once('/'))
        .ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn main() -> ExitCode {
    // An isolated check of `references` re-runs this binary with the same arguments.
    let cli = Cli::parse();
    match cli.command {
        None => grade_samples(),
        Some(Command::Grade(args)) => grade_command(args),
        Some(Command::References { exercises }) => references(&exercises),
        Some(Command::Exercises) => {
            print!("{}", exercises_text());
            ExitCode::SUCCESS
        }
        Some(Command::Rubric { rubric }) => match load_rubric(rubric.as_deref()) {
            Ok(r) => {
                print!("{}", r.render());
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&e),
        },
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn load_rubric(path: Option<&Path>) -> Result<Rubric, String> {
    match path {
        Some(p) => Rubric::read(p).map_err(|e| e.to_string()),
        None => Ok(Rubric::default()),
    }
}

/// The bundled sample submissions: every directory under `students/` with a manifest.
fn samples() -> Vec<PathBuf> {
    let dir = harness::racecourse_home().join("students");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn grade_samples() -> ExitCode {
    let samples = samples();
    if samples.is_empty() {
        return usage_error(
            "no sample submission found under students/: run `racecourse grade DIR`",
        );
    }
    println!(
        "grading the sample submissions in students/ (racecourse grade --help for your own)\n"
    );
    let options = grade::Options::new(Rubric::default());
    let class = grade::grade(&samples, &options);
    print!("{}", write::table(&class));
    ExitCode::SUCCESS
}

fn grade_command(args: GradeArgs) -> ExitCode {
    let rubric = match load_rubric(args.rubric.as_deref()) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let mut submissions = Vec::new();
    for dir in &args.submissions {
        if !dir.is_dir() {
            return usage_error(&format!(
                "{} is not a directory: give the directory that holds a submission's Cargo.toml",
                dir.display()
            ));
        }
        submissions.push(dir.clone());
    }
    if let Some((k, n)) = args.partition {
        submissions = submissions
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, d)| d)
            .collect();
    }
    let single = submissions.len() == 1;
    if let Some(spec) = args.format.iter().find(|f| {
        f.path.is_some() && matches!(f.format, Format::Gradescope | Format::Exercism) && !single
    }) {
        return usage_error(&format!(
            "--format {:?}=PATH writes one submission's report: with several submissions, leave out the path (reports go under --out)",
            spec.format
        ));
    }
    let mut options = grade::Options::new(rubric);
    if let Some(scratch) = &args.scratch {
        options.target_dir = scratch.join("target");
        options.scratch = scratch.clone();
    }
    options.budget = Duration::from_secs(args.budget);
    options.limits.stall_secs = args.stall;
    options.fresh = args.fresh;
    options.progress = !args.quiet;
    let started = Instant::now();
    let class = grade::grade(&submissions, &options);
    print!("{}", write::table(&class));
    if !args.quiet {
        eprintln!(
            "graded {} submission(s) in {:.1} s",
            class.submissions.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if let Err(e) = write_reports(&class, &args.format, &args.out) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let perfect = class
        .submissions
        .iter()
        .all(|s| (s.score() - s.max_score()).abs() < 1e-9);
    if args.strict && !perfect {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_reports(class: &ClassReport, formats: &[FormatSpec], out: &Path) -> Result<(), String> {
    let write_file = |path: &Path, text: &str| -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    };
    for spec in formats {
        match spec.format {
            Format::Gradescope | Format::Exercism => {
                for s in &class.submissions {
                    let (text, file) = match spec.format {
                        Format::Gradescope => (write::gradescope(s), "gradescope-results.json"),
                        _ => (write::exercism(s), "exercism-results.json"),
                    };
                    let path = spec
                        .path
                        .clone()
                        .unwrap_or_else(|| out.join(&s.name).join(file));
                    write_file(&path, &text)?;
                }
            }
            Format::Junit => write_file(
                &spec.path.clone().unwrap_or_else(|| out.join("junit.xml")),
                &write::junit(class),
            )?,
            Format::Markdown => write_file(
                &spec.path.clone().unwrap_or_else(|| out.join("summary.md")),
                &write::markdown(class),
            )?,
            Format::Csv => write_file(
                &spec.path.clone().unwrap_or_else(|| out.join("class.csv")),
                &write::csv(class),
            )?,
        }
    }
    Ok(())
}

/// What `racecourse exercises` prints.
fn exercises_text() -> String {
    let mut out = String::from(
        "Declare the exercises a submission implements in its Cargo.toml, each slot naming a\n\
         type by its path from the crate root (for thread exercises, the type inside the\n\
         module that invokes racecourse_spec::runtimes!):\n\n",
    );
    out.push_str(&grade::declaration::example());
    for e in EXERCISES {
        out.push_str(&format!("\n{} ({}): {}\n", e.name, e.catalogue, e.title));
        for s in e.slots {
            out.push_str(&format!(
                "  slot {:10} a type implementing {}\n",
                s.name, s.bound
            ));
        }
        for p in e.properties {
            let runtimes: Vec<&str> = p.runtimes.iter().map(|r| r.name()).collect();
            out.push_str(&format!(
                "  {:20} [{}] {}\n",
                p.name,
                runtimes.join(", "),
                p.meaning()
            ));
        }
    }
    out
}

/// One row of the references table: a property of one reference on one runtime.
struct Row {
    property: &'static str,
    runtime: Runtime,
    implementation: Implementation,
}

fn reference_rows() -> Vec<Row> {
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

/// Every property of every reference implementation, isolated, as a table. Exits 1 if
/// any fails.
fn references(exercises: &[String]) -> ExitCode {
    if let Some(bad) = exercises.iter().find(|a| registry::exercise(a).is_none()) {
        return usage_error(&format!(
            "unknown exercise {bad:?}: choose from {} (or none, for all)",
            registry::names().join(", ")
        ));
    }
    let mut rows = reference_rows();
    rows.retain(|r| {
        exercises.is_empty() || exercises.iter().any(|a| a == r.implementation.exercise)
    });
    let in_child = isolate::in_child();
    if !in_child {
        println!(
            "{:<13} {:<19} {:<8} {:<15} {:<8} {:>8}",
            "exercise", "property", "runtime", "implementation", "verdict", "seconds"
        );
    }
    let mut args = vec!["references".to_string()];
    args.extend(exercises.iter().cloned());
    let child_args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut failures = Vec::new();
    for row in &rows {
        let i = row.implementation;
        let cell = format!("{}/{}/{}/{}", i.exercise, row.property, row.runtime, i.name);
        let start = Instant::now();
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
