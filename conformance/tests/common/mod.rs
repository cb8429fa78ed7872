//! Shared by the test binaries: where snapshots live and how they are named.

#![allow(dead_code)]

use racecourse::kill_matrix::Matrix;

/// insta settings for racecourse: every snapshot under the workspace's `snapshots/`,
/// named `<exercise>__<scenario>` without the test module's path.
pub(crate) fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// Snapshots a kill matrix, records its timings, asserts every declared kill and
/// every must-pass acceptance, and that every property rejects at least one mutant.
/// A matrix run in another layout (`RACECOURSE_MATRIX_ROWS=accepted` or `all`) is
/// asserted, not snapshotted; the full one is printed.
pub(crate) fn check_matrix(name: &str, matrix: &Matrix) {
    use racecourse::kill_matrix::Rows;
    matrix.record_timings();
    match Rows::from_env() {
        Rows::Default => {}
        Rows::Accepted => {
            matrix.assert_expected();
            return;
        }
        // Not the snapshotted layout: shown, not compared.
        Rows::All => {
            eprintln!("{}", matrix.render());
            matrix.assert_expected();
            matrix.assert_every_property_rejects_a_mutant();
            return;
        }
    }
    // A snapshot diff shows what each cell expected, not what it saw: the whole
    // verdicts of the wrong cells come first.
    let problems = matrix.problems();
    if !problems.is_empty() {
        eprintln!(
            "the oracle is wrong about these implementations:\n{}",
            problems.join("\n")
        );
    }
    snapshots().bind(|| insta::assert_snapshot!(name, matrix.render()));
    matrix.assert_expected();
    matrix.assert_every_property_rejects_a_mutant();
}

/// Asserts the snapshots every exercise of the registry produces on `runtime`.
pub(crate) fn check_snapshots(runtime: racecourse::runner::Runtime) {
    for exercise in racecourse::registry::EXERCISES {
        for (name, text) in (exercise.snapshots)(runtime) {
            snapshots().bind(|| insta::assert_snapshot!(name, text));
        }
    }
}
