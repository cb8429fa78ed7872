//! Contracts of the threads-and-processes exercises, one module per exercise, and the
//! runtime facade that lets one implementation run on std threads, loom and shuttle.
//!
//! A contract is a trait: its docs say what the caller may rely on and what an
//! implementation **must** do. The conformance suites in the `racecourse` crate check
//! exactly these statements; the exercise catalogue (`EXERCISES.md`) is where they
//! come from.
//!
//! ```
//! use racecourse_spec::shared_list::{RemovalOrder, SharedList};
//!
//! pub mod mine {
//!     racecourse_spec::runtimes! {
//!         use std::collections::VecDeque;
//!         use rt::sync::Mutex;
//!         use racecourse_spec::shared_list::{RemovalOrder, SharedList};
//!
//!         /// A queue behind one lock.
//!         #[derive(Debug, Default)]
//!         pub struct Fifo(Mutex<VecDeque<u32>>);
//!
//!         impl SharedList for Fifo {
//!             const ORDER: RemovalOrder = RemovalOrder::Fifo;
//!             fn new() -> Self { Self::default() }
//!             fn add(&self, x: u32) { self.0.lock().unwrap().push_back(x) }
//!             fn remove(&self) -> Option<u32> { self.0.lock().unwrap().pop_front() }
//!             fn snapshot(&self) -> Vec<u32> { self.0.lock().unwrap().iter().copied().collect() }
//!         }
//!     }
//! }
//! let list = mine::on_std::Fifo::new();
//! list.add(1);
//! assert_eq!(list.remove(), Some(1));
//! assert_eq!(list.remove(), None);
//! ```
//!
//! Run the suites with `cargo test` at the workspace root.

pub mod child_processes;
pub mod condition;
pub mod counter;

pub mod errors;
pub mod event;
pub mod executor;
pub mod io_fanout;
pub mod job;
pub mod lecture;
pub mod manager;
pub mod pipe;
pub mod process_pool;
pub mod process_queue;
pub mod queue;
pub mod rlock;
pub mod rt;
pub mod score_board;
pub mod semaphore;
pub mod shared_list;
pub mod shm_array;
pub mod shm_counter;
pub mod shm_list;
pub mod thread_local;
