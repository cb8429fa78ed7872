//! The exercise registry: the one list of exercises.
//!
//! Everything that lists exercises iterates [`EXERCISES`]: the kill matrices, the
//! main job (`racecourse references`), the grader (which exercises a submission may
//! declare, with which slots, and the default rubric), and the README's "what is
//! checked" table (checked against the registry by a test). Adding an exercise is a
//! contract module in `spec/`, references in `impl/`, a suite module (with its mutants
//! and must-pass implementations) in `conformance/`, and one line here.

use crate::property::PropertyInfo;
use crate::runner::{Finding, Runtime};

/// Every exercise, in the order it was added: new exercises go last, so that the
/// positions reports number them by (an Exercism task id) stay the same.
pub const EXERCISES: &[&Exercise] = &[
    &crate::shared_list::EXERCISE,
    &crate::counter::EXERCISE,
    &crate::rlock::EXERCISE,
    &crate::semaphore::EXERCISE,
    &crate::event::EXERCISE,
    &crate::condition::EXERCISE,
    &crate::queue::EXERCISE,
    &crate::thread_local::EXERCISE,
    &crate::score_board::EXERCISE,
    &crate::shm_counter::EXERCISE,
    &crate::io_fanout::EXERCISE,
    &crate::executor::EXERCISE,
    &crate::errors::EXERCISE,
    &crate::lecture::EXERCISE,
    &crate::process_pool::EXERCISE,
    &crate::pool_sizes::EXERCISE,
    &crate::cpu_bound::EXERCISE,
    &crate::child_processes::EXERCISE,
    &crate::shm_array::EXERCISE,
    &crate::pipe::EXERCISE,
    &crate::process_queue::EXERCISE,
    &crate::shm_list::EXERCISE,
    &crate::manager::EXERCISE,
];

/// The exercise named `name`.
pub fn exercise(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().copied().find(|e| e.name == name)
}

/// The names of every exercise, for messages.
pub fn names() -> Vec<&'static str> {
    EXERCISES.iter().map(|e| e.name).collect()
}

/// One exercise, as every consumer sees it.
#[derive(Debug)]
pub struct Exercise {
    /// The name shared by its modules in every crate and by its test macro, e.g.
    /// `counter`.
    pub name: &'static str,
    /// Where it is in the course catalogue (`EXERCISES.md`), e.g. `E5`.
    pub catalogue: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// Its properties, in report order.
    pub properties: &'static [PropertyInfo],
    /// What a submission declares for it: one type per slot, in this order.
    pub slots: &'static [Slot],
    /// Its implementations instantiated for a runtime: references, must-pass and
    /// mutants.
    pub implementations: fn(Runtime) -> Vec<Implementation>,
    /// The snapshots its references produce on a runtime (census, transcript ...), as
    /// (snapshot name, text): each test binary asserts those of its runtime, so a
    /// change in what a reference reaches or prints shows up as a reviewed diff.
    pub snapshots: fn(Runtime) -> Vec<(String, String)>,
}

/// For an exercise without snapshots.
pub fn no_snapshots(_: Runtime) -> Vec<(String, String)> {
    Vec::new()
}

impl Exercise {
    /// The names of its properties checked on `runtime`, reviews left out (they judge
    /// nothing: see [`PropertyInfo::review`]).
    pub fn properties_on(&self, runtime: Runtime) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| !p.review && p.runtimes.contains(&runtime))
            .map(|p| p.name)
            .collect()
    }

    /// The names of its properties checked on `runtime` and nowhere else, reviews left
    /// out.
    pub fn properties_only_on(&self, runtime: Runtime) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| !p.review && p.runtimes == [runtime])
            .map(|p| p.name)
            .collect()
    }

    /// Every runtime some property is checked on, in [`Runtime::ALL`] order.
    pub fn runtimes(&self) -> Vec<Runtime> {
        Runtime::ALL
            .into_iter()
            .filter(|rt| self.properties.iter().any(|p| p.runtimes.contains(rt)))
            .collect()
    }

    /// Whether its implementations are thread code (written inside `runtimes!`) rather
    /// than process code.
    pub fn on_threads(&self) -> bool {
        !self.runtimes().contains(&Runtime::Process)
    }

    /// The number of generated tests for one implementation: one per property and
    /// runtime.
    pub fn test_count(&self) -> usize {
        self.properties.iter().map(|p| p.runtimes.len()).sum()
    }
}

/// A type a submission supplies for an exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The key in the test macro and in `[package.metadata.racecourse]`, e.g. `list`.
    pub name: &'static str,
    /// The trait the type implements, e.g. `racecourse_spec::shared_list::SharedList`.
    pub bound: &'static str,
}

/// What an implementation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A reference implementation: every property must accept it, on every runtime,
    /// every run (the kill matrix asserts it; `racecourse references` shows it).
    Reference,
    /// Correct but unusual: every property must accept it, on every runtime, every run.
    MustPass,
    /// Wrong on purpose: each property in `must_fail` that is checked on the runtime
    /// must reject it, and at least one property must.
    Mutant {
        /// The properties that must reject it (a name not checked on the runtime asks
        /// nothing there).
        must_fail: &'static [&'static str],
    },
}

/// An implementation of an exercise, instantiated for one runtime.
#[derive(Clone, Copy, Debug)]
pub struct Implementation {
    /// The exercise it implements.
    pub exercise: &'static str,
    /// Its name in tables and snapshots.
    pub name: &'static str,
    /// Reference, must-pass or mutant.
    pub role: Role,
    /// Checks one property (by name) of it on the runtime it was made for.
    pub check: fn(&'static str) -> Result<(), Finding>,
}

impl Implementation {
    /// Whether every property must accept it (a reference or a must-pass
    /// implementation).
    pub fn must_be_accepted(&self) -> bool {
        matches!(self.role, Role::Reference | Role::MustPass)
    }

    /// The properties that must reject it (none unless it is a mutant).
    pub fn must_fail(&self) -> &'static [&'static str] {
        match self.role {
            Role::Mutant { must_fail } => must_fail,
            _ => &[],
        }
    }
}

/// The README's "what is checked" table, rendered from the registry: one row per
/// property, with the runtimes that check it and what it means. A test keeps the
/// README's copy equal to this.
pub fn checked_table() -> String {
    let mut out =
        String::from("| exercise | property | runtimes | what it means |\n|---|---|---|---|\n");
    for e in EXERCISES {
        for (i, p) in e.properties.iter().enumerate() {
            let exercise = if i == 0 {
                format!("{} ({})", e.name, e.catalogue)
            } else {
                String::new()
            };
            let runtimes: Vec<&str> = p.runtimes.iter().map(|r| r.name()).collect();
            let name = if p.review {
                format!("{} (review)", p.name)
            } else {
                p.name.to_string()
            };
            out.push_str(&format!(
                "| {exercise} | {name} | {} | {} |\n",
                runtimes.join(", "),
                p.meaning()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README lists what is checked; it must say what the registry says.
    #[test]
    fn readme_table_matches_the_registry() {
        let readme = include_str!("../../README.md");
        let table = checked_table();
        assert!(
            readme.contains(&table),
            "README.md's \"what is checked\" table is out of date; replace it with:\n\n{table}"
        );
    }

    #[test]
    fn names_are_unique_and_match_their_modules() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EXERCISES.len(), "two exercises share a name");
        for e in EXERCISES {
            assert!(!e.properties.is_empty(), "{} has no property", e.name);
            assert!(!e.slots.is_empty(), "{} has no slot", e.name);
        }
    }

    #[test]
    fn every_exercise_has_a_reference_and_a_must_pass_on_each_runtime() {
        for e in EXERCISES {
            for rt in e.runtimes() {
                let roles: Vec<Role> = (e.implementations)(rt).iter().map(|i| i.role).collect();
                assert!(
                    roles.contains(&Role::Reference),
                    "{} has no reference on {rt}",
                    e.name
                );
                assert!(
                    roles.contains(&Role::MustPass),
                    "{} has no must-pass implementation on {rt}",
                    e.name
                );
            }
        }
    }
}
