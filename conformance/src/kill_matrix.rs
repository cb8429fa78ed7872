//! The oracle self-test: every reference, must-pass and mutant implementation of every
//! exercise in the [registry](crate::registry), against every property of its
//! exercise (reviews aside), on one runtime.
//!
//! The matrix is snapshotted per runtime (`snapshots/kill_matrix__<runtime>.snap`), so
//! a change in what the suite catches shows up as a diff. Each mutant's declared
//! killers are asserted, and so is the other side: a reference or must-pass
//! implementation (correct, sometimes unusual) rejected by any property fails the run,
//! so a property that rejects correct code is caught as surely as one that accepts
//! wrong code. The references are checked here, not by suites written out per exercise
//! in each test binary: the registry is the one list.
//!
//! Mutants run where runs replay: loom, shuttle with fixed seeds, and processes with
//! deterministic rendezvous. On std threads most of them would be undefined behaviour
//! with a random outcome, so the std matrix holds the references and must-pass
//! implementations, where what matters is that slowness on real threads is never taken
//! for a hang, and a mutant only against the properties that are checked on std alone
//! and declared to reject it. Such a property (a timeout, real sockets, a child
//! program) cannot go to the model checkers, so it is written to be decided by
//! rendezvous, not by a race: its declared killers must reject in every run there too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::registry::{Exercise, Implementation, Role, EXERCISES};
use crate::runner::Finding;
use crate::runner::Runtime;

/// One cell: an implementation checked against one property.
#[derive(Debug)]
pub struct Cell {
    /// The implementation.
    pub implementation: Implementation,
    /// The property's name.
    pub property: &'static str,
    /// What happened.
    pub verdict: Result<(), Finding>,
    /// How long the check took.
    pub elapsed: Duration,
}

/// Every cell of one runtime.
#[derive(Debug)]
pub struct Matrix {
    /// The runtime the cells ran on.
    pub runtime: Runtime,
    /// The cells, in exercise, implementation, then property order.
    pub cells: Vec<Cell>,
}

/// Which rows and cells the matrix runs: unset for the default (the snapshotted
/// layout), `accepted` for only the rows that must be accepted, references and
/// must-pass implementations (for `ci/reference-stability.sh`), `all` for every
/// property against every mutant on every runtime (see [`Rows`]). A matrix run other
/// than the default is not snapshotted.
pub const ROWS_ENV: &str = "RACECOURSE_MATRIX_ROWS";

/// What `RACECOURSE_MATRIX_ROWS` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// References and must-pass implementations against every property; mutants
    /// against every property on shuttle and processes, and against the properties that
    /// must reject them on loom (see [`full_mutant_rows`]).
    Default,
    /// Only the rows that must be accepted.
    Accepted,
    /// Every mutant against every property, on loom too.
    All,
}

impl Rows {
    /// Reads `RACECOURSE_MATRIX_ROWS`; any other value is an error that says what to
    /// set instead.
    pub fn from_env() -> Rows {
        match std::env::var(ROWS_ENV).as_deref() {
            Err(_) | Ok("") => Rows::Default,
            Ok("accepted") => Rows::Accepted,
            Ok("all") => Rows::All,
            Ok(other) => panic!(
                "{ROWS_ENV}={other:?} is not understood: leave it unset, or set it to `accepted` (only the rows that must be accepted) or `all` (every mutant against every property)"
            ),
        }
    }
}

/// Whether `RACECOURSE_MATRIX_ROWS` restricts the matrix to the rows that must be
/// accepted.
pub fn accepted_only() -> bool {
    Rows::from_env() == Rows::Accepted
}

/// Whether a mutant's row on `runtime` holds every property of its exercise, or only
/// the ones that must reject it.
///
/// Loom explores every schedule (up to its bounds), so a property that a mutant
/// survives costs a whole exploration, as much as a reference's: about half of the
/// loom matrix's time went to such cells. On loom, a mutant's row is therefore its
/// declared killers, each of which must reject it in every run. The same holds for
/// real processes: each cell is a check process that starts worker processes, and a
/// mutant that hangs a pool costs a whole stall window (5 s) in every property it
/// hangs, not only in its killer's (the process matrix took 43 s with full rows and
/// the pool's 14 mutants, 8 s before). Shuttle holds the full rows, so what else
/// rejects a mutant, and a property that gets stronger or weaker, still shows in a
/// reviewed diff; `RACECOURSE_MATRIX_ROWS=all` draws the full rows on loom and
/// processes too.
pub fn full_mutant_rows(runtime: Runtime) -> bool {
    match runtime {
        Runtime::Std => false,
        Runtime::Loom | Runtime::Process => Rows::from_env() == Rows::All,
        Runtime::Shuttle => true,
    }
}

/// The properties of `exercise` that a mutant may be checked against on `runtime`:
/// every property checked there, except on std, where only those checked on std alone
/// (see the module docs).
pub fn mutant_properties(exercise: &Exercise, runtime: Runtime) -> Vec<&'static str> {
    match runtime {
        Runtime::Std => exercise.properties_only_on(Runtime::Std),
        _ => exercise.properties_on(runtime),
    }
}

/// The implementations the matrix of `runtime` holds, each with the properties it is
/// checked against: every reference and must-pass implementation against every
/// property, and every mutant that some property checked here must reject (a mutant
/// means something only there: `off_by_one_adder` needs the census, which runs under
/// loom), against every property or its declared killers (see [`full_mutant_rows`]).
/// On std, a mutant's row is its declared killers among the properties checked on std
/// alone (see the module docs); it has none elsewhere there.
pub fn plan(runtime: Runtime) -> Vec<(Implementation, Vec<&'static str>)> {
    let rows = Rows::from_env();
    let mut plan = Vec::new();
    for exercise in EXERCISES {
        let properties = exercise.properties_on(runtime);
        let asked = mutant_properties(exercise, runtime);
        for implementation in (exercise.implementations)(runtime) {
            let checked: Vec<&'static str> = match implementation.role {
                Role::Reference | Role::MustPass => properties.clone(),
                Role::Mutant { .. } if rows == Rows::Accepted => Vec::new(),
                Role::Mutant { must_fail } => {
                    if !must_fail.iter().any(|p| asked.contains(p)) {
                        Vec::new()
                    } else if full_mutant_rows(runtime) {
                        asked.clone()
                    } else {
                        asked
                            .iter()
                            .copied()
                            .filter(|p| must_fail.contains(p))
                            .collect()
                    }
                }
            };
            if !checked.is_empty() {
                plan.push((implementation, checked));
            }
        }
    }
    plan
}

/// How many cells run at once: the cores for checks that compute, four per core for
/// process checks, which mostly wait on their workers (a mutant that stalls sleeps a
/// whole window: with two per core, the stalling cells were a third of the process
/// binary's 17 s; with four, the binary takes about 11 s, under load too).
fn parallelism(runtime: Runtime) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match runtime {
        Runtime::Process => cores * 4,
        _ => cores,
    }
}

/// Runs the matrix of `runtime` (see [`plan`]).
///
/// Each cell runs isolated in a child process of `test` (the calling test's libtest
/// name): a mutant that deadlocks loom or aborts takes down only its own cell. Cells
/// run several at a time; in the child, only the cell asked for runs.
pub fn run(test: &str, runtime: Runtime) -> Matrix {
    let jobs: Vec<(Implementation, &'static str)> = plan(runtime)
        .into_iter()
        .flat_map(|(implementation, properties)| {
            properties.into_iter().map(move |p| (implementation, p))
        })
        .collect();
    let run_one = |&(implementation, property): &(Implementation, &'static str)| {
        let start = Instant::now();
        let cell = format!(
            "{}/{}/{}",
            implementation.exercise, implementation.name, property
        );
        let verdict = crate::isolate::cell(test, &cell, || (implementation.check)(property));
        Cell {
            implementation,
            property,
            verdict,
            elapsed: start.elapsed(),
        }
    };
    let cells: Vec<Cell> = if crate::isolate::in_child() {
        jobs.iter().map(run_one).collect()
    } else {
        // On processes, mutant cells start first: one that hangs waits a whole stall
        // window (5 s) doing nothing, which then overlaps the short cells instead of
        // ending the run (nine of them do). The cells keep their places in the matrix.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        if runtime == Runtime::Process {
            order.sort_by_key(|&i| !matches!(jobs[i].0.role, Role::Mutant { .. }));
        }
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<Option<Cell>>> = Mutex::new(jobs.iter().map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..parallelism(runtime).min(jobs.len()) {
                scope.spawn(|| {
                    while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let cell = run_one(&jobs[i]);
                        done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(cell);
                    }
                });
            }
        });
        done.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|c| c.expect("every job ran"))
            .collect()
    };
    Matrix { runtime, cells }
}

impl Matrix {
    /// The snapshot text: for each implementation, the properties that rejected it,
    /// and why (first line of each violation), with nothing that varies between runs;
    /// then, per property, the mutants only it rejects.
    pub fn render(&self) -> String {
        let mut out = format!("runtime: {}\n", self.runtime);
        match self.runtime {
            Runtime::Std => out.push_str("mutant rows: the properties checked on std alone that must reject each mutant (no race decides them)\n"),
            _ if !full_mutant_rows(self.runtime) => out.push_str("mutant rows: the properties that must reject each mutant (full rows: the shuttle matrix, or RACECOURSE_MATRIX_ROWS=all)\n"),
            _ => {}
        }
        let mut current = None;
        for cell in &self.cells {
            let i = cell.implementation;
            let key = (i.exercise, i.name);
            if current != Some(key) {
                current = Some(key);
                let role = match i.role {
                    Role::Reference => " (reference)",
                    Role::MustPass => " (must pass)",
                    Role::Mutant { .. } => "",
                };
                out.push_str(&format!("\n{}::{}{role}\n", key.0, key.1));
            }
            match &cell.verdict {
                Ok(()) => out.push_str(&format!("  {:20} passed\n", cell.property)),
                // Model checkers replay exactly, so what they saw is stable; real
                // threads and processes are not (how many updates were lost varies),
                // so their rows keep only the broken promise.
                Err((found, _)) if matches!(self.runtime, Runtime::Process | Runtime::Std) => out
                    .push_str(&format!(
                        "  {:20} REJECTED: expected {}\n",
                        cell.property, found.violation.expected
                    )),
                Err((found, scenario)) => out.push_str(&format!(
                    "  {:20} REJECTED: {}\n  {:20}   scenario: {scenario}\n",
                    cell.property,
                    found.violation.seen.lines().next().unwrap_or(""),
                    ""
                )),
            }
        }
        if self.mutants().is_empty() {
            return out;
        }
        out.push_str(if full_mutant_rows(self.runtime) {
            "\nrejected by this property alone:\n"
        } else {
            "\nthe only declared killer of:\n"
        });
        for (exercise, property) in self.properties() {
            let only: Vec<&str> = self
                .mutants()
                .into_iter()
                .filter(|&(e, m)| {
                    let rejecting: Vec<&str> = self
                        .cells
                        .iter()
                        .filter(|c| c.key() == (e, m) && c.verdict.is_err())
                        .map(|c| c.property)
                        .collect();
                    e == exercise && rejecting == [property]
                })
                .map(|(_, m)| m)
                .collect();
            let only = if only.is_empty() {
                "-".to_string()
            } else {
                only.join(", ")
            };
            out.push_str(&format!(
                "  {:36} {only}\n",
                format!("{exercise}::{property}")
            ));
        }
        out
    }

    /// Every (exercise, property) checked here that a mutant may be checked against,
    /// in cell order.
    fn properties(&self) -> Vec<(&'static str, &'static str)> {
        let runtime = self.runtime;
        self.distinct(|c| (c.implementation.exercise, c.property))
            .into_iter()
            .filter(|&(e, p)| {
                crate::registry::exercise(e)
                    .is_some_and(|e| mutant_properties(e, runtime).contains(&p))
            })
            .collect()
    }

    /// Every (exercise, mutant) checked here, in cell order.
    fn mutants(&self) -> Vec<(&'static str, &'static str)> {
        let mutants: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| matches!(c.implementation.role, Role::Mutant { .. }))
            .collect();
        let mut seen = Vec::new();
        for c in mutants {
            if !seen.contains(&c.key()) {
                seen.push(c.key());
            }
        }
        seen
    }

    fn distinct<K: PartialEq>(&self, key: impl Fn(&Cell) -> K) -> Vec<K> {
        let mut seen = Vec::new();
        for c in &self.cells {
            let k = key(c);
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
        seen
    }

    /// Panics, naming them, if a mutant survived a property that must reject it or
    /// survived every property, or if a must-pass implementation was rejected.
    pub fn assert_expected(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "the oracle is wrong about these implementations:\n{}",
            problems.join("\n")
        );
    }

    /// What [`assert_expected`](Self::assert_expected) would panic with, one line
    /// (with its verdict's whole text) per wrong cell: printed before a snapshot
    /// comparison, whose diff shows only the first line of each verdict.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for cell in &self.cells {
            let i = cell.implementation;
            match (&cell.verdict, i.role) {
                (Ok(()), Role::Mutant { must_fail }) if must_fail.contains(&cell.property) => {
                    problems.push(format!(
                        "{}::{} survived {} on {}",
                        i.exercise, i.name, cell.property, self.runtime
                    ))
                }
                (Err((found, scenario)), Role::MustPass | Role::Reference) => problems.push(format!(
                    "{}::{} (correct, must be accepted) was rejected by {} on {}: {}\n  scenario: {scenario}\n  schedule: {}",
                    i.exercise, i.name, cell.property, self.runtime, found.violation, found.schedule
                )),
                _ => {}
            }
        }
        for m in self.mutants() {
            if self
                .cells
                .iter()
                .filter(|c| c.key() == m)
                .all(|c| c.verdict.is_ok())
            {
                problems.push(format!(
                    "{}::{} survived every property on {}",
                    m.0, m.1, self.runtime
                ));
            }
        }
        problems
    }

    /// Panics, naming them, if a property checked here rejected no mutant: such a
    /// property is either redundant or untested. (On std, only the properties checked
    /// there alone are asked: mutants meet the others under the model checkers.)
    pub fn assert_every_property_rejects_a_mutant(&self) {
        // Every property checked (on any row) of an exercise that has mutants here: on
        // loom a mutant's row holds only its declared killers, so a property that no
        // mutant declares would otherwise go unasked.
        let with_mutants: Vec<&str> = self.mutants().into_iter().map(|(e, _)| e).collect();
        let mut properties: Vec<(&str, &str)> = self
            .properties()
            .into_iter()
            .filter(|(e, _)| with_mutants.contains(e))
            .collect();
        properties.sort();
        properties.dedup();
        let idle: Vec<String> = properties
            .into_iter()
            .filter(|&(exercise, property)| {
                self.cells
                    .iter()
                    .filter(|c| c.implementation.exercise == exercise && c.property == property)
                    .all(|c| c.verdict.is_ok())
            })
            .map(|(exercise, property)| format!("{exercise}::{property}"))
            .collect();
        assert!(
            idle.is_empty(),
            "properties that rejected no mutant on {}: {} (add a mutant that only they catch)",
            self.runtime,
            idle.join(", ")
        );
    }

    /// Per mutant, the time until its first rejection (the sum of the cells up to and
    /// including the first that rejected it), for the timing report.
    pub fn time_to_reject(&self) -> Vec<(String, Option<Duration>)> {
        let mut out: Vec<(String, Option<Duration>)> = Vec::new();
        let mut spent = Duration::ZERO;
        let mut current = String::new();
        for cell in self
            .cells
            .iter()
            .filter(|c| matches!(c.implementation.role, Role::Mutant { .. }))
        {
            let key = format!(
                "{}::{}",
                cell.implementation.exercise, cell.implementation.name
            );
            if key != current {
                current = key.clone();
                spent = Duration::ZERO;
                out.push((key, None));
            }
            spent += cell.elapsed;
            let last = out.last_mut().expect("pushed above");
            if last.1.is_none() && cell.verdict.is_err() {
                last.1 = Some(spent);
            }
        }
        out
    }

    /// Appends the outcome of every row to the file named by `RACECOURSE_TIMINGS`, if
    /// set (read by `ci/mutant-stability.sh` and `ci/reference-stability.sh`): per
    /// mutant `runtime mutant exercise::name seconds|survived` (its time to rejection),
    /// per reference and must-pass cell `runtime reference|must_pass
    /// exercise::name/property accepted|rejected`,
    /// and per cell `runtime cell exercise::name/property seconds`.
    pub fn record_timings(&self) {
        let Ok(path) = std::env::var("RACECOURSE_TIMINGS") else {
            return;
        };
        let mut text = String::new();
        for (mutant, t) in self.time_to_reject() {
            let secs = t
                .map(|d| format!("{:.4}", d.as_secs_f64()))
                .unwrap_or_else(|| "survived".into());
            text.push_str(&format!("{} mutant {mutant} {secs}\n", self.runtime));
        }
        for cell in &self.cells {
            let kind = match cell.implementation.role {
                Role::Reference => "reference",
                Role::MustPass => "must_pass",
                Role::Mutant { .. } => continue,
            };
            let word = if cell.verdict.is_ok() {
                "accepted"
            } else {
                "rejected"
            };
            text.push_str(&format!(
                "{} {kind} {}::{}/{} {word}\n",
                self.runtime, cell.implementation.exercise, cell.implementation.name, cell.property
            ));
        }
        // Every cell's wall time, for finding what makes a matrix slow (the summary
        // script reads only the two kinds above).
        for cell in &self.cells {
            text.push_str(&format!(
                "{} cell {}::{}/{} {:.3}\n",
                self.runtime,
                cell.implementation.exercise,
                cell.implementation.name,
                cell.property,
                cell.elapsed.as_secs_f64()
            ));
        }
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

impl Cell {
    /// (exercise, implementation).
    fn key(&self) -> (&'static str, &'static str) {
        (self.implementation.exercise, self.implementation.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties_of(implementation: &Implementation, runtime: Runtime) -> Vec<&'static str> {
        EXERCISES
            .iter()
            .find(|e| e.name == implementation.exercise)
            .expect("every implementation belongs to a registered exercise")
            .properties_on(runtime)
    }

    #[test]
    fn loom_checks_mutants_against_their_declared_killers_only() {
        for (implementation, checked) in plan(Runtime::Loom) {
            let all = properties_of(&implementation, Runtime::Loom);
            match implementation.role {
                Role::Mutant { must_fail } => {
                    let declared: Vec<&str> = all
                        .iter()
                        .copied()
                        .filter(|p| must_fail.contains(p))
                        .collect();
                    assert_eq!(checked, declared, "{}", implementation.name);
                }
                _ => assert_eq!(checked, all, "{}", implementation.name),
            }
        }
    }

    #[test]
    fn std_checks_mutants_against_their_declared_killers_checked_on_std_alone() {
        let plan = plan(Runtime::Std);
        let mutant = |name: &str| {
            plan.iter()
                .find(|(i, _)| i.exercise == "event" && i.name == name)
                .map(|(_, checked)| checked.clone())
        };
        // Declared for clear_resets (loom and shuttle) and wait_timeout (std alone).
        assert_eq!(mutant("clear_does_nothing"), Some(vec!["wait_timeout"]));
        // Declared for properties the model checkers check: no row on std.
        assert_eq!(mutant("wakes_one"), None);
        for (implementation, checked) in plan {
            if implementation.must_be_accepted() {
                assert_eq!(checked, properties_of(&implementation, Runtime::Std));
            }
        }
    }

    #[test]
    fn shuttle_checks_mutants_against_every_property() {
        let plan = plan(Runtime::Shuttle);
        assert!(plan
            .iter()
            .any(|(i, _)| matches!(i.role, Role::Mutant { .. })));
        for (implementation, checked) in plan {
            assert_eq!(
                checked,
                properties_of(&implementation, Runtime::Shuttle),
                "{}",
                implementation.name
            );
        }
    }
}
