//! The process suites over the reference implementation, and the process column of the
//! kill matrix. Workers are this binary, re-executed and routed to the worker before
//! the test harness starts.

mod common;

use racecourse::runner::Runtime;

racecourse::shm_counter! {
    robust => racecourse_impl::process::shm_counter { counter: RobustLocked },
}

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Process);
    common::check_matrix("kill_matrix__process", &matrix);
}
