//! What the benchmarks share: timing runs, summarising them, and running the Python
//! program that anchors each benchmark, in the same invocation. Each bench includes it
//! with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// The spread of a set of runs, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    /// The median.
    pub(crate) median: f64,
    /// The fastest run.
    pub(crate) min: f64,
    /// The 10th percentile.
    pub(crate) p10: f64,
    /// The 90th percentile.
    pub(crate) p90: f64,
    /// The slowest run.
    pub(crate) max: f64,
}

/// The median and spread of `times`.
pub(crate) fn summary(mut times: Vec<Duration>) -> Summary {
    assert!(
        !times.is_empty(),
        "summary of no runs: ask for at least one run"
    );
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    Summary {
        median: at(0.5),
        min: at(0.0),
        p10: at(0.1),
        p90: at(0.9),
        max: at(1.0),
    }
}

/// How long `f` took.
pub(crate) fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// `f` once to warm up, then `runs` times, summarised.
pub(crate) fn time_runs(runs: usize, mut f: impl FnMut() -> Duration) -> Summary {
    f();
    summary((0..runs).map(|_| f()).collect())
}

/// The number of runs asked for on the command line (the first argument), or
/// `default`.
pub(crate) fn runs_arg(default: usize) -> usize {
    std::env::args()
        .nth(1)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("RUNS must be a number of runs, e.g. {default}"))
        })
        .unwrap_or(default)
}

/// Runs `python3 examples/<script> <args>`, prints its output and returns the
/// medians it printed (the number after each `median`), one per line that has one.
/// Without python3, or if the program fails, it says so and returns `None`.
pub(crate) fn run_python(script: &str, args: &[String]) -> Option<Vec<f64>> {
    let path = format!("{}/examples/{script}", env!("CARGO_MANIFEST_DIR"));
    match Command::new("python3").arg(&path).args(args).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            print!("{text}");
            Some(
                text.lines()
                    .filter_map(|l| {
                        l.split_whitespace()
                            .skip_while(|w| *w != "median")
                            .nth(1)?
                            .parse()
                            .ok()
                    })
                    .collect(),
            )
        }
        Ok(out) => {
            println!(
                "python: the program failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            println!("python: not run ({e}): install python3 to see the ratio");
            None
        }
    }
}
