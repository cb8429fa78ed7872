//! E1 reference: a pool of workers that each take the next input from a shared
//! counter ([`Pool`](on_std::Pool)), written once in `pool.rs` and instantiated per
//! runtime (it uses `std::thread` and `std::sync` directly: the exercise runs on real
//! threads only, with real sockets).

racecourse_spec::runtimes!(include "pool.rs");

// For tools that read source without expanding macros (cargo-mutants): `pool.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "pool.rs"]
mod source;
