//! Thread implementations.
