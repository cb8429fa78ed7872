//! `racecourse grade`: grades submissions from outside the workspace.
//!
//! A submission is a directory holding a Cargo crate that depends on `racecourse-spec`
//! and declares, in `[package.metadata.racecourse]`, which exercises it implements
//! under which type paths ([`declaration`]). The grader generates a test harness from
//! that declaration (it never runs a tests file of the submission), builds it in a
//! scratch workspace next to a shared target directory ([`harness`], [`build`]), runs
//! the generated tests, each check isolated as under `cargo test` ([`run`]), reads
//! their verdicts in structured form ([`Record`](crate::report::Record)), scores them
//! with the course's [`rubric`] and writes the reports ([`write`]).
//!
//! `cargo test` stays the oracle: the harness is one line of each exercise's test macro,
//! the same line a student puts in their own tests.

pub mod build;
pub mod declaration;
pub mod harness;
pub mod model;
pub mod rubric;
pub mod run;
pub mod write;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::registry::{Exercise, EXERCISES};
use crate::report::{Record, Status};
use model::{
    ClassReport, ExerciseReport, ExerciseStatus, Outcome, PropertyReport, SubmissionReport,
};
use rubric::Rubric;
use run::CheckLimits;

/// How to grade.
#[derive(Clone, Debug)]
pub struct Options {
    /// Points per property.
    pub rubric: Rubric,
    /// Where the scratch workspaces go, one per submission.
    pub scratch: PathBuf,
    /// The target directory every submission's build shares.
    pub target_dir: PathBuf,
    /// How long one submission's tests may run in all.
    pub budget: Duration,
    /// How long one submission's build may take (the first build of a machine compiles
    /// the harness's dependencies too).
    pub build_deadline: Duration,
    /// Limits passed to every check.
    pub limits: CheckLimits,
    /// Rerun tests even when an identical earlier run left its verdicts.
    pub fresh: bool,
    /// Show progress on stderr.
    pub progress: bool,
}

impl Options {
    /// The defaults, with the scratch directory under racecourse's own `target/`.
    pub fn new(rubric: Rubric) -> Options {
        let scratch = harness::racecourse_home()
            .join("target")
            .join("racecourse-grade");
        Options {
            rubric,
            target_dir: scratch.join("target"),
            scratch,
            budget: Duration::from_secs(600),
            build_deadline: Duration::from_secs(1800),
            limits: CheckLimits {
                stall_secs: 10,
                ceiling_secs: 600,
            },
            fresh: false,
            progress: true,
        }
    }
}

/// Grades every submission in `dirs`, one after another; a submission that fails in
/// any way is reported as such and the others are still graded.
pub fn grade(dirs: &[PathBuf], options: &Options) -> ClassReport {
    run::become_subreaper();
    let names = names(dirs);
    let mut progress = Progress::new(options.progress, dirs.len());
    let submissions = dirs
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (dir, name))| {
            progress.start(i, name);
            let report = grade_one(dir, name, options, &mut progress);
            progress.finish(&report);
            report
        })
        .collect();
    progress.done();
    ClassReport { submissions }
}

/// A report name per submission: its directory's name, made unique.
fn names(dirs: &[PathBuf]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    dirs.iter()
        .map(|dir| {
            let base = dir
                .canonicalize()
                .unwrap_or_else(|_| dir.clone())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "submission".to_string());
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}-{n}")
            }
        })
        .collect()
}

/// The libtest name of the test of `property` on `runtime` in an exercise's harness.
fn test_name(exercise: &str, property: &str, runtime: &str) -> String {
    format!("{exercise}::{property}::{runtime}::submission")
}

fn grade_one(
    dir: &Path,
    name: &str,
    options: &Options,
    progress: &mut Progress,
) -> SubmissionReport {
    let started = Instant::now();
    let mut report = SubmissionReport {
        name: name.to_string(),
        path: dir.display().to_string(),
        package: None,
        outcome: Outcome::Graded,
        exercises: Vec::new(),
        seconds: 0.0,
    };
    let declaration = match declaration::read(dir) {
        Ok(d) => d,
        Err(e) => {
            report.outcome = Outcome::Invalid { message: e.0 };
            report.exercises = exercise_reports(None, &BTreeMap::new(), options, &report.outcome);
            report.seconds = started.elapsed().as_secs_f64();
            return report;
        }
    };
    report.package = Some(declaration.package.clone());
    let scratch = options.scratch.join(name);
    if let Err(e) = harness::prepare(&scratch, dir, &declaration) {
        report.outcome = Outcome::Invalid {
            message: format!(
                "cannot prepare the scratch workspace {}: {e}",
                scratch.display()
            ),
        };
    }
    let mut ran: BTreeMap<String, Result<run::Ran, String>> = BTreeMap::new();
    let scratch = scratch.as_path();
    if report.outcome == Outcome::Graded {
        progress.note("building");
        match build::build(scratch, &options.target_dir, options.build_deadline) {
            Err(e) => {
                report.outcome = Outcome::BuildFailed {
                    first_error: format!("cannot run cargo: {e}"),
                }
            }
            Ok(built) => {
                if let Some(first_error) = built.fatal_error() {
                    report.outcome = Outcome::BuildFailed { first_error };
                } else {
                    let until = Instant::now() + options.budget;
                    for exercise in declaration.exercises.keys() {
                        let result = match (
                            built.target_errors.get(exercise),
                            built.executables.get(exercise),
                        ) {
                            (Some(error), _) => Err(error.clone()),
                            (None, None) => Err("cargo built no test binary for it".to_string()),
                            (None, Some(exe)) => {
                                let expected = crate::registry::exercise(exercise)
                                    .map_or(0, Exercise::test_count);
                                progress.exercise(exercise, expected);
                                run::run_tests(
                                    exe,
                                    expected,
                                    &run::verdict_root(scratch, exercise),
                                    options.limits,
                                    until,
                                    options.fresh,
                                    |d| progress.watch(d),
                                )
                                .map_err(|e| format!("cannot run the tests: {e}"))
                            }
                        };
                        progress.unwatch();
                        if let Ok(r) = &result {
                            if r.over_budget {
                                report.outcome = Outcome::OverBudget {
                                    budget_seconds: options.budget.as_secs(),
                                };
                            }
                        }
                        ran.insert(exercise.clone(), result);
                    }
                }
            }
        }
    }
    for (exercise, result) in ran.iter_mut() {
        if let Ok(r) = result {
            let slots = &declaration.exercises[exercise];
            for record in &mut r.records {
                localize(
                    record,
                    &declaration.package,
                    slots,
                    scratch,
                    &options.target_dir,
                );
            }
        }
    }
    report.exercises = exercise_reports(Some(&declaration), &ran, options, &report.outcome);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Rewrites what a record says in the harness's terms into the submission's: the
/// implementation is the type the submission declared (not the harness's alias), and
/// the replay command runs from anywhere (it names the scratch workspace and the
/// shared target directory).
fn localize(
    record: &mut Record,
    package: &str,
    slots: &[(String, declaration::TypePath)],
    scratch: &Path,
    target_dir: &Path,
) {
    if let Some((_, ty)) = slots.first() {
        record.implementation = format!("{}::{ty}", package.replace('-', "_"));
    }
    if let Some(failure) = &mut record.failure {
        let harness = format!("cargo test -p {}", harness::HARNESS_PACKAGE);
        failure.replay = failure.replay.replacen(
            &harness,
            &format!(
                "CARGO_TARGET_DIR={} cargo test --manifest-path {} -p {}",
                target_dir.display(),
                scratch.join("Cargo.toml").display(),
                harness::HARNESS_PACKAGE
            ),
            1,
        );
    }
}

/// One report per exercise of the registry.
fn exercise_reports(
    declaration: Option<&declaration::Declaration>,
    ran: &BTreeMap<String, Result<run::Ran, String>>,
    options: &Options,
    outcome: &Outcome,
) -> Vec<ExerciseReport> {
    EXERCISES
        .iter()
        .map(|exercise| {
            let declared = declaration.and_then(|d| d.exercises.get(exercise.name));
            let status = match (declared, outcome, ran.get(exercise.name)) {
                (None, _, _) => ExerciseStatus::NotAttempted,
                (Some(_), Outcome::Invalid { message }, _) => ExerciseStatus::Error {
                    message: message.clone(),
                },
                (Some(_), Outcome::BuildFailed { first_error }, _) => ExerciseStatus::Error {
                    message: format!("the submission does not build:\n{first_error}"),
                },
                (Some(_), _, Some(Err(message))) => ExerciseStatus::Error {
                    message: message.clone(),
                },
                (Some(_), _, _) => ExerciseStatus::Attempted,
            };
            let ran = match ran.get(exercise.name) {
                Some(Ok(r)) => Some(r),
                _ => None,
            };
            exercise_report(exercise, declared, status, ran, &options.rubric)
        })
        .collect()
}

fn exercise_report(
    exercise: &Exercise,
    declared: Option<&Vec<(String, declaration::TypePath)>>,
    status: ExerciseStatus,
    ran: Option<&run::Ran>,
    rubric: &Rubric,
) -> ExerciseReport {
    let properties: Vec<PropertyReport> = exercise
        .properties
        .iter()
        .map(|p| {
            let max_points = rubric.points(exercise.name, p.name);
            let runtimes: Vec<String> = p.runtimes.iter().map(|r| r.name().to_string()).collect();
            let (records, missing): (Vec<Record>, Vec<String>) = match (&status, ran) {
                (ExerciseStatus::Attempted, Some(ran)) => {
                    let mut records = Vec::new();
                    let mut missing = Vec::new();
                    for rt in &runtimes {
                        let test = test_name(exercise.name, p.name, rt);
                        match ran.records.iter().find(|r| r.test == test) {
                            Some(r) => records.push(r.clone()),
                            None => missing.push(rt.clone()),
                        }
                    }
                    (records, missing)
                }
                _ => (Vec::new(), Vec::new()),
            };
            let status = match &status {
                ExerciseStatus::NotAttempted => Status::NotAttempted,
                ExerciseStatus::Error { .. } => Status::Error,
                ExerciseStatus::Attempted => property_status(&records, &missing),
            };
            PropertyReport {
                name: p.name.to_string(),
                meaning: p.meaning(),
                review: p.review,
                status,
                points: if status == Status::Pass {
                    max_points
                } else {
                    0.0
                },
                max_points,
                runtimes,
                records,
                missing,
            }
        })
        .collect();
    ExerciseReport {
        name: exercise.name.to_string(),
        catalogue: exercise.catalogue.to_string(),
        title: exercise.title.to_string(),
        status,
        declared: declared
            .map(|slots| {
                slots
                    .iter()
                    .map(|(slot, ty)| (slot.clone(), ty.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        score: properties.iter().map(|p| p.points).sum(),
        max_score: properties.iter().map(|p| p.max_points).sum(),
        properties,
    }
}

/// A property passes when every runtime's test passed; otherwise it takes the worst
/// verdict: fail, then error, then timed out (a missing verdict counts as timed out).
fn property_status(records: &[Record], missing: &[String]) -> Status {
    let has = |s: Status| records.iter().any(|r| r.status == s);
    if has(Status::Fail) {
        Status::Fail
    } else if has(Status::Error) {
        Status::Error
    } else if has(Status::TimedOut) || !missing.is_empty() {
        Status::TimedOut
    } else {
        Status::Pass
    }
}

/// Progress on stderr: a line that updates in place on a terminal, one line per
/// submission otherwise.
struct Progress {
    enabled: bool,
    terminal: bool,
    total: usize,
    index: usize,
    name: String,
    /// The verdict directory being filled, and the tests expected in it.
    watching: std::sync::Arc<std::sync::Mutex<Option<(PathBuf, usize, String)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let watching = std::sync::Arc::new(std::sync::Mutex::new(None));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = (enabled && terminal).then(|| {
            let watching = std::sync::Arc::clone(&watching);
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let line = watching
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                        .map(|(dir, expected, label): &(PathBuf, usize, String)| {
                            let done = run::count_records(dir).min(*expected);
                            let width = 24;
                            let filled = if *expected == 0 {
                                0
                            } else {
                                done * width / expected
                            };
                            format!(
                                "{label} [{}{}] {done}/{expected} tests",
                                "#".repeat(filled),
                                " ".repeat(width - filled)
                            )
                        });
                    if let Some(line) = line {
                        eprint!("\r\x1b[2K{line}");
                        let _ = std::io::stderr().flush();
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        });
        Progress {
            enabled,
            terminal,
            total,
            index: 0,
            name: String::new(),
            watching,
            stop,
            ticker,
        }
    }

    fn label(&self) -> String {
        format!("[{}/{}] {}", self.index + 1, self.total, self.name)
    }

    fn start(&mut self, index: usize, name: &str) {
        self.index = index;
        self.name = name.to_string();
        self.note("reading its declaration");
    }

    fn note(&self, what: &str) {
        if self.enabled && self.terminal {
            eprint!("\r\x1b[2K{}: {what}", self.label());
            let _ = std::io::stderr().flush();
        }
    }

    fn exercise(&mut self, exercise: &str, expected: usize) {
        let label = format!("{}: {exercise}", self.label());
        *self.watching.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((PathBuf::new(), expected, label));
    }

    fn watch(&self, dir: &Path) {
        if let Some(w) = self
            .watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            w.0 = dir.to_path_buf();
        }
    }

    fn unwatch(&self) {
        *self.watching.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn finish(&self, report: &SubmissionReport) {
        if !self.enabled {
            return;
        }
        let what = match &report.outcome {
            Outcome::Graded => format!(
                "{} of {} points",
                points_text(report.score()),
                points_text(report.max_score())
            ),
            Outcome::Invalid { .. } => "invalid declaration".to_string(),
            Outcome::BuildFailed { .. } => "does not build".to_string(),
            Outcome::OverBudget { .. } => format!(
                "over budget, {} of {} points",
                points_text(report.score()),
                points_text(report.max_score())
            ),
        };
        let clear = if self.terminal { "\r\x1b[2K" } else { "" };
        eprintln!("{clear}{}: {what} ({:.1} s)", self.label(), report.seconds);
    }

    fn done(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Points as people write them: at most two decimals, no trailing zeros.
pub fn points_text(points: f64) -> String {
    let s = format!("{points:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
