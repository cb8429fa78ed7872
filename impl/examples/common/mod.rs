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

/// Where a benchmark's parent and child processes run: where the scheduler puts them,
/// both on one CPU, or each on a CPU of its own. Transports that spin while waiting
/// behave very differently in the last two, and the scheduler's choice can be either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    Scheduler,
    OneCore,
    TwoCores,
}

impl Placement {
    /// The placements this machine can show: the two pinned ones need two CPUs.
    pub(crate) fn all() -> Vec<Placement> {
        if allowed_cpus().len() >= 2 {
            vec![
                Placement::Scheduler,
                Placement::OneCore,
                Placement::TwoCores,
            ]
        } else {
            vec![Placement::Scheduler]
        }
    }

    /// How the rows name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Placement::Scheduler => "",
            Placement::OneCore => " [one core]",
            Placement::TwoCores => " [two cores]",
        }
    }

    /// Spawns a child with `spawn` so placed, the calling thread pinned to match
    /// until [`Placement::release`]: a child inherits the CPUs of the thread that
    /// spawns it, so the thread is pinned to the child's CPU for the spawn, then to
    /// its own.
    pub(crate) fn spawn<T>(self, spawn: impl FnOnce() -> T) -> T {
        let cpus = allowed_cpus();
        let (child, parent) = match self {
            Placement::Scheduler => return spawn(),
            Placement::OneCore => (cpus[0], cpus[0]),
            Placement::TwoCores => (cpus[1], cpus[0]),
        };
        pin(&[child]);
        let spawned = spawn();
        pin(&[parent]);
        spawned
    }

    /// Lets the calling thread run on every CPU again.
    pub(crate) fn release(self) {
        if self != Placement::Scheduler {
            pin(&allowed_cpus());
        }
    }
}

/// The CPUs the process may run on at start (before any pinning here).
fn allowed_cpus() -> Vec<usize> {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        // SAFETY: a cpu_set_t is plain bits; sched_getaffinity fills the one we own.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above, with its true size.
        let got =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        assert_eq!(
            got,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: CPU_ISSET reads a bit of the set we own, in range.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect()
    })
    .clone()
}

/// Pins the calling thread to `cpus`.
fn pin(cpus: &[usize]) {
    // SAFETY: as in allowed_cpus.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes a bit of the set we own; `cpu` came from the set of
        // allowed CPUs, so it is in range.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the set is ours and initialised; 0 is the calling thread.
    let set_ok =
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(
        set_ok,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}
