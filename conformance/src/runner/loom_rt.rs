//! loom: every interleaving of a small scenario.
//!
//! loom explores all interleavings exhaustively, so a loom failure is reproduced by
//! rerunning the same test; there is no seed. Its cost explodes with a third thread
//! (DESIGN.md: 2 threads x 3 ops = 315 executions; 3 x 2 = 116k), so scenarios with
//! more than two threads **must** pass a preemption bound.
//!
//! loom models running in parallel threads of one process can crash (loom issue 146):
//! every model here takes one process-wide lock, so models run one at a time even
//! under libtest's parallel test threads.

use std::sync::{Arc, Mutex};

use super::{catch, Found};
use crate::report::Violation;

static ONE_MODEL_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Limits of one loom exploration.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// At most this many preemptions per execution; `None` explores everything.
    pub preemptions: Option<usize>,
}

impl Bounds {
    /// Every interleaving: for scenarios of at most two spawned threads.
    pub const EXHAUSTIVE: Bounds = Bounds { preemptions: None };
    /// At most two preemptions: for three threads or more.
    pub const BOUNDED: Bounds = Bounds {
        preemptions: Some(2),
    };
}

/// Explores `check` under loom and returns the first violation.
pub fn explore(
    bounds: Bounds,
    check: impl Fn() -> Result<(), Violation> + Send + Sync + 'static,
) -> Result<(), Found> {
    let _one = ONE_MODEL_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let executions = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bounds.preemptions;
    let outcome = catch(move || {
        builder.check(move || {
            *counter.lock().unwrap() += 1;
            racecourse_impl::process::heartbeat::beat();
            if let Err(v) = check() {
                std::panic::panic_any(v);
            }
        })
    });
    let n = *executions.lock().unwrap_or_else(|p| p.into_inner());
    outcome.map_err(|violation| Found {
        violation,
        schedule: match bounds.preemptions {
            None => format!("loom, exhaustive, failed in execution {n}"),
            Some(p) => format!("loom, at most {p} preemptions, failed in execution {n}"),
        },
        replay_env: Vec::new(),
    })
}
