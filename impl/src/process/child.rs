//! Supervised child processes: anything that may hang, crash or flood its output runs
//! here.
//!
//! A [`Supervised`] child runs in its own process group with stdin null (or fed from
//! a buffer), and its stdout and stderr drained by two threads into [`Captured`]
//! buffers that keep at most a head and a tail of the output: a child that prints
//! megabytes can fill neither memory nor a CI log. Waiting is bounded
//! ([`Supervised::wait_deadline`]); when the wait ends, in every case, the whole
//! process group is killed with `SIGKILL` and the child is reaped, so nothing the
//! child started is left running. Dropping a `Supervised` does the same.
//!
//! ```
//! use std::process::Command;
//! use std::time::Duration;
//! use racecourse_impl::process::child::{ChildStatus, Supervised};
//!
//! let child = Supervised::spawn(Command::new("sh").args(["-c", "echo hi; exit 3"]))?;
//! let outcome = child.wait_deadline(Duration::from_secs(10));
//! assert_eq!(outcome.status, ChildStatus::Exited(3));
//! assert_eq!(outcome.stdout.to_string_lossy(), "hi\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## File descriptors
//! Everything this module creates is close-on-exec: the pipes (std creates them with
//! `pipe2(O_CLOEXEC)`) and the pidfd (`pidfd_open` sets it). Only the child's own
//! stdin, stdout and stderr are handed over.
//!
//! ## Process groups
//! The group is killed while its leader is still an unreaped zombie, so its id cannot
//! have been reused by an unrelated group. A process that leaves the group on purpose
//! (`setsid`, `setpgid`) escapes the kill; then its output pipes may stay open, and the
//! capture is given up after a short grace period instead of waiting for them.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The default number of bytes kept of each of stdout and stderr: half from the head,
/// half from the tail.
pub const DEFAULT_CAPTURE_LIMIT: usize = 64 * 1024;

/// How long to wait for the output pipes to close once the group is dead; only a
/// process that escaped the group can keep them open this long.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How a supervised child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildStatus {
    /// It exited with this code (`-1`: the status was lost because something else in
    /// this process reaped the child).
    Exited(i32),
    /// It was killed by this signal (not by us: a deadline gives `TimedOut`).
    Signaled(i32),
    /// The deadline passed first; we killed its process group.
    TimedOut,
    /// Its heartbeat did not move for this long; we killed its process group (see
    /// [`Supervised::wait_watching`]).
    Stalled(Duration),
}

impl ChildStatus {
    fn from_exit_status(status: std::process::ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Exited(code),
            (None, Some(signal)) => Self::Signaled(signal),
            (None, None) => Self::Exited(-1),
        }
    }

    /// Whether the child exited with code 0.
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }
}

/// The name of a signal: `SIGSEGV`, `SIGABRT`, or `signal 34` for one without a name.
pub fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(signal) => signal.as_str().to_owned(),
        Err(_) => format!("signal {signal}"),
    }
}

impl fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exited(-1) => f.write_str("exited with an unknown status"),
            Self::Exited(code) => write!(f, "exited with code {code}"),
            Self::Signaled(signal) => write!(f, "killed by {}", signal_name(signal)),
            Self::TimedOut => f.write_str("timed out"),
            Self::Stalled(window) => write!(f, "made no progress for {window:?}"),
        }
    }
}

/// The head and tail of an output stream, and how much was dropped in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes, up to `head_limit`.
    head: Vec<u8>,
    /// The last bytes after the head, up to `tail_limit`.
    tail: Vec<u8>,
    /// Bytes seen after the head that no longer fit the tail.
    dropped: u64,
    head_limit: usize,
    tail_limit: usize,
}

impl Captured {
    /// An empty capture keeping at most `limit` bytes (half head, half tail).
    pub fn new(limit: usize) -> Self {
        let head_limit = limit / 2;
        Self {
            head: Vec::new(),
            tail: Vec::new(),
            dropped: 0,
            head_limit,
            tail_limit: limit - head_limit,
        }
    }

    /// Appends `bytes`, dropping what falls out of the middle.
    pub fn push(&mut self, mut bytes: &[u8]) {
        let room = self.head_limit - self.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.tail_limit {
            self.dropped += (self.tail.len() + bytes.len() - self.tail_limit) as u64;
            self.tail.clear();
            self.tail
                .extend_from_slice(&bytes[bytes.len() - self.tail_limit..]);
        } else {
            self.tail.extend_from_slice(bytes);
            let excess = self.tail.len().saturating_sub(self.tail_limit);
            if excess > 0 {
                self.tail.drain(..excess);
                self.dropped += excess as u64;
            }
        }
    }

    /// The first bytes written.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The last bytes written after the head.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// How many bytes between head and tail were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many bytes were written in all.
    pub fn total_len(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + self.dropped
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.total_len() == 0
    }

    /// The output as text; a marker line says how much was dropped, if anything.
    pub fn to_string_lossy(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[... {} bytes dropped ...]\n", self.dropped));
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        text
    }
}

impl Default for Captured {
    fn default() -> Self {
        Self::new(DEFAULT_CAPTURE_LIMIT)
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// How a supervised child ended, and what it wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChildOutcome {
    /// Exit code, signal, or timed out.
    pub status: ChildStatus,
    /// Head and tail of its stdout.
    pub stdout: Captured,
    /// Head and tail of its stderr.
    pub stderr: Captured,
    /// From spawn until its exit was seen (or the deadline passed).
    pub elapsed: Duration,
}

/// Options for [`Supervised::spawn_with`].
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    stdin: Option<Vec<u8>>,
    capture_limit: usize,
    heartbeat: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            stdin: None,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            heartbeat: false,
        }
    }
}

impl SpawnOptions {
    /// Stdin null, [`DEFAULT_CAPTURE_LIMIT`] bytes kept of each output stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes` to the child's stdin (from a thread), then closes it.
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// Keeps at most `limit` bytes of each of stdout and stderr.
    pub fn capture_limit(mut self, limit: usize) -> Self {
        self.capture_limit = limit;
        self
    }

    /// Gives the child a heartbeat page (see [`heartbeat`](super::heartbeat)), read by
    /// [`Supervised::beats`] and watched by [`Supervised::wait_watching`].
    pub fn heartbeat(mut self) -> Self {
        self.heartbeat = true;
        self
    }
}

/// When [`Supervised::wait_watching`] gives up on a child.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// The child is killed once its heartbeat has not moved for this long
    /// ([`ChildStatus::Stalled`]).
    pub stall: Duration,
    /// The child is killed at this instant whatever it does ([`ChildStatus::TimedOut`]):
    /// a budget, not a judgement of progress.
    pub ceiling: Instant,
}

/// One output pipe being drained by a thread.
#[derive(Debug)]
struct Drain {
    /// Filled by the thread; taken when the child is finished.
    captured: Arc<Mutex<Captured>>,
    /// Disconnects when the thread has seen end of file.
    done: mpsc::Receiver<()>,
}

impl Drain {
    fn start(mut pipe: impl Read + Send + 'static, limit: usize) -> io::Result<Self> {
        let captured = Arc::new(Mutex::new(Captured::new(limit)));
        let (done_tx, done) = mpsc::channel::<()>();
        let sink = Arc::clone(&captured);
        thread::Builder::new()
            .name("racecourse-drain".into())
            .spawn(move || {
                let _done = done_tx;
                let mut buf = vec![0; 64 * 1024];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => sink
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            })?;
        Ok(Self { captured, done })
    }

    /// Waits until `until` for end of file, then takes what was captured.
    fn finish(self, until: Instant) -> Captured {
        let wait = until.saturating_duration_since(Instant::now());
        let _ = self.done.recv_timeout(wait);
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        let limit = captured.head_limit + captured.tail_limit;
        std::mem::replace(&mut *captured, Captured::new(limit))
    }
}

/// A child process in its own process group, killed with its group and reaped when
/// waited for or dropped.
#[derive(Debug)]
pub struct Supervised {
    child: Child,
    /// Readable once the child has exited; `None` if the kernel has no `pidfd_open`.
    pidfd: Option<OwnedFd>,
    started: Instant,
    stdout: Option<Drain>,
    stderr: Option<Drain>,
    /// Set once the child has been reaped: its pid and group id may be reused.
    reaped: bool,
    /// The child's heartbeat page, if it was given one.
    heartbeat: Option<super::heartbeat::Page>,
}

impl Supervised {
    /// Spawns `command` with stdin null and the default capture limit.
    ///
    /// The command's stdin, stdout, stderr and process group are overridden.
    pub fn spawn(command: &mut Command) -> io::Result<Self> {
        Self::spawn_with(command, SpawnOptions::default())
    }

    /// Spawns `command` in a new process group, with stdout and stderr captured.
    pub fn spawn_with(command: &mut Command, options: SpawnOptions) -> io::Result<Self> {
        Self::spawn_passing(command, options, &[])
    }

    /// [`spawn_with`](Self::spawn_with), handing the child the open files `pass` under
    /// the same fd numbers (Python's `pass_fds`): the one deliberate exception to
    /// close-on-exec. The caller keeps its own copies; closing them once this returns
    /// is up to it.
    ///
    /// Passing anything makes std start the child with `fork` rather than
    /// `posix_spawn` (a `pre_exec` hook clears close-on-exec on those fds in the child
    /// only, so no other process this one starts meanwhile inherits them), which costs
    /// the copy of the parent's page tables (see the worker module's docs).
    pub fn spawn_passing(
        command: &mut Command,
        options: SpawnOptions,
        pass: &[BorrowedFd<'_>],
    ) -> io::Result<Self> {
        if !pass.is_empty() {
            let fds: Vec<libc::c_int> = pass.iter().map(AsRawFd::as_raw_fd).collect();
            // SAFETY: the hook runs in the forked child before exec, where only
            // async-signal-safe calls are allowed: it calls fcntl only, on fds the
            // caller holds open (borrowed for this call), and allocates nothing (the
            // list was built before the fork).
            unsafe {
                command.pre_exec(move || {
                    for &fd in &fds {
                        if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        command
            .process_group(0)
            .stdin(if options.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let heartbeat = if options.heartbeat {
            let page = super::heartbeat::Page::new()?;
            command.env(super::heartbeat::HEARTBEAT_VAR, page.token());
            Some(page)
        } else {
            None
        };
        let mut child = command.spawn()?;
        let started = Instant::now();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // From here on, an early return drops `this`, which kills and reaps.
        let mut this = Self {
            pidfd: pidfd_open(child.id()),
            child,
            started,
            stdout: None,
            stderr: None,
            reaped: false,
            heartbeat,
        };
        if let Some(out) = stdout {
            this.stdout = Some(Drain::start(out, options.capture_limit)?);
        }
        if let Some(err) = stderr {
            this.stderr = Some(Drain::start(err, options.capture_limit)?);
        }
        if let (Some(mut pipe), Some(bytes)) = (stdin, options.stdin) {
            // Ends when all is written or the child is gone (EPIPE: SIGPIPE is
            // ignored in Rust programs).
            thread::Builder::new()
                .name("racecourse-stdin".into())
                .spawn(move || {
                    let _ = pipe.write_all(&bytes);
                })?;
        }
        Ok(this)
    }

    /// The child's process id, which is also its process group id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `deadline` from now for the child to exit, then kills its
    /// process group and reaps it.
    pub fn wait_deadline(self, deadline: Duration) -> ChildOutcome {
        self.wait_until(Instant::now() + deadline)
    }

    /// Waits until `deadline` for the child to exit, then kills its process group and
    /// reaps it. Anything the child left running in its group is killed too.
    pub fn wait_until(mut self, deadline: Instant) -> ChildOutcome {
        let exited = self.wait_exit(deadline);
        let elapsed = self.started.elapsed();
        let mut outcome = self.finish(elapsed);
        if !exited {
            outcome.status = ChildStatus::TimedOut;
        }
        outcome
    }

    /// The child's heartbeat so far (see [`heartbeat`](super::heartbeat)); `None`
    /// unless it was spawned with [`SpawnOptions::heartbeat`].
    pub fn beats(&self) -> Option<u64> {
        self.heartbeat.as_ref().map(super::heartbeat::Page::count)
    }

    /// Waits for the child to exit while it makes progress: kills its process group
    /// when its heartbeat has not moved for `watch.stall` ([`ChildStatus::Stalled`]) or
    /// at `watch.ceiling` ([`ChildStatus::TimedOut`]), then reaps it.
    ///
    /// Without a heartbeat page (not spawned with [`SpawnOptions::heartbeat`]) every
    /// look finds no progress, so the child is killed after `watch.stall`.
    pub fn wait_watching(mut self, watch: Watch) -> ChildOutcome {
        /// How often the heartbeat is read.
        const LOOK: Duration = Duration::from_millis(100);
        let mut last = self.beats();
        let mut moved_at = Instant::now();
        let status = loop {
            let now = Instant::now();
            let next = (now + LOOK).min(watch.ceiling);
            if self.wait_exit(next) {
                break None;
            }
            let now = Instant::now();
            let beats = self.beats();
            if beats != last {
                last = beats;
                moved_at = now;
            }
            if now.duration_since(moved_at) >= watch.stall {
                break Some(ChildStatus::Stalled(watch.stall));
            }
            if now >= watch.ceiling {
                break Some(ChildStatus::TimedOut);
            }
        };
        let elapsed = self.started.elapsed();
        let mut outcome = self.finish(elapsed);
        if let Some(status) = status {
            outcome.status = status;
        }
        outcome
    }

    /// Kills the child's process group now and reaps it. The status is what killed
    /// it: `SIGKILL`, unless it had exited already.
    pub fn kill(mut self) -> ChildOutcome {
        let elapsed = self.started.elapsed();
        self.finish(elapsed)
    }

    /// Whether the child has exited (it may still be an unreaped zombie, so its pid
    /// and group stay reserved until this handle reaps it).
    pub fn has_exited(&self) -> bool {
        // SAFETY: an all-zero siginfo_t is a valid value (plain C struct).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t. WNOWAIT leaves the child
        // unreaped, so its pid (and group id) stay reserved for `finish`.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r == -1 {
            // ECHILD: reaped elsewhere; EINTR: look again next round. Treating
            // anything but EINTR as exited keeps the wait bounded.
            return io::Error::last_os_error().kind() != io::ErrorKind::Interrupted;
        }
        // SAFETY: waitid filled `info` (or left it zeroed when nothing changed);
        // si_pid is valid for SIGCHLD information.
        unsafe { info.si_pid() != 0 }
    }

    /// Waits until the child exits (true) or `deadline` passes (false).
    fn wait_exit(&self, deadline: Instant) -> bool {
        let mut nap = Duration::from_micros(200);
        loop {
            if self.has_exited() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let remaining = deadline - now;
            match &self.pidfd {
                Some(pidfd) => {
                    let mut pfd = libc::pollfd {
                        fd: pidfd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // Round up so that a sub-millisecond remainder does not spin.
                    let ms = remaining.as_micros().div_ceil(1000).min(1000) as libc::c_int;
                    // SAFETY: `pfd` is one valid pollfd for the duration of the call.
                    unsafe { libc::poll(&mut pfd, 1, ms) };
                }
                None => {
                    thread::sleep(nap.min(remaining));
                    nap = (nap * 2).min(Duration::from_millis(10));
                }
            }
        }
    }

    /// Kills the group (its leader is dead or alive but not reaped), reaps the
    /// leader and collects the output.
    fn finish(&mut self, elapsed: Duration) -> ChildOutcome {
        let status = self.kill_and_reap();
        let until = Instant::now() + DRAIN_GRACE;
        let stdout = self.stdout.take().map(|d| d.finish(until));
        let stderr = self.stderr.take().map(|d| d.finish(until));
        ChildOutcome {
            status,
            stdout: stdout.unwrap_or_default(),
            stderr: stderr.unwrap_or_default(),
            elapsed,
        }
    }

    fn kill_and_reap(&mut self) -> ChildStatus {
        // The leader is not reaped yet, so the group id still names our group.
        // ESRCH (group already empty) is fine.
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let status = match self.child.wait() {
            Ok(status) => ChildStatus::from_exit_status(status),
            Err(_) => ChildStatus::Exited(-1),
        };
        self.reaped = true;
        status
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_and_reap();
        }
    }
}

/// A pidfd for `pid` (close-on-exec), or `None` where the kernel has none (before
/// Linux 5.3); waiting then polls with short sleeps.
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; it touches
    // no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the syscall returned a new fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_head_and_tail_and_counts_the_rest() {
        let mut c = Captured::new(8);
        c.push(b"abcdef");
        c.push(b"ghijklmnop");
        assert_eq!(c.head(), b"abcd");
        assert_eq!(c.tail(), b"mnop");
        assert_eq!(c.dropped(), 8);
        assert_eq!(c.total_len(), 16);
        assert_eq!(c.to_string_lossy(), "abcd\n[... 8 bytes dropped ...]\nmnop");
        c.push(b"q");
        assert_eq!(c.tail(), b"nopq");
        assert_eq!(c.dropped(), 9);
    }

    #[test]
    fn capture_under_the_limit_is_verbatim() {
        let mut c = Captured::new(8);
        c.push(b"abc");
        c.push(b"def");
        assert_eq!(c.to_string_lossy(), "abcdef");
        assert_eq!(c.dropped(), 0);
    }
}
