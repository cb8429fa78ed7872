//! Oracles: judges of recorded histories and outcomes.

pub mod census;
pub mod invariants;
pub mod linearizability;
