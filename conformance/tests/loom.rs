//! The loom column of the kill matrix (references, must-pass implementations and
//! mutants of every exercise), and the references' loom snapshots (censuses). loom
//! and shuttle never share a test binary: shuttle installs a process-wide panic hook,
//! and loom panics to report failures.

mod common;

use racecourse::runner::Runtime;

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Loom);
    common::check_matrix("kill_matrix__loom", &matrix);
}

#[test]
fn snapshots() {
    common::check_snapshots(Runtime::Loom);
}
