//! Oracles: judges of recorded histories and outcomes.

pub mod invariants;
pub mod linearizability;
