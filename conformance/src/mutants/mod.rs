//! Mutants: wrong implementations that the suites must reject, every run.
//!
//! A property that no mutant trips is either redundant or untested; the kill matrix
//! (`tests/*.rs`, `kill_matrix`) runs every mutant against every property of its
//! exercise and snapshots which properties rejected it on which runtime.

pub mod child_processes;
pub mod condition;
pub mod counter;
pub mod errors;
pub mod event;
pub mod executor;
pub mod io_fanout;
pub mod lecture;
pub mod manager;
pub mod pipe;
pub mod process_pool;
pub mod process_queue;
pub mod queue;
pub mod rlock;
pub mod score_board;
pub mod semaphore;
pub mod shared_list;
pub mod shm_array;
pub mod shm_list;
pub mod thread_local;
