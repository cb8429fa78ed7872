//! E5 reference: an event as a flag under a mutex with a condition variable
//! ([`Flag`](on_std::Flag)), written once in `flag.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "flag.rs");

// For tools that read source without expanding macros (cargo-mutants): `flag.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "flag.rs"]
mod source;
