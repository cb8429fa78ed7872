//! The process pool (E2) and pool sizes (E8) against Python's `multiprocessing.Pool`.
//!
//! ```text
//! cargo run --release -p racecourse-impl --example pool_bench [RUNS]
//! ```
//!
//! Each figure is the median (with min and p90) over RUNS runs (default 30):
//! - the course's Q2 shape: `Pool(4)` started, squares of 1..10 mapped, pool closed and
//!   joined (every worker exited and reaped);
//! - a map of 100 000 squares on a started pool of 4 (chunks of
//!   `ceil(len / (4 * processes))` items, Python's default chunksize);
//! - how a map's cost grows: 10, 10 000 and 1 000 000 items;
//! - E8: pools of 2, 4 and 8 processes, start-up apart from the map of squares 1..10;
//! - the limit of any pool of exec'd workers on this machine: 4 processes of this
//!   binary started (the pool's way: posix_spawn, own process group) and reaped,
//!   doing nothing (each is routed to a server that finds its requests closed and
//!   exits), and the same with `/bin/true`.
//!
//! With `python3` on the PATH it runs `pool_bench.py` (beside this file) the same way,
//! in the same run, and prints the ratio of the medians: absolute times drift on a
//! shared machine, the ratio much less. Issue 9's targets: start + map + shutdown at
//! most 1.5 ms, the 100 000-square map at most 3 ms.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::{run_python, runs_arg, summary, time_runs, timed, Summary};
use racecourse_impl::process::process_pool::Pool;
use racecourse_spec::process_pool::ProcessPool;

fn square(x: u64) -> Result<u64, String> {
    Ok(x * x)
}
racecourse_impl::job!(static SQUARE: fn(u64) -> u64 = square);

fn row(what: &str, s: Summary) -> f64 {
    println!(
        "rust   {what:<44} median {:9.3} ms  (min {:.3}, p90 {:.3})",
        s.median, s.min, s.p90
    );
    s.median
}

/// Starts `count` processes of `program` at once and reaps them all.
fn start_and_reap(program: &str, count: usize) {
    let children: Vec<_> = (0..count)
        .map(|_| {
            Command::new(program)
                // A server of this binary whose requests are closed exits at once.
                .env("RACECOURSE_SERVE", "/dev/null")
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("a process starts")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("a child is reaped").success());
    }
}

fn main() {
    let runs = runs_arg(30);
    let ten: Vec<u64> = (1..=10).collect();
    let expected: Vec<u64> = ten.iter().map(|x| x * x).collect();

    let mut medians = Vec::new();
    medians.push(row(
        "pool(4) start + map 1..10 + close/join",
        time_runs(runs, || {
            timed(|| {
                let pool = Pool::new(4).expect("a pool starts");
                assert_eq!(pool.map(&SQUARE, ten.clone()).unwrap(), expected);
                pool.close();
                pool.join().unwrap();
            })
        }),
    ));
    let pool = Pool::new(4).expect("a pool starts");
    let big: Vec<u64> = (0..100_000).collect();
    medians.push(row(
        "map 100_000 squares on pool(4)",
        time_runs(runs, || {
            timed(|| {
                let out = pool.map(&SQUARE, big.clone()).unwrap();
                assert_eq!(out[99_999], 99_999 * 99_999);
            })
        }),
    ));
    for n in [10usize, 10_000, 1_000_000] {
        let items: Vec<u64> = (0..n as u64).collect();
        let runs = if n >= 1_000_000 { runs.min(10) } else { runs };
        medians.push(row(
            &format!("map {n} squares on pool(4)"),
            time_runs(runs, || {
                timed(|| {
                    let out = pool.map(&SQUARE, items.clone()).unwrap();
                    assert_eq!(out.len(), n);
                })
            }),
        ));
    }
    drop(pool);
    for size in [2usize, 4, 8] {
        let mut starts = Vec::new();
        let maps = time_runs(runs, || {
            let mut pool = None;
            starts.push(timed(|| {
                pool = Some(Pool::new(size).expect("a pool starts"))
            }));
            let pool = pool.expect("started");
            let took = timed(|| assert_eq!(pool.map(&SQUARE, ten.clone()).unwrap(), expected));
            pool.close();
            pool.join().unwrap();
            took
        });
        medians.push(row(&format!("E8 pool({size}) start-up"), summary(starts)));
        medians.push(row(&format!("E8 pool({size}) map 1..10"), maps));
    }

    let bare = row(
        "limit: 4 bare workers, start + reap",
        time_runs(runs, || timed(|| start_and_reap("/proc/self/exe", 4))),
    );
    row(
        "limit: 4 x /bin/true, start + reap",
        time_runs(runs, || timed(|| start_and_reap("/bin/true", 4))),
    );
    println!(
        "ratio  rust start + map 1..10 + shutdown / its limit (4 bare processes): {:.2}x",
        medians[0] / bare
    );

    if let Some(python) = run_python("pool_bench.py", &[runs.to_string()]) {
        let names = [
            "start + map 1..10 + shutdown (target >= 15x, <= 1.5 ms)",
            "map 100_000 squares (target >= 20x, <= 3 ms)",
        ];
        for (i, name) in names.iter().enumerate() {
            match python.get(i) {
                Some(py) => println!(
                    "ratio  python / rust, {name}: {:.1}x (rust {:.3} ms)",
                    py / medians[i],
                    medians[i]
                ),
                None => println!("ratio  {name}: python printed no median"),
            }
        }
    }
}
