//! The oracle self-test: every mutant against every property of its exercise, on one
//! runtime.
//!
//! The matrix is snapshotted per runtime (`snapshots/kill_matrix__<runtime>.snap`), so
//! a change in what the suite catches shows up as a diff, and each mutant's declared
//! killers are asserted so a weakened property fails the run even before review.
//! Only deterministic runtimes appear here: loom and shuttle with fixed seeds, and
//! processes with deterministic rendezvous. Mutants are never run on std threads,
//! where several of them would be undefined behaviour with a random outcome.

use std::time::{Duration, Instant};

use crate::runner::Finding;
use crate::runner::Runtime;

/// A wrong implementation and the properties that must reject it.
#[derive(Clone, Copy, Debug)]
pub struct Mutant {
    /// The exercise it belongs to.
    pub exercise: &'static str,
    /// Its name in the matrix.
    pub name: &'static str,
    /// Properties that **must** reject it, wherever they are checked on this runtime
    /// (a name not checked here, like `census` on shuttle, asks nothing).
    pub must_fail: &'static [&'static str],
    /// Checks one property (by name) of the mutant on this runtime.
    pub check: fn(&'static str) -> Result<(), Finding>,
}

/// One cell: a mutant checked against one property.
#[derive(Debug)]
pub struct Cell {
    /// The mutant.
    pub mutant: Mutant,
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
    /// The cells, in mutant then property order.
    pub cells: Vec<Cell>,
}

/// Runs every mutant against each of `properties` (its exercise's, on this runtime).
///
/// Each cell runs isolated in a child process of `test` (the calling test's libtest
/// name): a mutant that deadlocks loom or aborts takes down only its own cell.
pub fn run(
    test: &str,
    runtime: Runtime,
    mutants: &[Mutant],
    properties: impl Fn(&'static str) -> Vec<&'static str>,
) -> Matrix {
    let mut cells = Vec::new();
    for &mutant in mutants {
        for property in properties(mutant.exercise) {
            let start = Instant::now();
            let cell = format!("{}/{}/{}", mutant.exercise, mutant.name, property);
            let verdict = crate::isolate::cell(test, &cell, || (mutant.check)(property));
            cells.push(Cell {
                mutant,
                property,
                verdict,
                elapsed: start.elapsed(),
            });
        }
    }
    Matrix { runtime, cells }
}

impl Matrix {
    /// The snapshot text: for each mutant, the properties that rejected it, and why
    /// (first line of each violation), with nothing that varies between runs.
    pub fn render(&self) -> String {
        let mut out = format!("runtime: {}\n", self.runtime);
        let mut current = None;
        for cell in &self.cells {
            let key = (cell.mutant.exercise, cell.mutant.name);
            if current != Some(key) {
                current = Some(key);
                out.push_str(&format!("\n{}::{}\n", key.0, key.1));
            }
            match &cell.verdict {
                Ok(()) => out.push_str(&format!("  {:20} passed\n", cell.property)),
                // Model checkers replay exactly, so what they saw is stable; real
                // processes are not (how many updates were lost varies), so their
                // rows keep only the broken promise.
                Err((found, _)) if self.runtime == Runtime::Process => out.push_str(&format!(
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
        out.push_str("\nrejected by this property alone:\n");
        for (exercise, property) in self.properties() {
            let only: Vec<&str> = self
                .mutants()
                .into_iter()
                .filter(|&(e, m)| {
                    let rejecting: Vec<&str> = self
                        .cells
                        .iter()
                        .filter(|c| {
                            (c.mutant.exercise, c.mutant.name) == (e, m) && c.verdict.is_err()
                        })
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

    /// Every (exercise, property) checked here, in cell order.
    fn properties(&self) -> Vec<(&'static str, &'static str)> {
        self.distinct(|c| (c.mutant.exercise, c.property))
    }

    /// Every (exercise, mutant) checked here, in cell order.
    fn mutants(&self) -> Vec<(&'static str, &'static str)> {
        self.distinct(|c| (c.mutant.exercise, c.mutant.name))
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
    /// survived every property.
    pub fn assert_expected(&self) {
        let mut problems = Vec::new();
        for cell in &self.cells {
            if cell.verdict.is_ok() && cell.mutant.must_fail.contains(&cell.property) {
                problems.push(format!(
                    "{}::{} survived {} on {}",
                    cell.mutant.exercise, cell.mutant.name, cell.property, self.runtime
                ));
            }
        }
        let mut mutants: Vec<_> = self
            .cells
            .iter()
            .map(|c| (c.mutant.exercise, c.mutant.name))
            .collect();
        mutants.dedup();
        for m in mutants {
            if self
                .cells
                .iter()
                .filter(|c| (c.mutant.exercise, c.mutant.name) == m)
                .all(|c| c.verdict.is_ok())
            {
                problems.push(format!(
                    "{}::{} survived every property on {}",
                    m.0, m.1, self.runtime
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "the oracle missed mutants:\n{}",
            problems.join("\n")
        );
    }

    /// Panics, naming them, if a property checked here rejected no mutant: such a
    /// property is either redundant or untested.
    pub fn assert_every_property_rejects_a_mutant(&self) {
        let mut properties: Vec<(&str, &str)> = self
            .cells
            .iter()
            .map(|c| (c.mutant.exercise, c.property))
            .collect();
        properties.sort();
        properties.dedup();
        let idle: Vec<String> = properties
            .into_iter()
            .filter(|&(exercise, property)| {
                self.cells
                    .iter()
                    .filter(|c| c.mutant.exercise == exercise && c.property == property)
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
        for cell in &self.cells {
            let key = format!("{}::{}", cell.mutant.exercise, cell.mutant.name);
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

    /// Appends the timings to the file named by `RACECOURSE_TIMINGS`, if set, one
    /// `runtime mutant seconds` line per mutant (used by `ci/mutant-stability.sh`).
    pub fn record_timings(&self) {
        let Ok(path) = std::env::var("RACECOURSE_TIMINGS") else {
            return;
        };
        let mut text = String::new();
        for (mutant, t) in self.time_to_reject() {
            let secs = t
                .map(|d| format!("{:.4}", d.as_secs_f64()))
                .unwrap_or_else(|| "survived".into());
            text.push_str(&format!("{} {mutant} {secs}\n", self.runtime));
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
