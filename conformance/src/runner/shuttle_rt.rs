//! shuttle: randomized and PCT schedule exploration with fixed seeds.
//!
//! The budget is split between the uniformly random scheduler (one scheduler per
//! iteration, seeded `base + i`, so a failure names the one seed that replays it) and
//! PCT (probabilistic concurrency testing, depth 3: one scheduler over the whole batch,
//! seeded `base`), which finds ordering bugs of small depth with a known probability
//! per iteration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, FailurePersistence, MaxSteps, Runner};

use super::{catch, Found};
use crate::report::Violation;

/// The fixed iteration budget of one exploration.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Iterations under the random scheduler.
    pub random: u64,
    /// Iterations under the PCT scheduler.
    pub pct: u64,
    /// The first seed; iteration `i` uses `base_seed + i`.
    pub base_seed: u64,
}

impl Budget {
    /// The default budget: 100 random and 100 PCT iterations from seed 0.
    pub const DEFAULT: Budget = Budget {
        random: 100,
        pct: 100,
        base_seed: 0,
    };
}

/// PCT's bug depth: orderings of up to three events are found with known probability.
const PCT_DEPTH: usize = 3;

/// Steps in one iteration before it counts as a spin loop.
const MAX_STEPS: usize = 100_000;

fn config() -> Config {
    let mut config = Config::new();
    config.failure_persistence = FailurePersistence::None;
    config.max_steps = MaxSteps::FailAfter(MAX_STEPS);
    config.silence_warnings = true;
    config
}

/// Explores `check` under shuttle and returns the first violation, with its seed.
///
/// The random scheduler runs one iteration per seed, so a failure names the one seed
/// that replays it. PCT runs as one scheduler over its whole batch: its first
/// iteration only measures how many steps an execution takes (a plain oldest-first
/// schedule), and later iterations place their priority changes within that length, so
/// one PCT scheduler per iteration would repeat the same schedule. A PCT failure is
/// replayed by rerunning the batch from its seed, which fails at the same iteration.
///
/// With `RACECOURSE_SHUTTLE_SEED` set (as `random:N` or `pct:N`), runs only that
/// random iteration or that PCT batch: the replay of a reported failure.
pub fn explore(
    budget: Budget,
    check: impl Fn() -> Result<(), Violation> + Send + Sync + 'static,
) -> Result<(), Found> {
    let check = Arc::new(check);
    let run = |scheduler: Scheduler, seed: u64, iterations: u64| -> Result<(), Found> {
        let check = Arc::clone(&check);
        let executions = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&executions);
        let body = move || {
            counted.fetch_add(1, Ordering::Relaxed);
            racecourse_impl::process::heartbeat::beat();
            if let Err(v) = check() {
                std::panic::panic_any(v);
            }
        };
        let iterations = iterations as usize;
        let outcome = catch(|| match scheduler {
            Scheduler::Pct => Runner::new(
                PctScheduler::new_from_seed(seed, PCT_DEPTH, iterations),
                config(),
            )
            .run(body),
            Scheduler::Random => {
                Runner::new(RandomScheduler::new_from_seed(seed, iterations), config()).run(body)
            }
        });
        outcome.map(drop).map_err(|violation| {
            let n = executions.load(Ordering::Relaxed);
            Found {
                violation,
                schedule: match scheduler {
                    Scheduler::Random => format!("shuttle random scheduler, seed {seed}"),
                    Scheduler::Pct => format!(
                        "shuttle PCT scheduler (depth {PCT_DEPTH}), seed {seed}, iteration {n} of {iterations}"
                    ),
                },
                replay_env: vec![(
                    "RACECOURSE_SHUTTLE_SEED".to_string(),
                    format!("{}:{seed}", scheduler.name()),
                )],
            }
        })
    };
    if let Some((scheduler, seed)) = replay_seed() {
        let iterations = match scheduler {
            Scheduler::Random => 1,
            Scheduler::Pct => budget.pct.max(1),
        };
        return run(scheduler, seed, iterations);
    }
    for i in 0..budget.random {
        run(Scheduler::Random, budget.base_seed + i, 1)?;
    }
    if budget.pct > 0 {
        run(Scheduler::Pct, budget.base_seed, budget.pct)?;
    }
    Ok(())
}

/// The two schedulers used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheduler {
    Random,
    Pct,
}

impl Scheduler {
    fn name(self) -> &'static str {
        match self {
            Scheduler::Random => "random",
            Scheduler::Pct => "pct",
        }
    }
}

fn replay_seed() -> Option<(Scheduler, u64)> {
    let value = std::env::var("RACECOURSE_SHUTTLE_SEED").ok()?;
    let (scheduler, seed) = value.split_once(':')?;
    let scheduler = match scheduler {
        "pct" => Scheduler::Pct,
        "random" => Scheduler::Random,
        _ => return None,
    };
    Some((scheduler, seed.parse().ok()?))
}
