//! Runs a check in a child process of the current test binary.
//!
//! Student code can abort, overflow its stack or spin outside any model checker, and
//! loom turns a deadlock into a panic whose unwinding aborts the process (measured:
//! "panic in a destructor during cleanup"). None of that may take down the other tests
//! of the binary or hang the run. So each check runs in a child: the current
//! executable is re-run with `--exact <test> --test-threads=1` and an environment
//! variable naming the cell to run; the child runs only that cell, writes its verdict
//! as JSON to a file, and exits. The parent reads the verdict, and turns a crash, a
//! stall or a spent budget into a failure that names the test.
//!
//! ## Limits: a stall, or a budget
//! The parent watches the child's [heartbeat](racecourse_impl::process::heartbeat),
//! which every runner beats as it goes (each operation on real threads, each loom
//! execution, each shuttle iteration, each event of a process run). It kills the
//! child's process group only when:
//! - the heartbeat has not moved for [`Limits::stall`] (default three times the std
//!   runner's stall window, 30 s): nothing completed at all, a spin or a hang that the
//!   check could not name itself ([`Kind::Stall`], a failure);
//! - or the check is still going at [`Limits::ceiling`] (default 600 s,
//!   `RACECOURSE_DEADLINE_SECS`): it makes progress but too slowly to finish. That is
//!   a budget, not a contract violation ([`Kind::OverBudget`], "timed out" in a grade).
//!
//! A correct implementation on a loaded machine keeps beating, and every check's work
//! is bounded (fixed trial counts and budgets on std, fixed iteration counts under
//! shuttle, bounded exploration under loom), so it reaches neither.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use racecourse_impl::process::child::{ChildStatus, SpawnOptions, Supervised, Watch};
use serde::{Deserialize, Serialize};

use crate::report::{Kind, Violation};
use crate::runner::{describe_panic, kind_of_panic, secs_from_env, Finding, Found};

/// Names the cell a child process must run.
pub const CELL_ENV: &str = "RACECOURSE_CELL";
/// Names the file the child writes its verdict to.
pub const RESULT_ENV: &str = "RACECOURSE_CELL_RESULT";
/// Overrides the ceiling of one isolated check ([`Limits::ceiling`]), in seconds.
pub const DEADLINE_ENV: &str = "RACECOURSE_DEADLINE_SECS";
/// Tells the child which process is its parent (see [`die_with_parent`]).
///
/// [`die_with_parent`]: racecourse_impl::process::worker::die_with_parent
const PARENT_ENV: &str = "RACECOURSE_CELL_PARENT";

/// When the parent gives up on an isolated check (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The child is killed once its heartbeat has not moved for this long.
    pub stall: Duration,
    /// The child is killed this long after it started, whatever it does.
    pub ceiling: Duration,
}

impl Limits {
    /// The defaults, overridden by `RACECOURSE_STALL_SECS` (the std runner's window,
    /// tripled here so that the check names its own stalls first) and
    /// `RACECOURSE_DEADLINE_SECS`.
    pub fn from_env() -> Limits {
        let std_stall = crate::runner::std_rt::Limits::from_env().stall;
        Limits {
            stall: std_stall * 3,
            ceiling: secs_from_env(DEADLINE_ENV, Duration::from_secs(600)),
        }
    }
}

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
    let _ = write_whole(Path::new(&path), &text);
}

/// Writes `text` to `path` whole or not at all: into a file of its own beside `path`,
/// then renamed over it, so that a reader never sees half a verdict (a process killed
/// while writing, or two writers at once, leave the last whole text).
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(format!(".{}.part", std::process::id()));
    std::fs::write(&part, text)?;
    std::fs::rename(&part, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&part);
    })
}

/// Whether this process is a child started to run one cell.
pub fn in_child() -> bool {
    std::env::var_os(CELL_ENV).is_some()
}

/// In a child started to run one cell, a command that runs the same cell again in a
/// fresh process of this binary: the same arguments and environment lead it back to
/// the same check, which can then tell by a variable of its own that it is to play a
/// part (the lecture's child program does). The new process writes no verdict (it has
/// no result file) and dies with the thread of this process that spawns it. `None`
/// outside such a child, where the arguments lead elsewhere.
pub fn rerun_cell() -> Option<Command> {
    std::env::var_os(CELL_ENV)?;
    let mut command = Command::new("/proc/self/exe");
    command
        .args(std::env::args_os().skip(1))
        .env_remove(RESULT_ENV)
        .env(PARENT_ENV, std::process::id().to_string())
        .env("RUST_BACKTRACE", "0");
    Some(command)
}

/// Runs `check` as cell `cell` of test `test` (its libtest name) in a child process and
/// returns its verdict. In the child itself, runs `check` if `cell` is the one asked
/// for (then writes the verdict and exits) and skips every other cell.
pub fn cell(
    test: &str,
    cell: &str,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    cell_with_limits(test, cell, Limits::from_env(), check)
}

/// Like [`cell`], with explicit limits for the child.
pub fn cell_with_limits(
    test: &str,
    cell: &str,
    limits: Limits,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    let args = [
        test,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ];
    run_cell(test, &args, cell, limits, check)
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
    run_cell(test, args, cell, Limits::from_env(), check)
}

fn run_cell(
    test: &str,
    args: &[&str],
    cell: &str,
    limits: Limits,
    check: impl FnOnce() -> Result<(), Finding>,
) -> Result<(), Finding> {
    if let Some(wanted) = std::env::var_os(CELL_ENV) {
        if wanted != cell {
            return Ok(());
        }
        // A killed parent cannot kill our process group: go with it.
        if let Some(parent) = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse().ok()) {
            racecourse_impl::process::worker::die_with_parent(parent);
        }
        let verdict = check();
        if let Some(path) = std::env::var_os(RESULT_ENV) {
            let written = Written {
                verdict: Some(verdict),
                running: None,
            };
            let text = serde_json::to_string(&written).expect("a verdict serializes");
            if let Err(e) = write_whole(Path::new(&path), &text) {
                eprintln!("racecourse: cannot write the verdict to {path:?}: {e}");
                std::process::exit(3);
            }
        }
        std::process::exit(0);
    }
    run_child(test, args, cell, limits)
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

fn run_child(test: &str, args: &[&str], cell: &str, limits: Limits) -> Result<(), Finding> {
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
        .env(PARENT_ENV, std::process::id().to_string())
        .env("RUST_BACKTRACE", "0");
    let started = std::time::Instant::now();
    let child = match Supervised::spawn_with(&mut command, SpawnOptions::new().heartbeat()) {
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
    let outcome = child.wait_watching(Watch {
        stall: limits.stall,
        ceiling: started + limits.ceiling,
    });
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
        ChildStatus::Stalled(window) => Violation::new(
            format!("the check to make progress in every {window:?}"),
            format!(
                "nothing completed for {window:?} (no operation, execution or trial) and it \
                 was killed: a spin or a hang"
            ),
        )
        .of_kind(Kind::Stall),
        ChildStatus::TimedOut => Violation::new(
            format!(
                "the check to finish within its budget of {:?}",
                limits.ceiling
            ),
            format!(
                "it was still making progress after {:?} and was stopped: slow, which is no \
                 contract violation, but over budget (raise {DEADLINE_ENV} to give it longer)",
                limits.ceiling
            ),
        )
        .of_kind(Kind::OverBudget),
        status => {
            // The first panic is the cause; what follows it is loom's unwinding.
            let message = if panic_line.is_empty() {
                &stderr
            } else {
                &panic_line
            };
            match note.as_ref().and_then(|n| n.on_deadlock.clone()) {
                Some(meaning) if kind_of_panic(message) == Kind::Deadlock => {
                    meaning.of_kind(Kind::Deadlock)
                }
                _ => {
                    let described = describe_panic(message);
                    let seen = format!("{} (the checker process {status})", described.seen);
                    Violation { seen, ..described }
                }
            }
        }
    };
    Err(died(test, violation, note))
}
