//! Process implementations.
