//! A sample student submission.
