//! racecourse: the checking engine.
//!
//! Runners execute a scenario against an implementation on one runtime (std threads,
//! shuttle, loom, or real processes), oracles judge the recorded history or outcome,
//! and every failure becomes a [`report::Failure`] with a replay command.

// Declares the `properties!` macro: first, so every exercise module can use it.
#[macro_use]
mod property;

pub mod counter;
pub mod isolate;
pub mod kill_matrix;
pub mod mutants;
pub mod oracle;
pub mod report;
pub mod runner;
pub mod shared_list;
pub mod shm_counter;
pub mod suite;
