//! E5 reference: a counting semaphore ([`Counting`](on_std::Counting)) and a bounded
//! one ([`Bounded`](on_std::Bounded)), each a count under a mutex with waiters on a
//! condition variable. Written once in `counting.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "counting.rs");

// For tools that read source without expanding macros (cargo-mutants): `counting.rs`
// is compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "counting.rs"]
mod source;
