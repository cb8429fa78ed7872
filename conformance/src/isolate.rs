//! Runs a check in a child process of the current test binary.
//!
//! Student code can abort, overflow its stack or spin outside any model checker, and
//! loom turns a deadlock into a panic whose unwinding aborts the process (measured:
//! "panic in a destructor during cleanup"). None of that may take down the other tests
//! of the binary or hang the run. So each check runs in a child: the current
//! executable is re-run with `--exact <test> --test-threads=1` and an environment
//! variable naming the cell to run; the child runs only that cell, writes its verdict
//! as JSON to a file, and exits. The parent waits under a deadline (killing the
//! child's process group when it passes), reads the verdict, and turns a crash or a
//! timeout into a failure that names the test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use racecourse_impl::process::child::{ChildStatus, Supervised};
use serde::{Deserialize, Serialize};

use crate::report::Violation;
use crate::runner::{describe_panic, Finding, Found, PanicKind};

/// Names the cell a child process must run.
pub const CELL_ENV: &str = "RACECOURSE_CELL";
/// Names the file the child writes its verdict to.
pub const RESULT_ENV: &str = "RACECOURSE_CELL_RESULT";
/// Overrides the deadline of one isolated check, in seconds.
pub const DEADLINE_ENV: &str = "RACECOURSE_DEADLINE_SECS";

/// The deadline of one isolated check unless `RACECOURSE_DEADLINE_SECS` says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// What a child leaves in its result file: a verdict when it finished, or, while it
/// runs, what it is exploring, so that a child that dies (loom aborts on a deadlock)
/// still yields a precise report.
#[derive(Default, Serialize, Deserialize)]
struct Written {
    verdict: Option<Result<(), (Found, String)>>,
    running: Option<Note>,
}

/// What a check is doing, noted before a step that may kill the process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Note {
    /// The scenario being explored.
    pub scenario: String,
    /// What a deadlock means in this scenario, in the student's terms, if it means
    /// more than "the threads deadlocked".
    pub on_deadlock: Option<Violation>,
}

/// In a child, records what the check is about to explore; elsewhere does nothing.
pub fn note(scenario: &str, on_deadlock: Option<Violation>) {
    let Some(path) = std::env::var_os(RESULT_ENV) else {
        return;
    };
    let written = Written {
        verdict: None,
        running: Some(Note {
            scenario: scenario.to_string(),
            on_deadlock,
        }),
    };
    let text = serde_json::to_string(&written).expect("a note serializes");
    let _ = std::fs::write(path, text);
}

/// Whether this process is a child started to run one cell.
pub fn in_child() -> bool {
    std::env::var_os(CELL_ENV).is_some()
}

/// Runs `check` as cell `cell` of test `test` (its libtest name) in a child process and
/// returns its verdict. In the child itself, runs `check` if `cell` is the one asked
/// for (then writes the verdict and exits) and skips every other cell.
pub fn cell(
    test: &str,
    cell: &str,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    cell_with_deadline(test, cell, deadline(), check)
}

/// Like [`cell`], with an explicit deadline for the child.
pub fn cell_with_deadline(
    test: &str,
    cell: &str,
    deadline: Duration,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    let args = [
        test,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ];
    run_cell(test, &args, cell, deadline, check)
}

/// Like [`cell`], for any binary: the child is the current executable run with `args`,
/// which **must** lead it back to this same call (a binary without arguments that
/// walks its cells in order does).
pub fn cell_with_args(
    test: &str,
    args: &[&str],
    cell: &str,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    run_cell(test, args, cell, deadline(), check)
}

fn run_cell(
    test: &str,
    args: &[&str],
    cell: &str,
    deadline: Duration,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    if let Some(wanted) = std::env::var_os(CELL_ENV) {
        if wanted != cell {
            return Ok(());
        }
        let verdict = check();
        if let Some(path) = std::env::var_os(RESULT_ENV) {
            let written = Written {
                verdict: Some(verdict),
                running: None,
            };
            let text = serde_json::to_string(&written).expect("a verdict serializes");
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("racecourse: cannot write the verdict to {path:?}: {e}");
                std::process::exit(3);
            }
        }
        std::process::exit(0);
    }
    run_child(test, args, cell, deadline)
}

fn deadline() -> Duration {
    std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_DEADLINE)
}

fn result_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "racecourse-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn harness_failure(test: &str, violation: Violation) -> Finding {
    died(test, violation, None)
}

fn died(test: &str, violation: Violation, note: Option<Note>) -> Finding {
    let scenario = note
        .map(|n| n.scenario)
        .unwrap_or_else(|| "unknown: the check died before naming one".to_string());
    (
        Found {
            violation,
            schedule: format!(
                "isolated run of {test}; the checker process died, rerun the test to replay"
            ),
            replay_env: Vec::new(),
        },
        scenario,
    )
}

fn run_child(test: &str, args: &[&str], cell: &str, deadline: Duration) -> Result<(), Finding> {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return Err(harness_failure(
                test,
                Violation::new(
                    "to find the test binary",
                    format!("current_exe failed: {e}"),
                ),
            ))
        }
    };
    let path = result_path();
    let mut command = Command::new(exe);
    command
        .args(args)
        .env(CELL_ENV, cell)
        .env(RESULT_ENV, &path)
        .env("RUST_BACKTRACE", "0");
    let child = match Supervised::spawn(&mut command) {
        Ok(child) => child,
        Err(e) => {
            return Err(harness_failure(
                test,
                Violation::new(
                    "to start the check in a child process",
                    format!("spawn failed: {e}"),
                ),
            ))
        }
    };
    let outcome = child.wait_deadline(deadline);
    let written = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    let mut note = None;
    if let Ok(text) = written {
        match serde_json::from_str::<Written>(&text) {
            Ok(Written {
                verdict: Some(verdict),
                ..
            }) => return verdict,
            Ok(Written { running, .. }) => note = running,
            Err(e) => {
                return Err(harness_failure(
                    test,
                    Violation::new(
                        "a readable verdict from the child",
                        format!("it wrote {text:?} ({e})"),
                    ),
                ))
            }
        }
    }
    let stderr = outcome.stderr.to_string_lossy();
    let panic_line = stderr
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .nth(1)
        .unwrap_or("")
        .to_string();
    let violation = match outcome.status {
        ChildStatus::TimedOut => Violation::new(
            format!("the check to finish within {deadline:?}"),
            format!(
                "it was still running after {deadline:?} and was killed: a spin loop or a hang? \
                 (raise {DEADLINE_ENV} if the machine is only slow)"
            ),
        ),
        status => {
            // The first panic is the cause; what follows it is loom's unwinding.
            let message = if panic_line.is_empty() {
                &stderr
            } else {
                &panic_line
            };
            match note.as_ref().and_then(|n| n.on_deadlock.clone()) {
                Some(meaning) if PanicKind::of(message) == PanicKind::Deadlock => meaning,
                _ => {
                    let described = describe_panic(message);
                    Violation::new(
                        described.expected,
                        format!("{} (the checker process {status})", described.seen),
                    )
                }
            }
        }
    };
    Err(died(test, violation, note))
}
