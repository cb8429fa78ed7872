//! Running one exercise's generated tests and collecting their verdicts.
//!
//! The test binary runs as a supervised child (its own process group, output capped)
//! with `RACECOURSE_VERDICTS` naming a fresh directory; each test writes its
//! [`Record`] there as it concludes. The run ends when the binary exits or the
//! submission's budget is spent; a test that left no record is reported as missing
//! (timed out). The verdicts of a complete run are kept, keyed by a hash of the test
//! binary and the limits: grading an unchanged submission again reuses them.
//!
//! Nothing a submission starts outlives its grading: the grader is a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so every process orphaned under it (a student's leaked
//! process, even one that left its process group) is re-parented to the grader, which
//! kills and reaps all of them after each run ([`reap_orphans`]).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use racecourse_impl::process::child::{ChildStatus, SpawnOptions, Supervised};

use crate::report::Record;
use crate::suite::VERDICTS_ENV;

/// Limits passed to every check of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CheckLimits {
    /// The std runner's stall window (`RACECOURSE_STALL_SECS`).
    pub stall_secs: u64,
    /// The ceiling of one isolated check (`RACECOURSE_DEADLINE_SECS`).
    pub ceiling_secs: u64,
}

/// What running one exercise's tests gave.
#[derive(Debug)]
pub struct Ran {
    /// The records found, by test name.
    pub records: Vec<Record>,
    /// Whether the run was stopped by the budget.
    pub over_budget: bool,
    /// How the test binary ended, when it did not exit normally (for a report of a
    /// binary that died without verdicts).
    pub abnormal: Option<String>,
    /// Whether the records came from an earlier, identical run.
    pub cached: bool,
}

/// Makes this process a child subreaper, so that orphans of the submissions it runs
/// are re-parented to it (and reaped by [`reap_orphans`]) instead of to init.
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
}

/// The pids of this process's children, alive or zombie.
fn children() -> Vec<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1))
                .and_then(|p| p.parse::<libc::pid_t>().ok());
            ppid == Some(me)
        })
        .collect()
}

/// Kills and reaps every child of this process: after a run, the only children left are
/// orphans a submission started (its test binary has been reaped). Returns how many.
pub fn reap_orphans() -> usize {
    let mut reaped = 0;
    for _ in 0..100 {
        let orphans = children();
        if orphans.is_empty() {
            break;
        }
        for pid in orphans {
            // SAFETY: kill/killpg/waitpid on a child of ours, by pid; SIGKILL ends it.
            unsafe {
                let pgid = libc::getpgid(pid);
                if pgid > 0 && pgid != libc::getpgrp() {
                    libc::killpg(pgid, libc::SIGKILL);
                }
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            reaped += 1;
        }
    }
    reaped
}

/// A key for the verdicts of `exe` under `limits`: equal keys mean the same tests.
fn cache_key(exe: &Path, limits: CheckLimits) -> std::io::Result<String> {
    let mut hasher = DefaultHasher::new();
    std::fs::read(exe)?.hash(&mut hasher);
    limits.hash(&mut hasher);
    Ok(format!("{:016x}", hasher.finish()))
}

/// Reads every record in `dir`.
pub fn read_records(dir: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records: Vec<Record> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect();
    records.sort_by(|a, b| a.test.cmp(&b.test));
    records
}

/// Counts the records in `dir` (for the progress display).
pub fn count_records(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    })
}

/// Runs the tests in `exe`, expecting `expected` records, writing them under
/// `verdicts` (a directory per cache key), stopping at `until`. With `fresh`, an
/// earlier run's verdicts are not reused. `on_dir` is told the directory the records
/// go to, for progress.
pub fn run_tests(
    exe: &Path,
    expected: usize,
    verdicts: &Path,
    limits: CheckLimits,
    until: Instant,
    fresh: bool,
    on_dir: impl FnOnce(&Path),
) -> std::io::Result<Ran> {
    let key = cache_key(exe, limits)?;
    let dir = verdicts.join(&key);
    let complete = dir.join("complete");
    if !fresh && complete.exists() {
        on_dir(&dir);
        return Ok(Ran {
            records: read_records(&dir),
            over_budget: false,
            abnormal: None,
            cached: true,
        });
    }
    if verdicts.exists() {
        std::fs::remove_dir_all(verdicts)?;
    }
    std::fs::create_dir_all(&dir)?;
    on_dir(&dir);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut command = Command::new(exe);
    command
        .arg(format!("--test-threads={threads}"))
        .env(VERDICTS_ENV, &dir)
        .env("RACECOURSE_STALL_SECS", limits.stall_secs.to_string())
        .env("RACECOURSE_DEADLINE_SECS", limits.ceiling_secs.to_string())
        .env("RUST_BACKTRACE", "0");
    let child = Supervised::spawn_with(&mut command, SpawnOptions::new())?;
    let outcome = child.wait_until(until);
    reap_orphans();
    let records = read_records(&dir);
    let over_budget = outcome.status == ChildStatus::TimedOut;
    let abnormal = match outcome.status {
        ChildStatus::Exited(0) | ChildStatus::Exited(101) | ChildStatus::TimedOut => None,
        status => Some(format!(
            "the test binary {status}: {}",
            outcome.stderr.to_string_lossy().trim()
        )),
    };
    if records.len() == expected && !over_budget {
        std::fs::write(&complete, "")?;
    }
    Ok(Ran {
        records,
        over_budget,
        abnormal,
        cached: false,
    })
}

/// The directory of `exe`'s verdicts for a submission's exercise.
pub fn verdict_root(scratch: &Path, exercise: &str) -> PathBuf {
    scratch.join("verdicts").join(exercise)
}
