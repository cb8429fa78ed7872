//! E3: `100000!`, exactly, against Python's `math.factorial(100000)`.
//!
//! ```text
//! cargo run --release -p racecourse-impl --example factorial_bench [RUNS]
//! ```
//!
//! Each figure is the median (with min, p10, p90 and max) over RUNS runs (default 30)
//! of the reference [`factorial`] (prime factorisation, product trees and the largest
//! multiplications split across cores by rayon), on every core and on one thread, and
//! of the plain product tree of `1..=n` as a yardstick. With `python3` on the PATH it
//! runs `factorial_bench.py` (beside this file) in the same invocation and prints the
//! ratio of the medians. Issue 9's target: a median of at most 35 ms on 2 cores.

mod common;

use std::hint::black_box;

use common::{run_python, runs_arg, time_runs, timed, Summary};
use racecourse_impl::cpu_bound::{factorial, BigUint};

const N: u32 = 100_000;

/// The product of `lo..hi` as a balanced tree, on the calling thread.
fn product_tree(lo: u32, hi: u32) -> BigUint {
    if hi - lo <= 8 {
        return (lo..hi).fold(BigUint::from(1u32), |acc, k| acc * k);
    }
    let mid = lo + (hi - lo) / 2;
    product_tree(lo, mid) * product_tree(mid, hi)
}

fn row(what: &str, s: Summary) -> f64 {
    println!(
        "rust   {what:<36} median {:8.3} ms  (min {:.3}, p10 {:.3}, p90 {:.3}, max {:.3})",
        s.median, s.min, s.p10, s.p90, s.max
    );
    s.median
}

fn main() {
    let runs = runs_arg(30);
    let expected = product_tree(1, N + 1);
    assert_eq!(factorial(N), expected, "the reference {N}! is exact");
    let threads = rayon::current_num_threads();
    let parallel = row(
        &format!("{N}! on {threads} threads"),
        time_runs(runs, || timed(|| drop(black_box(factorial(black_box(N)))))),
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool of one thread starts");
    let single = one.install(|| {
        row(
            &format!("{N}! on one thread"),
            time_runs(runs, || timed(|| drop(black_box(factorial(black_box(N)))))),
        )
    });
    row(
        &format!("{N}! plain product tree"),
        time_runs(runs.min(10), || {
            timed(|| drop(black_box(product_tree(1, black_box(N) + 1))))
        }),
    );
    println!(
        "rust   {N}! has {} bits; target: median <= 35 ms: {}",
        expected.bits(),
        if parallel <= 35.0 { "met" } else { "NOT met" }
    );
    match run_python("factorial_bench.py", &[runs.to_string()]).as_deref() {
        Some([py, ..]) => println!(
            "ratio  python / rust median: {:.1}x on {threads} threads, {:.1}x on one",
            py / parallel,
            py / single
        ),
        Some([]) => println!("ratio  not computed: the python output had no median"),
        None => {}
    }
}
