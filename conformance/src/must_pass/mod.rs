//! Must-pass implementations: correct but unusual, as students write them. The
//! counterpart of [`mutants`](crate::mutants): where a mutant shows that a property
//! can reject wrong code, a must-pass implementation shows that it does not reject
//! right code. The kill matrix asserts that every property accepts each of them on
//! every runtime, in every run (std threads included, where slowness must never be
//! mistaken for a hang).

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
