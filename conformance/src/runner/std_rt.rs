//! std: real threads, many trials, each watched for progress.
//!
//! Real threads give no control over the interleaving, so the std runner cannot
//! replay a failure exactly; it is the runtime that checks the implementation as the
//! student will run it.
//!
//! ## Slow is not wrong
//! A trial is never judged by the clock. Its scenario ticks a [`Progress`] after every
//! operation it completes, and the runner fails the trial only when the count stops
//! moving for a whole [`Limits::stall`] window: then no thread completed anything, which
//! a correct implementation never does however loaded the machine (a deadlock, a lost
//! wake-up, or a livelock). A trial that makes progress slowly runs on.
//!
//! What slowness costs instead is trials. Each check has a time [`Limits::budget`],
//! shared by all its [`explore`] calls through one [`Budget`]: once it is spent, no new
//! trial starts and the running trial is asked to stop before its next operation
//! ([`Progress::should_stop`]); a scenario that honours the request judges the
//! operations it completed. So a slow implementation gets fewer trials (at least one)
//! and shorter ones, never a failure. A trial that stalls is abandoned: its threads
//! cannot be killed, but the isolated child process that runs the check exits when the
//! check ends.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::{catch, secs_from_env, Found, Progress};
use crate::report::{Kind, Violation};

/// Sets [`Limits::stall`] in seconds.
pub const STALL_ENV: &str = "RACECOURSE_STALL_SECS";
/// Sets [`Limits::budget`] in seconds.
pub const BUDGET_ENV: &str = "RACECOURSE_STD_BUDGET_SECS";

/// The time limits of one check on real threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A trial fails once no operation has completed for this long.
    pub stall: Duration,
    /// After this long, no new trial starts and the running one is asked to stop.
    pub budget: Duration,
}

impl Limits {
    /// The defaults: a 10 s stall window and a 2 s budget per check. Real threads
    /// find a race within the first trials or not at all (the model checkers do the
    /// searching), so a longer budget buys spinning implementations more trials of the
    /// same, not more confidence; `ci/reference-stability.sh` runs with 5 s.
    pub const DEFAULT: Limits = Limits {
        stall: Duration::from_secs(10),
        budget: Duration::from_secs(2),
    };

    /// The defaults, overridden by `RACECOURSE_STALL_SECS` and
    /// `RACECOURSE_STD_BUDGET_SECS`.
    pub fn from_env() -> Limits {
        Limits {
            stall: secs_from_env(STALL_ENV, Self::DEFAULT.stall),
            budget: secs_from_env(BUDGET_ENV, Self::DEFAULT.budget),
        }
    }
}

/// The time budget of one check, shared by its [`explore`] calls.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    started: Instant,
    /// Trials finished so far.
    trials: AtomicU32,
}

impl Budget {
    /// A budget that starts now, with the limits from the environment.
    pub fn start() -> Budget {
        Budget::with_limits(Limits::from_env())
    }

    /// A budget that starts now, with `limits`.
    pub fn with_limits(limits: Limits) -> Budget {
        Budget {
            limits,
            started: Instant::now(),
            trials: AtomicU32::new(0),
        }
    }

    fn spent(&self) -> bool {
        self.started.elapsed() >= self.limits.budget
    }

    /// Trials finished so far.
    pub fn trials(&self) -> u32 {
        self.trials.load(Ordering::Relaxed)
    }
}

/// Runs `check` up to `trials` times on real threads, within `budget`, and returns the
/// first violation. Every check ticks the [`Progress`] it is given after each operation.
pub fn explore(
    budget: &Budget,
    trials: u32,
    check: impl Fn(&Progress) -> Result<(), Violation> + Send + Sync + 'static,
) -> Result<(), Found> {
    /// How often a waiting runner looks at the progress count.
    const LOOK: Duration = Duration::from_millis(50);
    let check = Arc::new(check);
    for trial in 0..trials {
        if budget.spent() && budget.trials() > 0 {
            break;
        }
        let found = |violation: Violation| {
            Found {
            violation,
            schedule: format!(
                "std threads, trial {} of {trials} (real threads: rerun to retry; shuttle and loom replay exactly)",
                trial + 1
            ),
            replay_env: Vec::new(),
        }
        };
        let (tx, rx) = mpsc::channel();
        let progress = Progress::new();
        {
            let check = Arc::clone(&check);
            let progress = progress.clone();
            std::thread::Builder::new()
                .name(format!("racecourse-trial-{trial}"))
                .spawn(move || {
                    let _ = tx.send(catch(|| check(&progress)).and_then(|r| r));
                })
                .map_err(|e| {
                    found(Violation::new(
                        "a trial thread to start",
                        format!("spawn failed: {e}"),
                    ))
                })?;
        }
        let mut last = progress.done();
        let mut moved_at = Instant::now();
        let outcome = loop {
            match rx.recv_timeout(LOOK) {
                Ok(outcome) => break outcome,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(Violation::new(
                        "the trial to report",
                        "its thread ended without a verdict",
                    ))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let done = progress.done();
            if done != last {
                last = done;
                moved_at = Instant::now();
            } else if moved_at.elapsed() >= budget.limits.stall {
                let stall = budget.limits.stall;
                break Err(Violation::new(
                    format!("some operation to complete in every {stall:?}"),
                    format!(
                        "no operation completed for {stall:?} ({done} had completed before): \
                         a deadlock, a lost wake-up or a livelock (slowness alone never stops every thread)"
                    ),
                )
                .of_kind(Kind::Stall));
            }
            if budget.spent() {
                progress.request_stop();
            }
        };
        outcome.map_err(found)?;
        budget.trials.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
