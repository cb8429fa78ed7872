//! Thread implementations, each written once against the runtime facade and
//! instantiated by [`racecourse_spec::runtimes!`] as `on_std`, `on_loom` and
//! `on_shuttle`.

pub mod condition;
pub mod counter;
pub mod errors;
pub mod event;
pub mod executor;
pub mod io_fanout;
pub mod lecture;
pub mod queue;
pub mod rlock;
pub mod score_board;
pub mod semaphore;
pub mod shared_list;
pub mod thread_local;
