//! E4 reference: a list under one lock, in FIFO and LIFO flavours, and the adder /
//! remover program, written once in `lists.rs` and instantiated per runtime.

racecourse_spec::runtimes!(include "lists.rs");

// For tools that read source without expanding macros (cargo-mutants): `lists.rs` is
// compiled through the `include` above; this declaration is never compiled.
#[cfg(any())]
#[path = "lists.rs"]
mod source;
