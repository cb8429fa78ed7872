//! racecourse: the checking engine.
//!
//! Runners execute a scenario against an implementation on one runtime (std threads,
//! shuttle, loom, or real processes), oracles judge the recorded history or outcome,
//! and every failure becomes a [`report::Failure`] with a replay command. The
//! [`registry`] lists the exercises; each has a suite module here (`shared_list`,
//! `counter`, `queue`, `thread_local`, `score_board`, `shm_counter`, `shm_array`, ...) with its test macro, and its [`mutants`] and
//! [`must_pass`] implementations, which the [`kill_matrix`] holds the suites to.

// Declares the `properties!` macro: first, so every exercise module can use it.
#[macro_use]
pub mod property;

pub mod child_processes;
pub mod condition;
pub mod counter;
pub mod cpu_bound;
pub mod errors;
pub mod event;
pub mod executor;
pub mod grade;
pub mod io_fanout;
pub mod isolate;
pub mod kill_matrix;
pub mod lecture;
pub mod manager;
pub mod must_pass;
pub mod mutants;
pub mod oracle;
pub mod pipe;
pub mod pool_sizes;
pub mod process_pool;
pub mod process_queue;
pub mod queue;
pub mod registry;
pub mod report;
pub mod review;
pub mod rlock;
pub mod runner;
pub mod score_board;
pub mod semaphore;
pub mod shared_list;
pub mod shm_array;
pub mod shm_counter;
pub mod shm_list;
pub mod suite;
pub mod thread_local;

#[cfg(test)]
mod tests {
    /// The workflow a fork runs is the one kept in `ci/`.
    #[test]
    fn the_github_workflow_is_the_one_in_ci() {
        assert_eq!(
            include_str!("../../.github/workflows/ci.yml"),
            include_str!("../../ci/workflow.yml"),
            "copy ci/workflow.yml to .github/workflows/ci.yml"
        );
    }
}
