//! E5 reference: thread-local storage on `rt::thread_local!`
//! ([`PerThread`](on_std::PerThread)), written once in `per_thread.rs` and instantiated
//! per runtime.

racecourse_spec::runtimes!(include "per_thread.rs");

// For tools that read source without expanding macros (cargo-mutants): `per_thread.rs`
// is compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "per_thread.rs"]
mod source;
