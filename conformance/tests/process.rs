//! The process column of the kill matrix (references, must-pass implementations and
//! mutants of every process exercise). Workers are this binary, re-executed and routed
//! to the worker before the test harness starts.

mod common;

use racecourse::runner::Runtime;

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Process);
    common::check_matrix("kill_matrix__process", &matrix);
}

#[test]
fn snapshots() {
    common::check_snapshots(Runtime::Process);
}
