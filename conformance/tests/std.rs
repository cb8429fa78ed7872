//! The std suites over the reference implementations, and the std column of the kill
//! matrix: the must-pass implementations on real threads (mutants never run here).

mod common;

use racecourse::runner::Runtime;

racecourse::shared_list! {
    runtimes: [std],
    fifo => racecourse_impl::thread::shared_list { list: Fifo, program: Program },
    lifo => racecourse_impl::thread::shared_list { list: Lifo, program: Program },
}

racecourse::counter! {
    runtimes: [std],
    locked => racecourse_impl::thread::counter { counter: Locked },
}

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Std);
    common::check_matrix("kill_matrix__std", &matrix);
}
