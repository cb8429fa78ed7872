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

use std::process::Command;
use std::time::{Duration, Instant};

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

/// Median, 10th and 90th percentiles.
fn summary(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.1), at(0.9))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RUNS must be a number of runs, e.g. 2000"))
        .unwrap_or(2000);
    let transcript = program();
    assert_eq!(transcript.lines().nth(3), Some("Factorial of 4 is 24"));
    for _ in 0..runs / 10 {
        program();
    }
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(program());
            start.elapsed()
        })
        .collect();
    let (median, p10, p90) = summary(times);
    println!(
        "rust   reference Pool, 4 workers, factorials 1..10: median {:.3} ms (p10 {:.3}, p90 {:.3}) over {runs} runs",
        ms(median),
        ms(p10),
        ms(p90)
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/executor_bench.py");
    let python = Command::new("python3")
        .arg(script)
        .arg((runs / 4).max(50).to_string())
        .output();
    match python {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            print!("{text}");
            let median_py = text
                .split_whitespace()
                .skip_while(|w| *w != "median")
                .nth(1)
                .and_then(|w| w.parse::<f64>().ok());
            match median_py {
                Some(py) => println!(
                    "ratio  python / rust median: {:.1}x (target: rust median <= 0.200 ms: {})",
                    py / ms(median),
                    if ms(median) <= 0.2 { "met" } else { "NOT met" }
                ),
                None => println!("ratio  not computed: the python output had no median"),
            }
        }
        Ok(out) => println!(
            "python: the program failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => println!("python: not run ({e}): install python3 to see the ratio"),
    }
}
