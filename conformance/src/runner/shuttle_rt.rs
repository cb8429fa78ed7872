//! shuttle: randomized and PCT schedule exploration with fixed seeds.
//!
//! Each iteration gets its own scheduler seeded with `base + i`, so a failure names the
//! one seed that reproduces it. Half the budget goes to the uniformly random scheduler,
//! half to PCT (probabilistic concurrency testing, depth 3), which finds ordering bugs
//! of small depth with a known probability per iteration.

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
/// With `RACECOURSE_SHUTTLE_SEED` set (as `random:N` or `pct:N`), runs only that
/// iteration: the replay of a reported failure.
pub fn explore(
    budget: Budget,
    check: impl Fn() -> Result<(), Violation> + Send + Sync + 'static,
) -> Result<(), Found> {
    let check = std::sync::Arc::new(check);
    let run_one = |scheduler: &'static str, seed: u64| -> Result<(), Found> {
        let check = std::sync::Arc::clone(&check);
        let body = move || {
            if let Err(v) = check() {
                std::panic::panic_any(v);
            }
        };
        let outcome = catch(|| match scheduler {
            "pct" => {
                Runner::new(PctScheduler::new_from_seed(seed, PCT_DEPTH, 1), config()).run(body)
            }
            _ => Runner::new(RandomScheduler::new_from_seed(seed, 1), config()).run(body),
        });
        outcome.map(drop).map_err(|violation| Found {
            violation,
            schedule: format!("shuttle {scheduler} scheduler, seed {seed}"),
            replay_env: vec![(
                "RACECOURSE_SHUTTLE_SEED".to_string(),
                format!("{scheduler}:{seed}"),
            )],
        })
    };
    if let Some((scheduler, seed)) = replay_seed() {
        return run_one(scheduler, seed);
    }
    for i in 0..budget.random {
        run_one("random", budget.base_seed + i)?;
    }
    for i in 0..budget.pct {
        run_one("pct", budget.base_seed + i)?;
    }
    Ok(())
}

fn replay_seed() -> Option<(&'static str, u64)> {
    let value = std::env::var("RACECOURSE_SHUTTLE_SEED").ok()?;
    let (scheduler, seed) = value.split_once(':')?;
    let scheduler = match scheduler {
        "pct" => "pct",
        "random" => "random",
        _ => return None,
    };
    Some((scheduler, seed.parse().ok()?))
}
