//! L reference: daemon threads left detached, normal threads' handles kept and joined
//! at the end of main, a live count kept by each thread's own work
//! ([`Joined`](on_std::Joined)), written once in `joined.rs` and instantiated per
//! runtime. The exercise is checked on real threads only.

racecourse_spec::runtimes!(include "joined.rs");

// For tools that read source without expanding macros (cargo-mutants): `joined.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "joined.rs"]
mod source;
