//! The std column of the kill matrix: every reference and must-pass implementation
//! of every exercise on real threads (mutants never run here).

mod common;

use racecourse::runner::Runtime;

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Std);
    common::check_matrix("kill_matrix__std", &matrix);
}

#[test]
fn snapshots() {
    common::check_snapshots(Runtime::Std);
}
