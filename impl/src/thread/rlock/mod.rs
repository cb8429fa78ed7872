//! E5 reference: a reentrant lock ([`Reentrant`](on_std::Reentrant)): the owner and its
//! count under a mutex, waiters on a condition variable. Written once in
//! `reentrant.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "reentrant.rs");

// For tools that read source without expanding macros (cargo-mutants): `reentrant.rs`
// is compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "reentrant.rs"]
mod source;
