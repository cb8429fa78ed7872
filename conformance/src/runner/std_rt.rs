//! std: real threads, many trials, each under a deadline.
//!
//! Real threads give no control over the interleaving, so the std runner cannot
//! replay a failure exactly; it is the runtime that checks the implementation as the
//! student will run it. A trial that does not finish within its deadline is reported
//! as a failure (deadlock or lost wakeup), and its threads are abandoned: they cannot
//! be killed, but the test binary exits when the run ends.

use std::sync::mpsc;
use std::time::Duration;

use super::{catch, Found};
use crate::report::Violation;

/// How many trials, and how long each may take.
#[derive(Clone, Copy, Debug)]
pub struct Trials {
    /// Number of trials.
    pub count: u32,
    /// Deadline of one trial.
    pub deadline: Duration,
}

impl Trials {
    /// The default: 20 trials of at most 5 s each.
    pub const DEFAULT: Trials = Trials {
        count: 20,
        deadline: Duration::from_secs(5),
    };
}

/// Runs `check` `trials.count` times on real threads and returns the first violation.
pub fn explore(
    trials: Trials,
    check: impl Fn() -> Result<(), Violation> + Send + Sync + 'static,
) -> Result<(), Found> {
    let check = std::sync::Arc::new(check);
    for trial in 0..trials.count {
        let (tx, rx) = mpsc::channel();
        let check = std::sync::Arc::clone(&check);
        std::thread::Builder::new()
            .name(format!("racecourse-trial-{trial}"))
            .spawn(move || {
                let _ = tx.send(catch(|| check()).and_then(|r| r));
            })
            .map_err(|e| Found {
                violation: Violation::new("a trial thread to start", format!("spawn failed: {e}")),
                schedule: format!("std threads, trial {trial}"),
                replay_env: Vec::new(),
            })?;
        let outcome = match rx.recv_timeout(trials.deadline) {
            Ok(outcome) => outcome,
            Err(_) => Err(Violation::new(
                format!("the trial to finish within {:?}", trials.deadline),
                format!(
                    "no progress within {:?}: deadlock or lost wakeup?",
                    trials.deadline
                ),
            )),
        };
        outcome.map_err(|violation| Found {
            violation,
            schedule: format!(
                "std threads, trial {} of {} (real threads: rerun to retry; shuttle and loom replay exactly)",
                trial + 1,
                trials.count
            ),
            replay_env: Vec::new(),
        })?;
    }
    Ok(())
}
