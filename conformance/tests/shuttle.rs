//! The shuttle column of the kill matrix (references, must-pass implementations and
//! mutants of every exercise), and the references' shuttle snapshots (transcripts).

mod common;

use racecourse::runner::Runtime;

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Shuttle);
    common::check_matrix("kill_matrix__shuttle", &matrix);
}

#[test]
fn snapshots() {
    common::check_snapshots(Runtime::Shuttle);
}

/// PCT alone must find a lost update: guards the runner against running PCT one
/// scheduler per iteration, where every iteration is the same oldest-first schedule.
#[test]
fn pct_alone_finds_a_lost_update() {
    use racecourse::counter::on_shuttle::run_increments;
    use racecourse::mutants::counter::on_shuttle::LostUpdate;
    use racecourse::runner::shuttle_rt::{explore, Budget};
    use racecourse::runner::Progress;

    let budget = Budget {
        random: 0,
        pct: 100,
        base_seed: 0,
    };
    let found = explore(budget, || {
        let run = run_increments::<LostUpdate>(2, 2, false, &Progress::new())?;
        if run.total == 4 {
            Ok(())
        } else {
            Err(racecourse::report::Violation::new(
                "4",
                run.total.to_string(),
            ))
        }
    })
    .expect_err("PCT must find the lost update");
    assert!(found.schedule.contains("PCT"), "{}", found.schedule);
}
