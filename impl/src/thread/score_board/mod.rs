//! E1 reference: a sink that holds its lock across a line's two writes
//! ([`Locked`](on_std::Locked)), and the score board program
//! ([`Updaters`](on_std::Updaters)), written once in `locked.rs` and instantiated per
//! runtime.

racecourse_spec::runtimes!(include "locked.rs");

// For tools that read source without expanding macros (cargo-mutants): `locked.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "locked.rs"]
mod source;
