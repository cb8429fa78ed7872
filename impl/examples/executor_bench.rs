//! The course's Q7 program (the factorials of 1 to 10 through `map` on a pool of 4
//! workers, the lines in order) on the reference executor, timed run by run: a new
//! pool each run, as the Python program does with its `with ThreadPoolExecutor(...)`.
//!
//! ```text
//! cargo run --release -p racecourse-impl --example executor_bench [RUNS]
//! ```
//!
//! With `python3` on the PATH it times the Python program (`executor_bench.py`, beside
//! this file) the same way, in the same run, and prints the ratio of the medians:
//! absolute times drift on a shared machine, the ratio much less. The target of issue 8
//! is a median of at most 0.2 ms.

mod common;

use std::time::Duration;

use common::{run_python, runs_arg, summary, timed};
use racecourse_impl::thread::executor::on_std::Pool;
use racecourse_spec::executor::{factorial, factorial_line, Executor};

/// One run of the program: its transcript.
fn program() -> String {
    let pool = Pool::new(4);
    let outcomes = pool
        .map(|n| Ok(factorial(n)), (1..=10).collect())
        .expect("a new pool takes work");
    let mut out = String::new();
    for (n, outcome) in (1..=10).zip(outcomes) {
        out.push_str(&factorial_line(n, outcome.expect("factorials do not fail")));
        out.push('\n');
    }
    out
}

fn main() {
    let runs = runs_arg(2000);
    let transcript = program();
    assert_eq!(transcript.lines().nth(3), Some("Factorial of 4 is 24"));
    for _ in 0..runs / 10 {
        program();
    }
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            timed(|| {
                std::hint::black_box(program());
            })
        })
        .collect();
    let s = summary(times);
    println!(
        "rust   reference Pool, 4 workers, factorials 1..10: median {:.3} ms (p10 {:.3}, p90 {:.3}) over {runs} runs",
        s.median, s.p10, s.p90
    );
    let python = run_python("executor_bench.py", &[(runs / 4).max(50).to_string()]);
    match python.as_deref() {
        Some([py, ..]) => println!(
            "ratio  python / rust median: {:.1}x (target: rust median <= 0.200 ms: {})",
            py / s.median,
            if s.median <= 0.2 { "met" } else { "NOT met" }
        ),
        Some([]) => println!("ratio  not computed: the python output had no median"),
        None => {}
    }
}
