//! E5 reference: a bounded buffer under one mutex and one condition variable
//! ([`Buffer`](on_std::Buffer)), written once in `buffer.rs` and instantiated per
//! runtime.

racecourse_spec::runtimes!(include "buffer.rs");

// For tools that read source without expanding macros (cargo-mutants): `buffer.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "buffer.rs"]
mod source;
