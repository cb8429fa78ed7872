//! The shuttle suites over the reference implementations, the exercise transcript
//! snapshot and the shuttle column of the kill matrix.

mod common;

use racecourse::runner::Runtime;
use racecourse::shared_list as e4;
use racecourse_impl::thread::shared_list::on_shuttle as reference;

racecourse::shared_list! {
    runtimes: [shuttle],
    fifo => racecourse_impl::thread::shared_list { list: Fifo, program: Program },
    lifo => racecourse_impl::thread::shared_list { list: Lifo, program: Program },
}

racecourse::counter! {
    runtimes: [shuttle],
    locked => racecourse_impl::thread::counter { counter: Locked },
}

/// The adder/remover program's transcript under one fixed shuttle schedule.
#[test]
fn shared_list_transcript_snapshots() {
    let fifo = e4::transcript_shuttle::<reference::Fifo, reference::Program>(e4::TRANSCRIPT_SEED);
    let lifo = e4::transcript_shuttle::<reference::Lifo, reference::Program>(e4::TRANSCRIPT_SEED);
    common::snapshots().bind(|| {
        insta::assert_snapshot!("shared_list__transcript__fifo", fifo.join("\n"));
        insta::assert_snapshot!("shared_list__transcript__lifo", lifo.join("\n"));
    });
}

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Shuttle);
    common::check_matrix("kill_matrix__shuttle", &matrix);
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
