//! E5 reference: a queue under one lock with a condition variable per wait
//! ([`Locked`](on_std::Locked)), and the course's crawler on it
//! ([`Crawl`](on_std::Crawl)), written once in `locked.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "locked.rs");

// For tools that read source without expanding macros (cargo-mutants): `locked.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "locked.rs"]
mod source;
