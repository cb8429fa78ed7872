//! E7 reference: a fixed pool of workers taking tasks from one queue, each task's
//! outcome in its own slot ([`Pool`](on_std::Pool)), written once in `pool.rs` and
//! instantiated per runtime.

racecourse_spec::runtimes!(include "pool.rs");

// For tools that read source without expanding macros (cargo-mutants): `pool.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "pool.rs"]
mod source;
