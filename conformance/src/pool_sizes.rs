//! E8 pool sizes suite: the squares of 1..10 on pools of 2, 4 and 8 worker processes
//! (the course's Q8) give the same results whatever the size.
//!
//! The course's program also times each size; timings belong in a benchmark, never in
//! a verdict: `cargo run --release -p racecourse-impl --example pool_bench` prints one
//! row per size with the pool's start-up apart from the map. Here the results are
//! checked and snapshotted (`snapshots/pool_sizes__squares.snap`).

use racecourse_spec::process_pool::{Callbacks, ProcessPool};

use crate::process_pool::{call_failed, new_pool, PoolType, Watch, SQUARE};
use crate::registry::{Exercise, Implementation, Slot};
use crate::report::Violation;
use crate::runner::{Finding, Found, Runtime};

#[doc(hidden)]
pub use crate::__register_pool as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "pool_sizes";

/// The pool sizes of the course's program.
pub const SIZES: [usize; 3] = [2, 4, 8];

properties! { $ __pool_sizes_table;
    /// The squares of 1..10 are the same, in order, on pools of 2, 4 and 8 workers.
    SameResults => same_results [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E8",
    title: "the same results on pools of 2, 4 and 8 processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "pool",
        bound: "racecourse_spec::process_pool::ProcessPool",
    }],
    implementations,
    snapshots,
};

/// The squares of 1..10 on a pool of each size, one line per size.
pub fn run<P: ProcessPool>() -> Result<Vec<(usize, Vec<u64>)>, Violation> {
    let mut rows = Vec::new();
    for size in SIZES {
        let pool = new_pool::<P>(size)?;
        let mut watch = Watch::new(None);
        let what = format!("the squares of 1..10 on a pool of {size}");
        let mut pending = pool
            .map_async(&SQUARE, (1..=10).collect(), Callbacks::none())
            .map_err(|e| call_failed(format!("map_async on a pool of {size}"), e))?;
        let squares = watch
            .get(&what, &mut pending)?
            .map_err(|e| call_failed(what, e))?;
        pool.close();
        pool.join()
            .map_err(|e| call_failed(format!("join on a pool of {size}"), e))?;
        rows.push((size, squares));
    }
    Ok(rows)
}

/// Checks `property` of the pool type `P`, in real worker processes.
pub fn check<P: ProcessPool>(_: &PoolType<P>, property: Property) -> Result<(), Finding> {
    let Property::SameResults = property;
    let expected: Vec<u64> = (1..=10).map(|x| x * x).collect();
    let outcome =
        run::<P>().and_then(
            |rows| match rows.iter().find(|(_, squares)| *squares != expected) {
                None => Ok(()),
                Some((size, squares)) => Err(Violation::new(
                    format!("the squares of 1..10 in order, {expected:?}, on every pool size"),
                    format!("a pool of {size} gave {squares:?}"),
                )),
            },
        );
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "real worker processes (spawn start method)".to_string(),
                replay_env: Vec::new(),
            },
            format!("squares of 1..10 on pools of {SIZES:?}"),
        )
    })
}

fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let text = match run::<racecourse_impl::process::process_pool::Pool>() {
        Ok(rows) => rows
            .iter()
            .map(|(size, squares)| format!("pool of {size}: {squares:?}\n"))
            .collect(),
        Err(violation) => format!("the reference failed: {violation}\n"),
    };
    vec![("pool_sizes__squares".to_string(), text)]
}

fn implementations(runtime: Runtime) -> Vec<Implementation> {
    crate::process_pool::pool_exercise_rows!(runtime, &["same_results"])
}

/// Generates the pool-size tests (real processes), named
/// `pool_sizes::<property>::process::<name>`, for a pool type:
///
/// ```ignore
/// racecourse::pool_sizes! {
///     mine => my_crate::pool { pool: MyPool },
/// }
/// ```
#[macro_export]
macro_rules! pool_sizes {
    (not_attempted) => {
        $crate::__not_attempted!(pool_sizes);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { pool: $ty:ident }),+ $(,)?) => {
        $crate::__pool_sizes_table! { pool_sizes [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::pool_sizes!(runtimes: [process], $($impls)+);
    };
}
