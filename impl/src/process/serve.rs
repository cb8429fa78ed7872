//! Long-lived workers: a process of this binary that runs one registered [`Task`]
//! after another, for a pool.
//!
//! The one-shot [`worker`](super::worker) protocol starts a process per task. A pool
//! keeps its workers: a [`Server`] is started once (spawn start method, like every
//! worker: the binary re-executed, routed before `main` by the same ELF constructor)
//! and then gets requests on its stdin and sends replies on a pipe of its own, one
//! reply per request, in order.
//!
//! ```text
//! parent                                   server (same binary, fresh exec)
//! pipe R/W (close-on-exec)
//! posix_spawn /proc/self/exe, own group
//!   env RACECOURSE_SERVE=/proc/<ppid>/fd/<W>
//!       RACECOURSE_PARENT=<ppid>           ENTRY: SERVE set?
//!   stdin: requests                          PR_SET_PDEATHSIG; parent still there?
//!                                            open W by path (O_WRONLY)
//! request: u32 name len, name,               loop: read a request (EOF: _exit(0))
//!          u32 batch len, batch                    run the task, catch_unwind
//! reply:   u8 tag, u32 len, bytes   <-------       write one reply
//! poll(R, pidfd): a reply, or death
//! waitpid: exit code or signal
//! ```
//!
//! *A death is never missed and never hangs the parent.* The parent keeps its own
//! write end of the reply pipe (the path must stay valid until the server opened it),
//! so end of file cannot tell it the server died; instead it waits for a reply with
//! `poll` on the pipe *and* the server's pidfd. Data is always taken first: a server
//! that replied and then died is seen to have replied. Once the pidfd is readable
//! and the pipe holds no more data, the server is dead: it is reaped and the cause
//! (exit code or signal) is the error of the request it was running.
//!
//! *Nothing is left behind.* The server is a process group leader; [`Server::kill`]
//! and `Drop` kill the group and reap the leader. The server dies with the *thread*
//! that started it (`PR_SET_PDEATHSIG` is tied to the spawning thread), so a pool
//! starts and owns each server on one thread for the server's whole life.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::panic::{self, AssertUnwindSafe};
use std::process::{Child, ChildStdin, Command, Stdio};

use racecourse_spec::job::Death;

use super::child::pidfd_open;
use super::worker::{self, die_with_parent, lookup, panic_message, Task, PARENT_VAR};

/// Names the reply pipe of a server (`/proc/<parent>/fd/<fd>`); its presence routes
/// the process to [`serve_main`] before `main`.
pub const SERVE_VAR: &str = "RACECOURSE_SERVE";

/// Replies larger than this are refused (a runaway result must not exhaust the
/// parent's memory).
const MAX_FRAME: usize = 256 * 1024 * 1024;

const TAG_RETURNED: u8 = 0;
const TAG_FAILED: u8 = 1;
const TAG_PANICKED: u8 = 2;
const TAG_UNKNOWN_TASK: u8 = 3;

/// What a server answered to a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The task returned these bytes.
    Returned(Vec<u8>),
    /// The task returned `Err` with this message.
    Failed(String),
    /// The task panicked with this message (a job's batch catches its own panics:
    /// this is a panic outside them).
    Panicked(String),
}

/// Why a request got no reply.
#[derive(Debug)]
pub enum ServeError {
    /// The server died; it has been reaped.
    Died(Death),
    /// The parent could not talk to the server (an OS error, or a garbled reply).
    Io(io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Died(death) => write!(f, "the worker process died: {death}"),
            ServeError::Io(e) => write!(f, "talking to the worker process: {e}"),
        }
    }
}

/// A long-lived worker process (see the module docs).
#[derive(Debug)]
pub struct Server {
    child: Child,
    requests: Option<ChildStdin>,
    replies: File,
    /// The parent's write end of the reply pipe: keeps the server's path valid.
    _reply_end: OwnedFd,
    pidfd: OwnedFd,
    reaped: Option<Death>,
    /// The request being written, kept to be reused.
    request: Vec<u8>,
}

impl Server {
    /// Starts a server process. Start it on the thread that will own it until it ends
    /// (see the module docs).
    pub fn start() -> io::Result<Server> {
        std::hint::black_box(worker::entry_anchor());
        let (replies, reply_end) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
        let path = format!("/proc/{}/fd/{}", std::process::id(), reply_end.as_raw_fd());
        let mut command = Command::new("/proc/self/exe");
        command
            .arg0(
                std::env::args_os()
                    .next()
                    .unwrap_or_else(|| "racecourse-server".into()),
            )
            .env(SERVE_VAR, path)
            .env(PARENT_VAR, std::process::id().to_string())
            .stdin(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn()?;
        let Some(pidfd) = pidfd_open(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(
                "this kernel has no pidfd_open (Linux 5.3 or later is needed)",
            ));
        };
        Ok(Server {
            requests: child.stdin.take(),
            child,
            replies: File::from(replies),
            _reply_end: reply_end,
            pidfd,
            reaped: None,
            request: Vec::new(),
        })
    }

    /// The server's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `batch` to `task` in the server and waits for the reply, or for the
    /// server's death.
    pub fn run(&mut self, task: &'static Task, batch: &[u8]) -> Result<Reply, ServeError> {
        self.run_with(task, |out| out.extend_from_slice(batch))
    }

    /// As [`run`](Self::run), with the batch written by `batch` (appending to the
    /// request) instead of copied.
    pub fn run_with(
        &mut self,
        task: &'static Task,
        batch: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Reply, ServeError> {
        if let Some(death) = self.reaped {
            return Err(ServeError::Died(death));
        }
        if let Err(e) = self.send(task.name(), batch) {
            // A server that died makes the write fail (EPIPE): its death is the story.
            return Err(self.death_or(e));
        }
        let mut header = [0u8; 5];
        self.read_exact(&mut header)?;
        let len = u32::from_le_bytes(header[1..5].try_into().expect("four bytes")) as usize;
        if len > MAX_FRAME {
            return Err(ServeError::Io(io::Error::other(format!(
                "the worker sent a reply of {len} bytes, more than the {MAX_FRAME} allowed"
            ))));
        }
        let mut bytes = vec![0; len];
        self.read_exact(&mut bytes)?;
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        match header[0] {
            TAG_RETURNED => Ok(Reply::Returned(bytes)),
            TAG_FAILED => Ok(Reply::Failed(text(bytes))),
            TAG_PANICKED => Ok(Reply::Panicked(text(bytes))),
            TAG_UNKNOWN_TASK => Err(ServeError::Io(io::Error::other(format!(
                "the worker binary has no task named `{}`",
                text(bytes)
            )))),
            tag => Err(ServeError::Io(io::Error::other(format!(
                "the worker sent a reply with the unknown tag {tag}"
            )))),
        }
    }

    /// Writes one request (in one `write` when it fits the pipe).
    fn send(&mut self, name: &str, batch: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let requests = self
            .requests
            .as_mut()
            .ok_or_else(|| io::Error::other("the server's requests were closed"))?;
        let request = &mut self.request;
        request.clear();
        request.extend_from_slice(&(name.len() as u32).to_le_bytes());
        request.extend_from_slice(name.as_bytes());
        let at = request.len();
        request.extend_from_slice(&[0; 4]);
        batch(request);
        let len = request.len() - at - 4;
        if len > MAX_FRAME {
            return Err(io::Error::other(format!(
                "a request of {len} bytes is more than the {MAX_FRAME} allowed: \
                 split the work into smaller items"
            )));
        }
        request[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
        let sent = requests.write_all(request);
        if request.capacity() > 1 << 20 {
            *request = Vec::new(); // do not hold on to a huge buffer
        }
        sent
    }

    /// Reads exactly `buf.len()` reply bytes, watching the server's pidfd.
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), ServeError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        while !buf.is_empty() {
            let (data, dead) = {
                let mut fds = [
                    PollFd::new(self.replies.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(ServeError::Io(e.into())),
                }
                let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), ready(&fds[1]))
            };
            if data {
                match self.replies.read(buf) {
                    Ok(0) => return Err(self.death()),
                    Ok(n) => buf = &mut buf[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ServeError::Io(e)),
                }
            } else if dead {
                return Err(self.death());
            }
        }
        Ok(())
    }

    /// The server is dead (or its pipe closed): reaps it and says how it ended.
    fn death(&mut self) -> ServeError {
        match self.reap() {
            Ok(death) => ServeError::Died(death),
            Err(e) => ServeError::Io(e),
        }
    }

    /// After a failed write: the death if the server is dead, else the error.
    fn death_or(&mut self, error: io::Error) -> ServeError {
        match error.kind() {
            io::ErrorKind::BrokenPipe => self.death(),
            _ => ServeError::Io(error),
        }
    }

    fn record(&mut self, status: std::process::ExitStatus) -> Death {
        let death = match (status.code(), status.signal()) {
            (Some(code), _) => Death::Exited(code),
            (None, Some(signal)) => Death::Signaled(signal),
            (None, None) => Death::Exited(-1),
        };
        self.reaped = Some(death);
        death
    }

    /// Waits for the server to exit, kills what is left of its group while the dead
    /// leader still holds the group id (a zombie's pid cannot be reused), then reaps
    /// it.
    fn reap(&mut self) -> io::Result<Death> {
        if let Some(death) = self.reaped {
            return Ok(death);
        }
        loop {
            // SAFETY: waitid writes only into `info`, a zeroed siginfo_t we own;
            // WNOWAIT leaves the child to be reaped below.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let waited = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.child.id() as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if waited == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        self.kill_group();
        let status = self.child.wait()?;
        Ok(self.record(status))
    }

    /// A pidfd of the server (a duplicate the caller owns): signals sent through it
    /// reach this process and no other, even after its pid is reused.
    pub fn pidfd(&self) -> io::Result<OwnedFd> {
        self.pidfd.try_clone()
    }

    /// Kills what is left of the server's process group (anything its tasks started).
    fn kill_group(&self) {
        // SAFETY: killpg takes plain integers. The group is the server's own (its pid
        // is the group id, `process_group(0)`); it is called while the leader is
        // unreaped or right after reaping it, before anything could reuse the id.
        unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
    }

    /// Kills the server (and its group) now, without waiting for it.
    pub fn kill(&self) {
        if self.reaped.is_none() {
            self.kill_group();
        }
    }

    /// Asks the server to end (end of its requests) and reaps it; a server that is
    /// running a task ends once the task returns.
    pub fn shutdown(mut self) -> io::Result<Death> {
        drop(self.requests.take());
        self.reap()
    }

    /// Kills the server and reaps it.
    pub fn terminate(mut self) -> io::Result<Death> {
        self.kill();
        self.reap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            self.kill_group();
            let _ = self.reap();
        }
    }
}

/// The server's side: runs requests until the end of stdin, then exits.
pub(crate) fn serve_main(replies: OsString) -> ! {
    // SAFETY: as in the one-shot worker: SIG_IGN installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if let Some(parent) = std::env::var(PARENT_VAR).ok().and_then(|p| p.parse().ok()) {
        die_with_parent(parent);
    }
    let mut out = match std::fs::OpenOptions::new().write(true).open(&replies) {
        Ok(file) => file,
        Err(e) => {
            eprintln!(
                "racecourse server: cannot open the reply pipe {}: {e}",
                replies.to_string_lossy()
            );
            // SAFETY: _exit ends the process at once; nothing of ours needs running.
            unsafe { libc::_exit(121) }
        }
    };
    keep_heap();
    let var = CString::new(SERVE_VAR).expect("no NUL in the variable name");
    // SAFETY: constructors run single-threaded; nothing reads the environment at once.
    unsafe { libc::unsetenv(var.as_ptr()) };

    let mut requests = BufReader::with_capacity(64 * 1024, io::stdin().lock());
    let mut last: Option<&'static Task> = None;
    let mut name = Vec::new();
    let mut batch = Vec::new();
    let code = loop {
        match read_request(&mut requests, &mut name, &mut batch) {
            Ok(true) => {}
            Ok(false) => break 0,
            Err(_) => break 3,
        }
        let task = match last.filter(|t| t.name().as_bytes() == name.as_slice()) {
            Some(task) => Some(task),
            None => lookup(&String::from_utf8_lossy(&name)),
        };
        last = task.or(last);
        let (tag, bytes) = match task {
            None => (TAG_UNKNOWN_TASK, name.clone()),
            Some(task) => match panic::catch_unwind(AssertUnwindSafe(|| task.run_here(&batch))) {
                Ok(Ok(bytes)) => (TAG_RETURNED, bytes),
                Ok(Err(message)) => (TAG_FAILED, message.into_bytes()),
                Err(payload) => (TAG_PANICKED, panic_message(&*payload).into_bytes()),
            },
        };
        let mut header = [tag, 0, 0, 0, 0];
        header[1..].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        if write_both(&mut out, &header, &bytes).is_err() {
            break 3;
        }
    };
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}

/// Asks glibc to keep freed memory instead of giving it back to the kernel after
/// every request: a server allocates buffers of the same sizes request after request,
/// and on a VM each fresh page costs a fault and a clear (half the time of a map of
/// small items went there). Up to 64 MiB stays with the process, which is one worker
/// of this binary and ends with its pool.
fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it runs before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Writes `header` then `body` with as few `writev` calls as the pipe allows.
fn write_both(out: &mut File, header: &[u8], body: &[u8]) -> io::Result<()> {
    let mut parts = [io::IoSlice::new(header), io::IoSlice::new(body)];
    let mut parts = &mut parts[..];
    while !parts.is_empty() {
        match out.write_vectored(parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one request into `name` and `batch`; `false` at a clean end of stream.
fn read_request(
    input: &mut impl Read,
    name: &mut Vec<u8>,
    batch: &mut Vec<u8>,
) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    name.resize(u32::from_le_bytes(len) as usize, 0);
    input.read_exact(name)?;
    input.read_exact(&mut len)?;
    let batch_len = u32::from_le_bytes(len) as usize;
    if batch_len > MAX_FRAME {
        return Err(io::Error::other("a request larger than allowed"));
    }
    batch.resize(batch_len, 0);
    input.read_exact(batch)?;
    Ok(true)
}
