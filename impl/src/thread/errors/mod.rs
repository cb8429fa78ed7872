//! E6 reference: every technique of handling errors in concurrent programs
//! ([`Techniques`](on_std::Techniques)): a `catch_unwind` in each worker, a queue of
//! errors drained after the joins, a task wrapped so that its error reaches the
//! callback before its future, and a hook kept in the value. Written once in
//! `techniques.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "techniques.rs");

// For tools that read source without expanding macros (cargo-mutants): `techniques.rs`
// is compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "techniques.rs"]
mod source;
