//! Watching threads and processes through `/proc`, for rendezvous that must know
//! whether a thread is blocked (not merely slow) and what a check's children are.
//!
//! Nothing here decides a verdict by time: [`seen_held`] decides *when* a gate opens
//! (once a thread has been seen waiting), and a scheduler that delays the watched
//! thread leaves it runnable, never asleep, so a thread that does not wait is never
//! taken for one that does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a thread must be seen asleep in a row (or burn CPU time, spinning) to
/// count as held.
pub const HELD: Duration = Duration::from_millis(50);

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

/// The state letter and CPU time (user + system) in a `stat` file's text.
fn parse_stat(stat: &str) -> Option<(char, Duration, u32)> {
    // After the parenthesised name: state (field 3), ppid (4), .., utime (14), stime (15).
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((
        state,
        Duration::from_millis(ticks * 1000 / clock_ticks()),
        ppid,
    ))
}

/// The calling thread's kernel thread id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// A thread of this process: its scheduling state and CPU time so far.
pub fn sched(tid: libc::pid_t) -> Option<(char, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    parse_stat(&stat).map(|(state, cpu, _)| (state, cpu))
}

/// Whether process `pid` is idle: gone, exited, or every thread of it asleep
/// (waiting in the kernel, `S`).
pub fn idle(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        parse_stat(&stat).is_none_or(|(state, _, _)| matches!(state, 'S' | 'Z' | 'X'))
    })
}

/// Waits until processes `pids` have all been seen idle ([`idle`]) in three looks in
/// a row, 2 ms apart, or for at most `limit`: evidence that whatever one of them had
/// to hand to another was handled (a reply in a pipe wakes its reader). A process with
/// a thread that never sleeps only costs the wait.
pub fn settle(pids: &[u32], limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    let mut quiet = 0;
    while quiet < 3 && std::time::Instant::now() < deadline {
        if pids.iter().all(|&pid| idle(pid)) {
            quiet += 1;
        } else {
            quiet = 0;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `returned`, or until thread `tid` has been seen held (asleep for
/// [`HELD`] in a row, or [`HELD`] of CPU time burnt); true if it was seen held.
pub fn seen_held(tid: libc::pid_t, returned: &AtomicBool) -> bool {
    let Some((_, cpu_at_start)) = sched(tid) else {
        return false;
    };
    let mut asleep_since = None;
    loop {
        if returned.load(Ordering::SeqCst) {
            return false;
        }
        let Some((state, cpu)) = sched(tid) else {
            return false;
        };
        let now = Instant::now();
        if state == 'S' {
            let since = *asleep_since.get_or_insert(now);
            if now.duration_since(since) >= HELD {
                return true;
            }
        } else {
            asleep_since = None;
        }
        if cpu.saturating_sub(cpu_at_start) >= HELD {
            return true;
        }
        // The pace of the look, not an order of events: the gate opens on what is
        // seen, whenever it is seen.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A child process of this one, as `/proc` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildProc {
    /// Its pid.
    pub pid: u32,
    /// Its state letter (`Z`: exited and not reaped).
    pub state: char,
    /// Its CPU time so far.
    pub cpu: Duration,
}

/// Every child process of this process, alive or not yet reaped (zombies), from a
/// scan of `/proc`.
pub fn children() -> Vec<ChildProc> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (state, cpu, ppid) = parse_stat(&stat)?;
            (ppid == me).then_some(ChildProc { pid, state, cpu })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_state_cpu_and_parent() {
        let line = "42 (a (strange) name) S 7 42 42 0 -1 4194560 1 0 0 0 100 50 0 0 20 0 1 0";
        let (state, cpu, ppid) = parse_stat(line).unwrap();
        assert_eq!((state, ppid), ('S', 7));
        assert_eq!(cpu, Duration::from_millis(150 * 1000 / clock_ticks()));
    }

    #[test]
    fn a_spawned_child_is_seen_until_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(children().iter().any(|c| c.pid == child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children().iter().any(|c| c.pid == child.id()));
    }
}
