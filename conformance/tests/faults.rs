//! Student code that deadlocks, spins, panics or aborts: each must become a failing
//! verdict that names what happened, within its deadline, with nothing left running
//! and the rest of the binary unaffected.

use std::time::{Duration, Instant};

use racecourse::isolate;
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
fn spin_is_killed_at_the_deadline() {
    let start = Instant::now();
    let r = isolate::cell_with_deadline(
        "spin_is_killed_at_the_deadline",
        "spin",
        Duration::from_secs(2),
        || loop {
            std::hint::spin_loop();
        },
    );
    let seen = seen(r);
    assert!(seen.contains("was killed"), "{seen}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the deadline did not stop the spin"
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
