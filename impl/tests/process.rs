//! The process machinery on real processes: workers that return, fail, panic, crash,
//! flood their output or hang; the E5 shared counter and its mutants.
//!
//! Tests take one lock so that they run one at a time: each ends by checking that no
//! process it started is left, which another test's live workers would confuse.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use racecourse_impl::process::child::{ChildStatus, Supervised};
use racecourse_impl::process::driver::{run_shm_counter, ShmCounterScenario};
use racecourse_impl::process::must_pass::FlockLocked;
use racecourse_impl::process::mutants::{
    NoLock, NonRobust, PrivateMemory, StdMutexInShm, UnlockOnRecovery,
};
use racecourse_impl::process::shm_counter::RobustLocked;
use racecourse_impl::process::worker::{self, PARENT_VAR};
use racecourse_impl::process::{TaskError, TaskErrorKind};
use racecourse_impl::{register_shm_counter_worker, register_task};
use racecourse_spec::shm_counter::ShmCounter;

/// Generous for work that should take milliseconds: only a hang may reach it. For
/// the counter scenarios, the window without progress after which a run stalls.
const DEADLINE: Duration = Duration::from_secs(10);
/// For runs that are expected to hang (or stall): a shorter window only finds the
/// expected stall sooner (starting up has its own bound, see the driver).
const HANG_DEADLINE: Duration = Duration::from_secs(1);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live (non-zombie) processes that carry our worker marker, or whose parent is us.
fn leftovers() -> Vec<String> {
    let me = std::process::id();
    let marker = format!("{PARENT_VAR}={me}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let after = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
        let mut fields = after.split(' ');
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        // A zombie has no environment left; a zombie child of ours is still a leak.
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let marked = environ
            .split(|&b| b == 0)
            .any(|var| var == marker.as_bytes());
        if ppid == me || (marked && state != "Z") {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!(
                "pid {pid} state {state} ppid {ppid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// Fails unless every process this test started is gone (killed processes take a
/// moment to disappear, so look for up to a second).
fn assert_nothing_left() {
    let until = Instant::now() + Duration::from_secs(1);
    loop {
        let left = leftovers();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= until {
            panic!("processes left behind:\n{}", left.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn echo(args: &[u8]) -> Result<Vec<u8>, String> {
    Ok(args.to_vec())
}
register_task!(static ECHO = echo);

register_task!(static FAIL = |_| Err("no such thing".to_owned()));

register_task!(static PANIC = |_| panic!("boom {}", 42));

register_task!(static ABORT = |_| std::process::abort());

register_task!(static EXIT_3 = |_| std::process::exit(3));

register_task!(static EXIT_0 = |_| std::process::exit(0));

fn flood(_: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let line = [b'x'; 1023];
    let mut out = std::io::stdout().lock();
    for _ in 0..10 * 1024 {
        out.write_all(&line).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    writeln!(out, "the end").map_err(|e| e.to_string())?;
    Ok(b"done".to_vec())
}
register_task!(static FLOOD = flood);

/// Starts a grandchild in its own process group, then never returns.
fn hang(_: &[u8]) -> Result<Vec<u8>, String> {
    Command::new("sleep")
        .arg("1000")
        .spawn()
        .map_err(|e| e.to_string())?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
register_task!(static HANG = hang);

/// The fds open in this process, with what they point to, minus the one reading the
/// directory.
fn open_fds() -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .filter(|(_, target)| !target.ends_with("/fd"))
        .collect();
    fds.sort();
    fds
}

fn list_fds(_: &[u8]) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&open_fds()).map_err(|e| e.to_string())
}
register_task!(static LIST_FDS = list_fds);

/// Attaches to the counter named by `args` and dies holding its lock.
fn die_holding_the_lock(args: &[u8]) -> Result<Vec<u8>, String> {
    let token = std::str::from_utf8(args).map_err(|e| e.to_string())?;
    let counter = RobustLocked::attach(token).map_err(|e| e.to_string())?;
    counter
        .with_lock(|n| {
            *n += 1;
            std::process::abort()
        })
        .map_err(|e| e.to_string())
}
register_task!(static DIE_HOLDING_THE_LOCK = die_holding_the_lock);

/// Creates fine, but cannot attach.
#[derive(Debug)]
struct AttachFails;

impl ShmCounter for AttachFails {
    fn create() -> std::io::Result<Self> {
        Ok(Self)
    }
    fn token(&self) -> String {
        "nothing".to_owned()
    }
    fn attach(_: &str) -> std::io::Result<Self> {
        Err(std::io::Error::other("attach is not implemented"))
    }
    fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> std::io::Result<R> {
        Ok(f(&mut 0))
    }
}

/// Panics in `create`, in the harness's own process.
#[derive(Debug)]
struct CreatePanics;

impl ShmCounter for CreatePanics {
    fn create() -> std::io::Result<Self> {
        todo!("create")
    }
    fn token(&self) -> String {
        unreachable!()
    }
    fn attach(_: &str) -> std::io::Result<Self> {
        unreachable!()
    }
    fn with_lock<R>(&self, _: impl FnOnce(&mut u64) -> R) -> std::io::Result<R> {
        unreachable!()
    }
}

register_shm_counter_worker!(static ROBUST: RobustLocked);
register_shm_counter_worker!(static ATTACH_FAILS: AttachFails);
register_shm_counter_worker!(static CREATE_PANICS: CreatePanics);
register_shm_counter_worker!(static NO_LOCK: NoLock);
register_shm_counter_worker!(static PRIVATE_MEMORY: PrivateMemory);
register_shm_counter_worker!(static STD_MUTEX_IN_SHM: StdMutexInShm);
register_shm_counter_worker!(static NON_ROBUST: NonRobust);
register_shm_counter_worker!(static FLOCK: FlockLocked);
register_shm_counter_worker!(static UNLOCK_ON_RECOVERY: UnlockOnRecovery);

fn expect_error(result: Result<Vec<u8>, TaskError>, kind: TaskErrorKind) -> TaskError {
    match result {
        Ok(v) => panic!("expected {kind:?}, got a result of {} bytes", v.len()),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{e}");
            e
        }
    }
}

/// Negative control: the check must see a marked process that is still running.
#[test]
fn the_leftover_check_sees_a_process_left_running() {
    let _serial = serial();
    let mut child = Command::new("sleep")
        .arg("1000")
        .env(PARENT_VAR, std::process::id().to_string())
        .spawn()
        .unwrap();
    assert!(!leftovers().is_empty());
    child.kill().unwrap();
    assert!(
        !leftovers().is_empty(),
        "an unreaped zombie child is a leak too"
    );
    child.wait().unwrap();
    assert_nothing_left();
}

#[test]
fn echo_round_trip_and_its_cost() {
    let _serial = serial();
    assert_eq!(worker::run(&ECHO, b"hello", DEADLINE).unwrap(), b"hello");
    let rounds = 20;
    let start = Instant::now();
    for i in 0..rounds {
        let args = format!("round {i}");
        assert_eq!(
            worker::run(&ECHO, args.as_bytes(), DEADLINE).unwrap(),
            args.as_bytes()
        );
    }
    let each = start.elapsed() / rounds;
    eprintln!("spawn round trip: {each:?} per worker (mean of {rounds})");
    assert!(each < Duration::from_secs(1), "{each:?} per round trip");
    assert_nothing_left();
}

#[test]
fn arguments_and_results_of_any_size_cross_the_boundary() {
    let _serial = serial();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(worker::run(&ECHO, &big, DEADLINE).unwrap(), big);
    assert_eq!(worker::run(&ECHO, b"", DEADLINE).unwrap(), b"");
    assert_nothing_left();
}

#[test]
fn json_helpers_round_trip() {
    let _serial = serial();
    let back: Vec<u32> = worker::run_json(&ECHO, &vec![1u32, 2, 3], DEADLINE).unwrap();
    assert_eq!(back, [1, 2, 3]);
}

#[test]
fn a_task_that_returns_err_is_failed() {
    let _serial = serial();
    let e = expect_error(worker::run(&FAIL, b"", DEADLINE), TaskErrorKind::Failed);
    assert_eq!(e.message(), Some("no such thing"));
    assert_eq!(e.to_string(), "worker failed: no such thing");
    assert_eq!(e.task(), Some(FAIL.name()));
    assert_nothing_left();
}

#[test]
fn a_task_that_panics_is_panicked() {
    let _serial = serial();
    let e = expect_error(worker::run(&PANIC, b"", DEADLINE), TaskErrorKind::Panicked);
    assert_eq!(e.to_string(), "worker panicked: boom 42");
    let stderr = e
        .stderr()
        .expect("the panic hook wrote to stderr")
        .to_string_lossy();
    assert!(stderr.contains("boom 42"), "{stderr}");
    assert_nothing_left();
}

#[test]
fn a_task_that_aborts_crashed_by_sigabrt() {
    let _serial = serial();
    let e = expect_error(worker::run(&ABORT, b"", DEADLINE), TaskErrorKind::Crashed);
    assert_eq!(e.status(), Some(ChildStatus::Signaled(libc::SIGABRT)));
    assert_eq!(e.to_string(), "worker crashed: killed by SIGABRT");
    assert_nothing_left();
}

#[test]
fn a_task_that_exits_crashed_with_its_code() {
    let _serial = serial();
    let e = expect_error(worker::run(&EXIT_3, b"", DEADLINE), TaskErrorKind::Crashed);
    assert_eq!(e.status(), Some(ChildStatus::Exited(3)));
    assert_eq!(e.to_string(), "worker crashed: exited with code 3");
    let e = expect_error(worker::run(&EXIT_0, b"", DEADLINE), TaskErrorKind::Crashed);
    assert_eq!(
        e.to_string(),
        "worker crashed: exited with code 0 without a result"
    );
    assert_nothing_left();
}

#[test]
fn ten_megabytes_of_output_are_capped() {
    let _serial = serial();
    let start = Instant::now();
    let outcome = worker::spawn(&FLOOD, b"")
        .unwrap()
        .finish(Instant::now() + DEADLINE);
    assert_eq!(outcome.result.unwrap(), b"done");
    let out = &outcome.stdout;
    assert_eq!(out.total_len(), 10 * 1024 * 1024 + "the end\n".len() as u64);
    assert!(out.head().len() + out.tail().len() <= 64 * 1024);
    assert!(out.dropped() > 10_000_000);
    let text = out.to_string_lossy();
    assert!(text.ends_with("the end\n"), "the tail is kept");
    assert!(text.contains(" bytes dropped ...]"), "the cut is marked");
    eprintln!("10 MB of output drained in {:?}", start.elapsed());
    assert_nothing_left();
}

#[test]
fn a_task_that_never_returns_times_out_and_is_killed_with_its_children() {
    let _serial = serial();
    let start = Instant::now();
    let e = expect_error(
        worker::run(&HANG, b"", HANG_DEADLINE),
        TaskErrorKind::TimedOut,
    );
    let took = start.elapsed();
    assert!(
        // The task would sleep forever: ended at all (not how soon) is the point, so
        // the margin is wide enough for a loaded machine.
        took >= HANG_DEADLINE && took < HANG_DEADLINE + Duration::from_secs(30),
        "{took:?}"
    );
    assert_eq!(e.to_string(), "worker timed out after 1s");
    assert_nothing_left();
}

#[test]
fn dropping_a_worker_kills_it() {
    let _serial = serial();
    let w = worker::spawn(&HANG, b"").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(w);
    assert_nothing_left();
    let w = worker::spawn(&HANG, b"").unwrap();
    assert_eq!(w.cancel().kind(), TaskErrorKind::Cancelled);
    assert_nothing_left();
}

#[test]
fn workers_inherit_only_stdio() {
    let _serial = serial();
    // What this process itself lets every child inherit (e.g. fds its own parent
    // passed down without close-on-exec) is not ours to judge.
    let inheritable: Vec<u32> = open_fds()
        .into_iter()
        .map(|(fd, _)| fd)
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the flags of an fd number.
            let flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
            fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    let fds: Vec<(u32, String)> =
        serde_json::from_slice(&worker::run(&LIST_FDS, b"", DEADLINE).unwrap()).unwrap();
    let ours: Vec<&(u32, String)> = fds
        .iter()
        .filter(|(fd, _)| *fd > 2 && !inheritable.contains(fd))
        .collect();
    // The one extra fd is the result file, which the worker opened itself.
    assert_eq!(ours.len(), 1, "{ours:?} of {fds:?}");
    assert!(
        ours[0].1.starts_with("/memfd:racecourse-result"),
        "{ours:?}"
    );
    assert_eq!(fds.iter().filter(|(fd, _)| *fd <= 2).count(), 3, "{fds:?}");
}

#[test]
fn a_supervised_command_is_killed_with_its_group_at_the_deadline() {
    let _serial = serial();
    let child = Supervised::spawn(
        Command::new("sh")
            .args(["-c", "sleep 1000 & echo started; sleep 1000"])
            .env(PARENT_VAR, std::process::id().to_string()),
    )
    .unwrap();
    let outcome = child.wait_deadline(Duration::from_millis(500));
    assert_eq!(outcome.status, ChildStatus::TimedOut);
    assert_eq!(outcome.stdout.to_string_lossy(), "started\n");
    assert_nothing_left();
}

#[test]
fn reference_counter_five_processes_reach_500() {
    let _serial = serial();
    let start = Instant::now();
    let outcome = run_shm_counter(&ROBUST, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap();
    assert_eq!(outcome.total, 500);
    assert_eq!(outcome.max_holders, 1);
    eprintln!("reference 5 x 100: {:?}", start.elapsed());
    assert_nothing_left();
}

#[test]
fn a_holder_that_dies_does_not_block_the_others() {
    let _serial = serial();
    let counter = RobustLocked::create().unwrap();
    let e = expect_error(
        worker::run(&DIE_HOLDING_THE_LOCK, counter.token().as_bytes(), DEADLINE),
        TaskErrorKind::Crashed,
    );
    assert_eq!(e.status(), Some(ChildStatus::Signaled(libc::SIGABRT)));
    assert_eq!(counter.with_lock(|n| *n).unwrap(), 1);
    assert_eq!(counter.recoveries().unwrap(), 1);
    assert_eq!(counter.get().unwrap(), 1);
    assert_eq!(counter.recoveries().unwrap(), 1);
    assert_nothing_left();
}

#[test]
fn no_lock_is_caught_with_two_holders_every_run() {
    let _serial = serial();
    for _ in 0..3 {
        let outcome =
            run_shm_counter(&NO_LOCK, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap();
        assert!(outcome.max_holders >= 2, "{outcome:?}");
    }
    assert_nothing_left();
}

#[test]
fn private_memory_loses_every_count() {
    let _serial = serial();
    let outcome =
        run_shm_counter(&PRIVATE_MEMORY, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap();
    assert_ne!(outcome.total, 500, "{outcome:?}");
    assert_nothing_left();
}

#[test]
fn std_mutex_in_shared_memory_hangs_and_is_killed() {
    let _serial = serial();
    let start = Instant::now();
    let e = run_shm_counter(
        &STD_MUTEX_IN_SHM,
        &ShmCounterScenario::new(5, 100, HANG_DEADLINE),
    )
    .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), TaskErrorKind::Stalled, "{e}");
    // Ended at all is the point (the workers would wait forever), not how soon.
    assert!(took < HANG_DEADLINE + Duration::from_secs(30), "{took:?}");
    assert_nothing_left();
}

#[test]
fn a_dead_holder_is_recovered_by_the_reference_and_by_flock() {
    let _serial = serial();
    let scenario = ShmCounterScenario::dead_holder(3, 50, 3, DEADLINE);
    for (name, outcome) in [
        ("robust", run_shm_counter(&ROBUST, &scenario)),
        ("flock", run_shm_counter(&FLOCK, &scenario)),
    ] {
        let outcome = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (outcome.total, outcome.max_holders),
            (3 + 2 * 50, 1),
            "{name}"
        );
    }
    assert_nothing_left();
}

/// Regression (cargo-mutants on the reference): a lock given up right after it was
/// recovered lets a second survivor in, every run.
#[test]
fn a_lock_let_go_after_recovery_admits_a_second_survivor() {
    let _serial = serial();
    for _ in 0..3 {
        let outcome = run_shm_counter(
            &UNLOCK_ON_RECOVERY,
            &ShmCounterScenario::dead_holder(3, 50, 3, DEADLINE),
        )
        .unwrap();
        assert!(outcome.max_holders >= 2, "{outcome:?}");
    }
    assert_nothing_left();
}

/// Regression (issue 5): a process-shared mutex that is not robust passed every
/// property until the dead-holder scenario existed; there it stalls.
#[test]
fn a_non_robust_mutex_stalls_when_its_holder_dies() {
    let _serial = serial();
    let outcome = run_shm_counter(&NON_ROBUST, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap();
    assert_eq!((outcome.total, outcome.max_holders), (500, 1));
    let e = run_shm_counter(
        &NON_ROBUST,
        &ShmCounterScenario::dead_holder(3, 50, 3, HANG_DEADLINE),
    )
    .unwrap_err();
    assert_eq!(e.kind(), TaskErrorKind::Stalled, "{e}");
    assert_nothing_left();
}

#[test]
fn flock_counter_excludes_across_processes() {
    let _serial = serial();
    let outcome = run_shm_counter(&FLOCK, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap();
    assert_eq!((outcome.total, outcome.max_holders), (500, 1));
    assert_nothing_left();
}

#[test]
fn a_failing_worker_is_reported_and_the_others_cancelled_at_once() {
    let _serial = serial();
    let start = Instant::now();
    let e = run_shm_counter(&ATTACH_FAILS, &ShmCounterScenario::new(5, 100, DEADLINE)).unwrap_err();
    assert_eq!(e.kind(), TaskErrorKind::Failed, "{e}");
    assert!(e.to_string().contains("attach is not implemented"), "{e}");
    // Workers 1.. would wait for worker 0 at the rendezvous; they are killed instead.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_nothing_left();
}

#[test]
fn a_panic_in_create_is_reported_not_propagated() {
    let _serial = serial();
    let e = run_shm_counter(&CREATE_PANICS, &ShmCounterScenario::new(2, 1, DEADLINE)).unwrap_err();
    assert_eq!(e.kind(), TaskErrorKind::Panicked);
    assert_eq!(
        e.to_string(),
        "worker panicked: create(): not yet implemented: create"
    );
    assert_nothing_left();
}

fn child_fate(fate: u8) -> Result<u32, String> {
    match fate {
        0 => Ok(std::process::id()),
        1 => panic!("child {fate} panicked"),
        2 => std::process::abort(),
        _ => std::process::exit(3),
    }
}
racecourse_impl::job!(static CHILD_FATE: fn(u8) -> u32 = child_fate);

/// E1/E6/L reference: the job runs under another pid, the causes of death come back
/// as errors, and nothing is left after `join` or after dropping a handle.
#[test]
fn spawned_children_report_their_pid_and_cause_and_leave_nothing() {
    use racecourse_impl::process::child_processes::Spawn;
    use racecourse_spec::child_processes::{Child, Processes};
    use racecourse_spec::job::{Death, JobError};

    let _serial = serial();
    let processes = Spawn::new();
    let child = processes.spawn(&CHILD_FATE, 0).unwrap();
    let pid = child.pid();
    assert_ne!(pid, std::process::id());
    assert_eq!(child.join(), Ok(pid));
    let children: Vec<_> = (1..=3)
        .map(|fate| processes.spawn(&CHILD_FATE, fate).unwrap())
        .collect();
    let outcomes: Vec<_> = children.into_iter().map(Child::join).collect();
    assert_eq!(
        outcomes,
        [
            Err(JobError::Panicked("child 1 panicked".into())),
            Err(JobError::Crashed(Death::Signaled(libc::SIGABRT))),
            Err(JobError::Crashed(Death::Exited(3))),
        ]
    );
    assert_nothing_left();
    drop(processes.spawn(&CHILD_FATE, 0).unwrap());
    assert_nothing_left();
}
