//! Student code that deadlocks, spins, panics or aborts: each must become a failing
//! verdict that names what happened, within its deadline, with nothing left running
//! and the rest of the binary unaffected.

use std::time::{Duration, Instant};

use racecourse::isolate;
use racecourse::report::Kind;
use racecourse::runner::std_rt;
use racecourse::shared_list::{self, Property};

mod broken {
    // Each runtime gets a copy; these tests use only some of them.
    #![allow(dead_code, unreachable_pub)]
    racecourse_spec::runtimes! {
        use racecourse_spec::shared_list::{RemovalOrder, SharedList};
        use rt::sync::Mutex;

        /// `remove` locks the list, then calls `snapshot`, which locks it again: a
        /// self-deadlock with a non-reentrant mutex.
        #[derive(Debug, Default)]
        pub struct Relock {
            items: Mutex<Vec<u32>>,
        }

        impl SharedList for Relock {
            const ORDER: RemovalOrder = RemovalOrder::Lifo;
            fn new() -> Self {
                Self::default()
            }
            fn add(&self, x: u32) {
                self.items.lock().unwrap().push(x);
            }
            fn remove(&self) -> Option<u32> {
                let mut items = self.items.lock().unwrap();
                let _ = self.snapshot();
                items.pop()
            }
            fn snapshot(&self) -> Vec<u32> {
                self.items.lock().unwrap().clone()
            }
        }

        /// `remove` panics on an empty list (an `unwrap` on `pop`).
        #[derive(Debug, Default)]
        pub struct Unwraps {
            items: Mutex<Vec<u32>>,
        }

        impl SharedList for Unwraps {
            const ORDER: RemovalOrder = RemovalOrder::Lifo;
            fn new() -> Self {
                Self::default()
            }
            fn add(&self, x: u32) {
                self.items.lock().unwrap().push(x);
            }
            fn remove(&self) -> Option<u32> {
                Some(self.items.lock().unwrap().pop().unwrap())
            }
            fn snapshot(&self) -> Vec<u32> {
                self.items.lock().unwrap().clone()
            }
        }
    }
}

use racecourse_impl::thread::shared_list::{on_loom, on_shuttle};

fn seen(result: Result<(), racecourse::runner::Finding>) -> String {
    let (found, _) = result.expect_err("the broken implementation must be rejected");
    found.violation.seen
}

#[test]
fn deadlock_under_loom_is_reported_not_aborted() {
    let r = isolate::cell(
        "deadlock_under_loom_is_reported_not_aborted",
        "relock",
        || {
            shared_list::check_loom::<broken::on_loom::Relock, on_loom::Program>(
                Property::Linearizable,
            )
        },
    );
    let seen = seen(r);
    assert!(seen.contains("deadlocked"), "{seen}");
}

#[test]
fn deadlock_under_shuttle_is_reported() {
    let r = isolate::cell("deadlock_under_shuttle_is_reported", "relock", || {
        shared_list::check_shuttle::<broken::on_shuttle::Relock, on_shuttle::Program>(
            Property::Linearizable,
        )
    });
    let seen = seen(r);
    assert!(seen.contains("deadlocked"), "{seen}");
}

#[test]
fn panic_in_student_code_is_reported_with_its_message() {
    let r = isolate::cell(
        "panic_in_student_code_is_reported_with_its_message",
        "unwraps",
        || {
            shared_list::check_shuttle::<broken::on_shuttle::Unwraps, on_shuttle::Program>(
                Property::NoLostItems,
            )
        },
    );
    let seen = seen(r);
    assert!(seen.contains("panicked"), "{seen}");
}

#[test]
fn abort_is_reported_as_a_crash() {
    let r = isolate::cell("abort_is_reported_as_a_crash", "abort", || {
        std::process::abort()
    });
    let seen = seen(r);
    assert!(seen.contains("SIGABRT"), "{seen}");
}

#[test]
fn spin_is_killed_once_it_stalls() {
    let start = Instant::now();
    let r = isolate::cell_with_limits(
        "spin_is_killed_once_it_stalls",
        "spin",
        isolate::Limits {
            stall: Duration::from_secs(1),
            ceiling: Duration::from_secs(60),
        },
        || loop {
            std::hint::spin_loop();
        },
    );
    let (found, _) = r.expect_err("a spin must be rejected");
    assert_eq!(found.violation.kind, Kind::Stall, "{}", found.violation);
    assert!(
        found.violation.seen.contains("was killed"),
        "{}",
        found.violation
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the stall window did not stop the spin"
    );
}

/// Regression (issue 5): the isolating parent killed a check at a fixed deadline,
/// however much progress it made. A check that keeps beating outlives the stall
/// window and is stopped only at its ceiling, as over budget (timed out), not failed.
#[test]
fn a_check_that_keeps_progressing_outlives_the_stall_window() {
    let r = isolate::cell_with_limits(
        "a_check_that_keeps_progressing_outlives_the_stall_window",
        "slow",
        isolate::Limits {
            stall: Duration::from_secs(1),
            ceiling: Duration::from_millis(2500),
        },
        || loop {
            racecourse_impl::process::heartbeat::beat();
            std::thread::sleep(Duration::from_millis(100));
        },
    );
    let (found, _) = r.expect_err("the ceiling stops it");
    assert_eq!(
        found.violation.kind,
        Kind::OverBudget,
        "{}",
        found.violation
    );
}

/// The other half: a check that progresses for two stall windows, then finishes,
/// passes.
#[test]
fn a_slow_check_that_finishes_passes() {
    let r = isolate::cell_with_limits(
        "a_slow_check_that_finishes_passes",
        "slow_then_done",
        isolate::Limits {
            stall: Duration::from_secs(1),
            ceiling: Duration::from_secs(60),
        },
        || {
            for _ in 0..20 {
                racecourse_impl::process::heartbeat::beat();
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        },
    );
    assert!(r.is_ok(), "2 s of progress with a 1 s stall window: {r:?}");
}

/// Regression (issue 5): a correct spin-lock counter failed on std with "no progress
/// within 5s" while it was only slow. A trial that takes two stall windows but
/// completes an operation in each passes.
#[test]
fn a_slow_trial_that_progresses_is_not_a_stall() {
    let limits = std_rt::Limits {
        stall: Duration::from_millis(500),
        budget: Duration::from_secs(60),
    };
    let budget = std_rt::Budget::with_limits(limits);
    let r = std_rt::explore(&budget, 1, |progress| {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            progress.tick();
        }
        Ok(())
    });
    assert!(r.is_ok(), "{r:?}");
}

/// A trial in which nothing completes for a whole window is a stall, reported as such.
#[test]
fn a_trial_without_progress_is_a_stall() {
    let limits = std_rt::Limits {
        stall: Duration::from_millis(500),
        budget: Duration::from_secs(60),
    };
    let budget = std_rt::Budget::with_limits(limits);
    let start = Instant::now();
    let found = std_rt::explore(&budget, 1, |progress| {
        progress.tick();
        // A lost wake-up: waits for a message nobody sends.
        let (_tx, rx) = std::sync::mpsc::channel::<()>();
        let _ = rx.recv();
        Ok(())
    })
    .expect_err("a stall must be rejected");
    assert_eq!(found.violation.kind, Kind::Stall, "{}", found.violation);
    assert!(
        found
            .violation
            .seen
            .contains("no operation completed for 500ms (1 had completed before)"),
        "{}",
        found.violation
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// Once the budget is spent, the running trial is asked to stop and no other starts:
/// fewer trials, never a failure.
#[test]
fn a_spent_budget_means_fewer_trials_not_a_failure() {
    let limits = std_rt::Limits {
        stall: Duration::from_secs(5),
        budget: Duration::from_millis(300),
    };
    let budget = std_rt::Budget::with_limits(limits);
    let r = std_rt::explore(&budget, 50, |progress| {
        while !progress.should_stop() {
            std::thread::sleep(Duration::from_millis(10));
            progress.tick();
        }
        Ok(())
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        budget.trials(),
        1,
        "one trial, stopped when the budget ran out"
    );
}

#[test]
fn megabytes_of_output_are_capped_and_the_verdict_still_arrives() {
    let start = Instant::now();
    let r = isolate::cell(
        "megabytes_of_output_are_capped_and_the_verdict_still_arrives",
        "chatty",
        || {
            let line = "nothing to remove ".repeat(64);
            for _ in 0..10_000 {
                println!("{line}");
                eprintln!("{line}");
            }
            std::process::abort()
        },
    );
    let seen = seen(r);
    assert!(seen.contains("SIGABRT"), "{seen}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "draining the output took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_process_the_student_leaks_is_killed_with_the_check() {
    // Named after the test process, which is the isolated child's parent.
    let owner = if isolate::in_child() {
        std::os::unix::process::parent_id()
    } else {
        std::process::id()
    };
    let pid_file = std::env::temp_dir().join(format!("racecourse-leak-{owner}.pid"));
    let path = pid_file.clone();
    let r = isolate::cell(
        "a_process_the_student_leaks_is_killed_with_the_check",
        "leak",
        move || {
            // Started and forgotten: never waited for, never killed.
            let child = std::process::Command::new("sleep")
                .arg("300")
                .spawn()
                .expect("sleep starts");
            std::fs::write(&path, child.id().to_string()).expect("the pid is written");
            std::mem::forget(child);
            Ok(())
        },
    );
    assert!(r.is_ok(), "the check itself passes");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the child wrote the pid")
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(&pid_file);
    // Killed with the child's process group; init reaps it shortly after.
    let gone = (0..200).any(|_| {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = !state.is_empty() && !state.contains(") Z ");
        if alive {
            std::thread::sleep(Duration::from_millis(10));
        }
        !alive
    });
    assert!(gone, "the leaked `sleep` (pid {pid}) is still running");
}

#[test]
fn a_forkbomb_is_killed_with_the_check() {
    // A student's job that keeps forking: a tree of shells, each starting two more
    // (127 processes at depth 6) and then waiting, while the check fails. The
    // verdict must arrive, name the cell, and leave none of them running.
    let owner = if isolate::in_child() {
        std::os::unix::process::parent_id()
    } else {
        std::process::id()
    };
    let marker = format!("RACECOURSE_FORKBOMB={owner}");
    let env = marker.clone();
    let r = isolate::cell(
        "a_forkbomb_is_killed_with_the_check",
        "forkbomb",
        move || {
            let (key, value) = env.split_once('=').expect("KEY=value");
            let bomb = "f() { if [ \"$1\" -gt 0 ]; then f $(($1 - 1)) & f $(($1 - 1)) & fi; \
                    exec sleep 300; }; f 6";
            let root = std::process::Command::new("sh")
                .args(["-c", bomb])
                .env(key, value)
                .spawn()
                .expect("sh starts");
            // Never waited for: ending it is the harness's job.
            std::mem::forget(root);
            // Fail once the tree has grown (the pool's map would fail or hang here).
            while bomb_processes(&env).len() < 64 {
                std::thread::yield_now();
            }
            panic!("the pool lost a task");
        },
    );
    let (found, _) = r.expect_err("the check fails");
    assert!(
        found.violation.seen.contains("the pool lost a task"),
        "the verdict quotes the failure: {:?}",
        found.violation
    );
    // Killed with the cell's process group; init reaps them shortly after.
    let gone = (0..500).any(|_| {
        let left = bomb_processes(&marker);
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
        left.is_empty()
    });
    assert!(
        gone,
        "processes of the fork bomb are still running: {:?}",
        bomb_processes(&marker)
    );
}

/// The live (not zombie) processes whose environment holds `marker`.
fn bomb_processes(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            !stat.is_empty()
                && !stat.contains(") Z ")
                && environ
                    .split(|&b| b == 0)
                    .any(|var| var == marker.as_bytes())
        })
        .collect()
}

/// A process Queue whose `get` aborts the process it runs in: the consumers are child
/// processes, so a child crashes in the middle of a check.
#[derive(Debug)]
struct AbortingGet(racecourse_impl::process::process_queue::PipeQueue);

impl racecourse_spec::process_queue::ProcessQueue for AbortingGet {
    type Child<R: racecourse_spec::job::Wire> =
        racecourse_impl::process::process_queue::QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, racecourse_spec::process_queue::QueueError> {
        racecourse_spec::process_queue::ProcessQueue::new(capacity).map(AbortingGet)
    }

    fn spawn<A: racecourse_spec::job::Wire, R: racecourse_spec::job::Wire>(
        &self,
        job: &'static racecourse_spec::job::Job<
            (racecourse_spec::process_queue::QueueHandle, A),
            R,
        >,
        arg: A,
    ) -> Result<Self::Child<R>, racecourse_spec::process_queue::QueueError> {
        self.0.spawn(job, arg)
    }

    fn open(
        handle: racecourse_spec::process_queue::QueueHandle,
    ) -> Result<Self, racecourse_spec::process_queue::QueueError> {
        racecourse_spec::process_queue::ProcessQueue::open(handle).map(AbortingGet)
    }

    fn put(&self, item: &[u8]) -> Result<(), racecourse_spec::process_queue::QueueError> {
        self.0.put(item)
    }

    fn get(&self) -> Result<Vec<u8>, racecourse_spec::process_queue::QueueError> {
        std::process::abort()
    }
}

racecourse::__register_process_queue!(static ABORTING_GET: AbortingGet);

#[test]
fn a_child_process_that_crashes_is_named_in_the_verdict() {
    let r = isolate::cell(
        "a_child_process_that_crashes_is_named_in_the_verdict",
        "aborting_get",
        || {
            racecourse::process_queue::check(
                &ABORTING_GET,
                racecourse::process_queue::Property::ExactlyOnce,
            )
        },
    );
    let seen = seen(r);
    assert!(
        seen.contains("crashed") && seen.contains("SIGABRT"),
        "the verdict names the crash, not its consequence: {seen}"
    );
}
