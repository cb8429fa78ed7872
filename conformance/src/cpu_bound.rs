//! E3 CPU-bound work suite: exact factorials and a prime count computed in a student's
//! [`ProcessPool`], whose results (big integers of up to tens of kilobytes) cross the
//! process boundary.
//!
//! Properties (see `EXERCISES.md`, E3):
//! - `factorials`: the course's example, `[1, 2, 3, 4, 5, 8, 9, 45]`, then
//!   [`RANDOM_VECTORS`] vectors drawn from a fixed seed (values up to [`MAX_N`]) give
//!   the plain sequential products, in input order;
//! - `large_results`: factorials of tens of kilobytes in one map ([`LARGE`]; one
//!   result is over 64 KiB, more than a pipe holds) arrive intact;
//! - `primes`: the primes of `10_000..20_000`, counted in the pool over
//!   [`PRIME_CHUNKS`] sub-ranges and summed, are the 1033 that a sequential count finds.
//!
//! The jobs compute with the reference [`factorial`]; the checks compare with
//! [`factorial_sequential`] (or, for the large results, the reference in this
//! process). Timings belong in a benchmark, never in a verdict:
//! `cargo run --release -p racecourse-impl --example factorial_bench` times `100000!`
//! against Python's `math.factorial`. The course example's results are snapshotted
//! (`snapshots/cpu_bound__factorials.snap`).

use std::ops::Range;

use proptest::strategy::{Strategy, ValueTree};
use racecourse_impl::cpu_bound::{count_primes, factorial, factorial_sequential, BigUint};
use racecourse_spec::job::{Job, Wire};
use racecourse_spec::process_pool::{Callbacks, ProcessPool};

use crate::process_pool::{call_failed, new_pool, PoolType, Watch, WORKERS};
use crate::registry::{Exercise, Implementation, Slot};
use crate::report::Violation;
use crate::runner::{Finding, Found, Runtime};

#[doc(hidden)]
pub use crate::__register_pool as __register_worker;

/// The exercise's name in test names and reports.
pub const NAME: &str = "cpu_bound";

/// The course's example.
pub const COURSE_EXAMPLE: [u32; 8] = [1, 2, 3, 4, 5, 8, 9, 45];

/// How many random vectors `factorials` maps after the course's example.
pub const RANDOM_VECTORS: usize = 8;

/// The largest `n` in the random vectors.
pub const MAX_N: u32 = 2500;

/// The factorials of `large_results`, in one map: 20000! is about 32 KB, 40000! about
/// 69 KB (over 64 KiB, the default capacity of a pipe).
pub const LARGE: [u32; 4] = [20_000, 40_000, 20_001, 30_000];

/// The range the course's prime example counts in.
pub const PRIME_RANGE: Range<u64> = 10_000..20_000;

/// The sub-ranges `primes` counts in, one per item of the map (10 of 1000 numbers:
/// more than a pool's workers, and a count no pool size here divides).
pub const PRIME_CHUNKS: u64 = 10;

properties! { $ __cpu_bound_table;
    /// The factorials of the course's example and of random vectors of values up to
    /// 2500 equal the sequential products, in input order.
    Factorials => factorials [process],
    /// Factorials of tens of kilobytes (one over 64 KiB) in one map arrive intact.
    LargeResults => large_results [process],
    /// The primes of 10_000..20_000, counted over sub-ranges in the pool and summed,
    /// are the 1033 of the sequential count.
    Primes => primes [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E3",
    title: "exact factorials and prime counts in a pool of processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "pool",
        bound: "racecourse_spec::process_pool::ProcessPool",
    }],
    implementations,
    snapshots,
};

// ---------------------------------------------------------------------------------
// The jobs.

fn factorial_job(n: u32) -> Result<BigUint, String> {
    Ok(factorial(n))
}
racecourse_impl::job!(
    /// `n!`, exactly (the reference's fast factorial).
    pub static FACTORIAL: fn(u32) -> BigUint = factorial_job
);

fn count_primes_job((start, end): (u64, u64)) -> Result<u64, String> {
    if start > end {
        return Err(format!("{start}..{end} is not a range: start after end"));
    }
    Ok(count_primes(start..end))
}
racecourse_impl::job!(
    /// The number of primes in `start..end`.
    pub static COUNT_PRIMES: fn((u64, u64)) -> u64 = count_primes_job
);

// ---------------------------------------------------------------------------------
// The course's computations, on a pool.

/// Maps `job` over `args` on `pool`, waiting as the pool suite does (failing only on a
/// proven stall).
fn map_watched<P: ProcessPool, A: Wire, R: Wire>(
    pool: &P,
    job: &'static Job<A, R>,
    args: Vec<A>,
    what: &str,
) -> Result<Vec<R>, Violation> {
    let mut pending = pool
        .map_async(job, args, Callbacks::none())
        .map_err(|e| call_failed(format!("map_async to take {what}"), e))?;
    Watch::new(None)
        .get(what, &mut pending)?
        .map_err(|e| call_failed(what.to_string(), e))
}

/// The factorials of `ns`, computed in `pool`, in input order.
pub fn factorials<P: ProcessPool>(pool: &P, ns: &[u32]) -> Result<Vec<BigUint>, Violation> {
    map_watched(
        pool,
        &FACTORIAL,
        ns.to_vec(),
        &format!("the factorials of {}", shown(ns)),
    )
}

/// The primes in `range`, counted in `pool` over `chunks` sub-ranges of (nearly) equal
/// length and summed.
pub fn primes<P: ProcessPool>(pool: &P, range: Range<u64>, chunks: u64) -> Result<u64, Violation> {
    let len = range.end.saturating_sub(range.start);
    let bounds = |i: u64| range.start + len * i / chunks.max(1);
    let parts: Vec<(u64, u64)> = (0..chunks.max(1))
        .map(|i| (bounds(i), bounds(i + 1)))
        .collect();
    let what = format!(
        "the prime counts of {} sub-ranges of {}..{}",
        parts.len(),
        range.start,
        range.end
    );
    Ok(map_watched(pool, &COUNT_PRIMES, parts, &what)?.iter().sum())
}

/// `ns` as a report shows it: the whole list when short.
fn shown(ns: &[u32]) -> String {
    if ns.len() <= 12 {
        format!("{ns:?}")
    } else {
        format!("{:?} ... ({} values)", &ns[..12], ns.len())
    }
}

/// Where `got` first differs from `expected`, for a report (factorials are too long
/// to print whole).
fn first_difference(expected: &[BigUint], got: &[BigUint], ns: &[u32]) -> Option<String> {
    if got.len() != expected.len() {
        return Some(format!(
            "{} results for {} inputs",
            got.len(),
            expected.len()
        ));
    }
    let i = (0..got.len()).find(|&i| got[i] != expected[i])?;
    let described = |x: &BigUint| {
        let text = x.to_string();
        if text.len() <= 60 {
            text
        } else {
            format!("a number of {} digits", text.len())
        }
    };
    let other = expected.iter().position(|e| *e == got[i]);
    Some(format!(
        "at index {i} (n = {}): {} instead of {}{}",
        ns[i],
        described(&got[i]),
        described(&expected[i]),
        match other {
            Some(j) => format!(", which is the result of index {j} (n = {})", ns[j]),
            None => String::new(),
        }
    ))
}

// ---------------------------------------------------------------------------------
// The checks.

fn factorials_check<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(WORKERS)?;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(0..=MAX_N, 1..40);
    let mut vectors = vec![COURSE_EXAMPLE.to_vec()];
    for _ in 0..RANDOM_VECTORS {
        vectors.push(
            strategy
                .new_tree(&mut runner)
                .expect("a vector strategy always draws")
                .current(),
        );
    }
    for ns in vectors {
        let expected: Vec<BigUint> = ns.iter().map(|&n| factorial_sequential(n)).collect();
        let got = factorials(&pool, &ns)?;
        if let Some(difference) = first_difference(&expected, &got, &ns) {
            return Err(Violation::new(
                format!(
                    "the factorials of {} in input order, equal to the sequential products",
                    shown(&ns)
                ),
                difference,
            ));
        }
    }
    Ok(())
}

fn large_results<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(WORKERS)?;
    let expected: Vec<BigUint> = LARGE.iter().map(|&n| factorial(n)).collect();
    let got = factorials(&pool, &LARGE)?;
    match first_difference(&expected, &got, &LARGE) {
        None => Ok(()),
        Some(difference) => Err(Violation::new(
            format!(
                "the factorials of {LARGE:?} ({} KB in all, the largest {} KB) intact, in input order",
                expected.iter().map(|x| x.bits() / 8000).sum::<u64>(),
                expected.iter().map(|x| x.bits() / 8000).max().unwrap_or(0)
            ),
            difference,
        )),
    }
}

fn primes_check<P: ProcessPool>() -> Result<(), Violation> {
    let pool = new_pool::<P>(WORKERS)?;
    let expected = count_primes(PRIME_RANGE);
    let got = primes(&pool, PRIME_RANGE, PRIME_CHUNKS)?;
    if got == expected {
        return Ok(());
    }
    Err(Violation::new(
        format!(
            "{expected} primes in {}..{}, counted over {PRIME_CHUNKS} sub-ranges",
            PRIME_RANGE.start, PRIME_RANGE.end
        ),
        format!("{got}: the sum of the counts the pool returned"),
    ))
}

/// Checks `property` of the pool type `P`, in real worker processes.
pub fn check<P: ProcessPool>(_: &PoolType<P>, property: Property) -> Result<(), Finding> {
    let outcome = match property {
        Property::Factorials => factorials_check::<P>(),
        Property::LargeResults => large_results::<P>(),
        Property::Primes => primes_check::<P>(),
    };
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "real worker processes (spawn start method)".to_string(),
                replay_env: Vec::new(),
            },
            format!(
                "property {}, on a pool of {WORKERS} workers",
                property.name()
            ),
        )
    })
}

fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let run = || -> Result<String, Violation> {
        let pool = new_pool::<racecourse_impl::process::process_pool::Pool>(WORKERS)?;
        let mut text = String::new();
        for (n, x) in COURSE_EXAMPLE
            .iter()
            .zip(factorials(&pool, &COURSE_EXAMPLE)?)
        {
            text.push_str(&format!("{n}! = {x}\n"));
        }
        let count = primes(&pool, PRIME_RANGE, PRIME_CHUNKS)?;
        text.push_str(&format!(
            "primes in {}..{}: {count}\n",
            PRIME_RANGE.start, PRIME_RANGE.end
        ));
        Ok(text)
    };
    let text = run().unwrap_or_else(|violation| format!("the reference failed: {violation}\n"));
    vec![("cpu_bound__factorials".to_string(), text)]
}

fn implementations(runtime: Runtime) -> Vec<Implementation> {
    use crate::mutants::process_pool::{self as m, Flawed};
    use crate::process_pool::pool_row;
    use crate::registry::Role;
    let mut rows =
        crate::process_pool::pool_exercise_rows!(runtime, &["factorials", "large_results"]);
    let mutant = |must_fail| Role::Mutant { must_fail };
    rows.extend([
        pool_row!(
            "truncated_replies",
            mutant(&["large_results"]),
            Flawed<{ m::TRUNCATED_REPLIES }>
        ),
        pool_row!(
            "drops_remainder",
            mutant(&["factorials", "primes"]),
            Flawed<{ m::DROPS_REMAINDER }>
        ),
    ]);
    rows
}

/// Generates the CPU-bound work tests (real processes), named
/// `cpu_bound::<property>::process::<name>`, for a pool type:
///
/// ```ignore
/// racecourse::cpu_bound! {
///     mine => my_crate::pool { pool: MyPool },
/// }
/// ```
#[macro_export]
macro_rules! cpu_bound {
    (not_attempted) => {
        $crate::__not_attempted!(cpu_bound);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { pool: $ty:ident }),+ $(,)?) => {
        $crate::__cpu_bound_table! { cpu_bound [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::cpu_bound!(runtimes: [process], $($impls)+);
    };
}
