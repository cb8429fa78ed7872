//! Reference implementations of the racecourse exercises: `thread` holds those written
//! against the runtime facade (one source, three runtimes), `process` those that run
//! as real OS processes.

pub mod cpu_bound;
pub mod process;
pub mod thread;

#[doc(hidden)]
pub use racecourse_spec as __spec;
