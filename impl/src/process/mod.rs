//! Process implementations.
pub mod child;
