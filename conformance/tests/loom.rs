//! The loom suites over the reference implementations, the census snapshots and the
//! loom column of the kill matrix. loom and shuttle never share a test binary: shuttle
//! installs a process-wide panic hook, and loom panics to report failures.

mod common;

use racecourse::runner::Runtime;
use racecourse::shared_list as e4;
use racecourse_impl::thread::shared_list::on_loom as reference;

racecourse::shared_list! {
    runtimes: [loom],
    fifo => racecourse_impl::thread::shared_list { list: Fifo, program: Program },
    lifo => racecourse_impl::thread::shared_list { list: Lifo, program: Program },
}

racecourse::counter! {
    runtimes: [loom],
    locked => racecourse_impl::thread::counter { counter: Locked },
}

/// The final outcomes of the adder/remover program with k = 2, over every interleaving.
#[test]
fn shared_list_census_snapshots() {
    let (fifo, result) = e4::census_loom::<reference::Fifo, reference::Program>();
    result.expect("the census of the fifo reference explores without failure");
    let (lifo, result) = e4::census_loom::<reference::Lifo, reference::Program>();
    result.expect("the census of the lifo reference explores without failure");
    common::snapshots().bind(|| {
        insta::assert_snapshot!("shared_list__census__fifo", fifo.render());
        insta::assert_snapshot!("shared_list__census__lifo", lifo.render());
    });
}

/// The outcomes of each loom scenario, over every interleaving, for both references.
#[test]
fn shared_list_scenario_census_snapshots() {
    for (i, (scenario, bounds)) in e4::loom_scenarios().into_iter().enumerate() {
        let (fifo, result) = e4::scenario_census_loom::<reference::Fifo>(&scenario, bounds);
        result.expect("the fifo reference explores without failure");
        fifo.verdict("the scenario's calls")
            .expect("the fifo reference reaches only allowed outcomes");
        let (lifo, result) = e4::scenario_census_loom::<reference::Lifo>(&scenario, bounds);
        result.expect("the lifo reference explores without failure");
        lifo.verdict("the scenario's calls")
            .expect("the lifo reference reaches only allowed outcomes");
        let n = i + 1;
        common::snapshots().bind(|| {
            insta::assert_snapshot!(
                format!("shared_list__census__scenario_{n}__fifo"),
                format!("scenario: {scenario}\n\n{}", fifo.render())
            );
            insta::assert_snapshot!(
                format!("shared_list__census__scenario_{n}__lifo"),
                format!("scenario: {scenario}\n\n{}", lifo.render())
            );
        });
    }
}

#[test]
fn kill_matrix() {
    let matrix = racecourse::kill_matrix::run("kill_matrix", Runtime::Loom);
    common::check_matrix("kill_matrix__loom", &matrix);
}
