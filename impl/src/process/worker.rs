//! The **spawn** start method: run a registered task in a fresh execution of the
//! current binary.
//!
//! A task is a named function `fn(&[u8]) -> Result<Vec<u8>, String>` declared with
//! [`register_task!`](crate::register_task). [`spawn`] re-executes the running binary
//! with the task's name in [`TASK_VAR`]; in the new process an ELF constructor of this
//! module (`ENTRY`) sees the variable before `main` (before libtest's harness, in a
//! test binary), runs the task and leaves with `_exit`, so the test harness never
//! starts in a worker. Arguments go in on the child's stdin; the result comes back as
//! JSON in a result file of its own (stdout and stderr belong to the student's code and
//! are only captured).
//!
//! ```
//! use std::time::Duration;
//! use racecourse_impl::process::worker;
//!
//! fn shout(args: &[u8]) -> Result<Vec<u8>, String> {
//!     Ok(args.to_ascii_uppercase())
//! }
//! racecourse_impl::register_task!(static SHOUT = shout);
//!
//! # fn main() {
//! let result = worker::run(&SHOUT, b"hi", Duration::from_secs(10)).unwrap();
//! assert_eq!(result, b"HI");
//! # }
//! ```
//!
//! # The registry, and why constructors
//! Each `register_task!` emits a `static Task` and a constructor in
//! `.init_array.00500` that pushes it onto an intrusive lock-free list ([`tasks`]);
//! the worker entry sits in plain `.init_array`. Every ELF linker (GNU ld, gold, lld,
//! mold) places the numbered `.init_array.N` sections, sorted by N, before the
//! unnumbered ones (this is how C's `constructor(priority)` works; std itself puts
//! its argv capture in `.init_array.00099`), so all registrations have run when the
//! entry looks a task up: the constructor order problem is solved by the linker, not
//! by link order. No proc macro and no dependency are needed.
//!
//! A distributed slice (`linkme`) was the alternative. It needs no runtime step, but
//! its elements live in sections that are only kept through `__start_`/`__stop_`
//! references, which lld garbage-collects by default (`-z start-stop-gc`), and slice
//! elements in a dependency crate whose object file nothing references are silently
//! dropped (rust-lang/rust#47384, linkme#31, linkme#36): exactly the case of a suite
//! crate registering workers for a test binary.
//!
//! # Linking
//! An object file of an rlib is only linked if something refers to it, and a
//! constructor is referred to by nothing. So [`spawn`] takes the task by reference
//! (`&'static Task`, not a name) and touches both `ENTRY` and the task's own
//! registration constructor through `std::hint::black_box`: any binary that can spawn
//! a task also contains the worker entry and that task's registration.
//!
//! # The result channel, and why not an inherited fd
//! The parent makes a memfd (close-on-exec) per worker and passes its path,
//! `/proc/<parent pid>/fd/<fd>`, in [`RESULT_VAR`]; the worker opens it (a new open of
//! the same file), writes its report and exits; the parent reads the file once the
//! worker is dead. So a worker inherits no fd but stdin, stdout and stderr, and no
//! reader thread is needed. Handing a pipe over instead needs a `pre_exec` hook (to
//! clear close-on-exec in the child only), and any `pre_exec` makes std start the
//! child with `fork` instead of `posix_spawn`. Measured here: `fork` copies the page
//! tables of the parent, so a spawn round trip went from 1.3 ms to 4 ms once the test
//! process had grown (after one panic under `RUST_BACKTRACE=1` loaded the debug info),
//! while `posix_spawn` stays near 1 ms whatever the parent's size. Opening by path has
//! the same conditions as a [`SharedMemory`](super::shm::SharedMemory) token: the
//! parent is alive (it is waiting) and of the same user.
//!
//! # The worker side
//! Before running the task the entry ignores `SIGPIPE` (as std's `main` does), opens
//! the result file, and removes [`TASK_VAR`] and [`RESULT_VAR`] from its environment
//! (a task may spawn workers of its own; [`PARENT_VAR`] stays, inherited by anything
//! the task starts, as a marker). The task runs under `catch_unwind`; its return value
//! or panic message is written to the result file; then stdout is flushed and the
//! process leaves with `_exit(0)`, running no `atexit` handler or destructor that
//! another thread of student code could block. Std's `main`-only setup (the
//! stack-overflow handler, naming the main thread) has not run in a worker: a stack
//! overflow there is a plain `SIGSEGV`. In a binary built with `panic = "abort"` a
//! panicking task is reported as crashed by `SIGABRT` (its message is on stderr).

use std::any::Any;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::panic::{self, AssertUnwindSafe};
use std::process::Command;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::child::{Captured, ChildStatus, SpawnOptions, Supervised, DEFAULT_CAPTURE_LIMIT};
use super::TaskError;

/// Names the task a worker process runs; set only in workers.
pub const TASK_VAR: &str = "RACECOURSE_WORKER";
/// The path of the file a worker writes its result to (`/proc/<pid>/fd/<fd>`).
pub const RESULT_VAR: &str = "RACECOURSE_RESULT";
/// The pid of the process that spawned the worker: a marker to find leftovers by.
pub const PARENT_VAR: &str = "RACECOURSE_PARENT";

/// Results larger than this are refused (a task returning megabytes is a bug).
const MAX_RESULT: u64 = 64 * 1024 * 1024;

/// The exit code of a worker that could not open its result file (it says why on
/// stderr).
const EXIT_NO_RESULT_FILE: i32 = 121;

/// The signature of a task: arguments in, result or error message out.
pub type TaskFn = fn(&[u8]) -> Result<Vec<u8>, String>;

/// A task registered by [`register_task!`](crate::register_task), runnable in a
/// worker process by [`spawn`].
pub struct Task {
    /// Unique in the binary: the module path and the static's name.
    name: &'static str,
    run: TaskFn,
    /// This task's registration constructor; referenced so that whoever links the
    /// task links the registration too.
    registration: &'static extern "C" fn(),
    /// Set by the first registration; guards the list against a double push.
    registered: AtomicBool,
    /// The next task in the registry list.
    next: AtomicPtr<Task>,
}

impl Task {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        run: TaskFn,
        registration: &'static extern "C" fn(),
    ) -> Self {
        Self {
            name,
            run,
            registration,
            registered: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The task's name: the module path of the static that declared it and its name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the task here, on `args` (what a worker does with it).
    pub(crate) fn run_here(&self, args: &[u8]) -> Result<Vec<u8>, String> {
        (self.run)(args)
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

/// Declares a task that [`worker::spawn`](crate::process::worker::spawn) can run in
/// a worker process.
///
/// `register_task!(pub static NAME = function);` declares `static NAME: Task` running
/// `function: fn(&[u8]) -> Result<Vec<u8>, String>`, named
/// `concat!(module_path!(), "::NAME")`, and registers it before `main` by an ELF
/// constructor. Use it in the binary that spawns (a test file) or in any crate that
/// binary links; see the [`worker`](crate::process::worker) module for how it works.
#[macro_export]
macro_rules! register_task {
    ($(#[$attr:meta])* $vis:vis static $name:ident = $run:expr $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::process::worker::Task = $crate::process::worker::Task::__new(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
            $run,
            $crate::__task_registration!(&$name),
        );
    };
}

/// The registration constructor of a task, as a `&'static extern "C" fn()` for
/// [`Task::__new`]; `$task` is a `&'static Task` expression.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_registration {
    ($task:expr) => {{
        extern "C" fn register() {
            $crate::process::worker::__register($task);
        }
        // SAFETY: a function in `.init_array.00500` is called once by the loader
        // before `main`, with (argc, argv, envp), which an `extern "C" fn()` may
        // ignore; `register` only pushes a static onto an atomic list. The number
        // orders it before the worker entry, which is in plain `.init_array`.
        #[used]
        #[unsafe(link_section = ".init_array.00500")]
        static REGISTER: extern "C" fn() = register;
        &REGISTER
    }};
}

/// Head of the registry: an intrusive list of `&'static Task`, pushed to by the
/// registration constructors, read by the worker entry and by [`spawn`].
static TASKS: AtomicPtr<Task> = AtomicPtr::new(ptr::null_mut());

#[doc(hidden)]
pub fn __register(task: &'static Task) {
    if task.registered.swap(true, Ordering::AcqRel) {
        return;
    }
    let new = task as *const Task as *mut Task;
    let mut head = TASKS.load(Ordering::Acquire);
    loop {
        task.next.store(head, Ordering::Relaxed);
        match TASKS.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(current) => head = current,
        }
    }
}

/// Every task registered in this binary.
pub fn tasks() -> impl Iterator<Item = &'static Task> {
    let mut next = TASKS.load(Ordering::Acquire);
    std::iter::from_fn(move || {
        // SAFETY: the list only ever holds pointers made from `&'static Task` by
        // `__register`, and nodes are never removed.
        let task: &'static Task = unsafe { next.as_ref()? };
        next = task.next.load(Ordering::Acquire);
        Some(task)
    })
}

/// The registered task named `name`.
pub fn lookup(name: &str) -> Option<&'static Task> {
    tasks().find(|t| t.name == name)
}

// SAFETY: the loader calls functions in `.init_array` once, before `main`, with
// (argc, argv, envp), which an `extern "C" fn()` may ignore. Being unnumbered, it runs
// after every numbered `.init_array.N` entry, so after all task registrations.
#[used]
#[unsafe(link_section = ".init_array")]
static ENTRY: extern "C" fn() = entry;

/// The worker entry: returns at once unless this process is a worker.
extern "C" fn entry() {
    if let Some(replies) = std::env::var_os(super::serve::SERVE_VAR) {
        super::serve::serve_main(replies)
    }
    let Some(name) = std::env::var_os(TASK_VAR) else {
        return;
    };
    // Without a result file this is not a worker we spawned, just a stray variable in
    // someone's environment: carry on as a normal program.
    let Some(result) = std::env::var_os(RESULT_VAR) else {
        return;
    };
    worker_main(name, result)
}

/// The worker entry, for whoever starts workers: touching it makes the linker keep
/// it (see "Linking" in the module docs).
pub(crate) fn entry_anchor() -> &'static extern "C" fn() {
    &ENTRY
}

/// What a worker reports in its result file.
#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Returned(Vec<u8>),
    Failed(String),
    Panicked(String),
    UnknownTask(String),
}

fn worker_main(name: OsString, result: OsString) -> ! {
    // SAFETY: setting a disposition to SIG_IGN installs no handler; std's `main` does
    // the same, so student code sees EPIPE rather than dying of SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if let Some(parent) = std::env::var(PARENT_VAR).ok().and_then(|p| p.parse().ok()) {
        die_with_parent(parent);
    }
    // std opens files close-on-exec: the task's own children do not inherit it.
    let mut out = match std::fs::OpenOptions::new().write(true).open(&result) {
        Ok(file) => file,
        Err(e) => {
            eprintln!(
                "racecourse worker: cannot open the result file {}: {e}",
                result.to_string_lossy()
            );
            // SAFETY: `_exit` only ends the process.
            unsafe { libc::_exit(EXIT_NO_RESULT_FILE) }
        }
    };
    for var in [TASK_VAR, RESULT_VAR] {
        let var = CString::new(var).expect("no NUL in the variable names");
        // SAFETY: constructors run before `main` on the only thread there is, so
        // nothing reads the environment concurrently.
        unsafe { libc::unsetenv(var.as_ptr()) };
    }

    let mut args = Vec::new();
    let report = match io::stdin().read_to_end(&mut args) {
        Err(e) => Report::Failed(format!("reading the arguments from stdin: {e}")),
        Ok(_) => {
            let name = name.to_string_lossy();
            match lookup(&name) {
                None => Report::UnknownTask(name.into_owned()),
                Some(task) => match panic::catch_unwind(AssertUnwindSafe(|| (task.run)(&args))) {
                    Ok(Ok(result)) => Report::Returned(result),
                    Ok(Err(message)) => Report::Failed(message),
                    Err(payload) => Report::Panicked(panic_message(&*payload)),
                },
            }
        }
    };
    // One write: serde_json writes a byte array number by number, and the file is
    // unbuffered (a megabyte result was 50,000 system calls).
    let code = match serde_json::to_vec(&report).map(|bytes| out.write_all(&bytes)) {
        Ok(Ok(())) => 0,
        _ => 3,
    };
    drop(out);
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: `_exit` ends the process without running atexit handlers or
    // destructors, which threads left behind by the task could otherwise block.
    unsafe { libc::_exit(code) }
}

/// Asks the kernel to kill this process (`SIGKILL`) when the thread that spawned it
/// ends, and leaves at once if `parent` is no longer this process's parent.
///
/// A worker lives in its own process group, so a supervisor that kills its own
/// group cannot reach it; if the spawning process is itself killed (by a
/// supervisor's deadline, say), nothing else would stop a worker that waits forever.
/// The kernel ties the signal to the spawning *thread*: a worker must be spawned by a
/// thread that outlives it (every spawner here waits for its workers on the thread
/// that spawned them).
pub fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        // The parent died before the request above: nobody will read our result.
        // SAFETY: `_exit` only ends the process.
        unsafe { libc::_exit(EXIT_ORPHANED) }
    }
}

/// The exit code of a process whose parent died before it started.
const EXIT_ORPHANED: i32 = 122;

/// The message of a panic payload (`&str` or `String`, as `panic!` makes them).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic payload that is not a string".to_owned()
    }
}

/// Options for [`spawn_with`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    capture_limit: usize,
    env: Vec<(String, String)>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            env: Vec::new(),
        }
    }
}

impl WorkerOptions {
    /// The defaults: [`DEFAULT_CAPTURE_LIMIT`], no extra environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `limit` bytes of each of the worker's stdout and stderr.
    pub fn capture_limit(mut self, limit: usize) -> Self {
        self.capture_limit = limit;
        self
    }

    /// Sets an environment variable in the worker.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A task running in a worker process. Dropping it kills the worker's process group.
#[derive(Debug)]
pub struct Worker {
    task: &'static Task,
    child: Supervised,
    /// The worker's result file (a memfd); read once the worker is dead.
    result: File,
    started: Instant,
}

/// How a worker ended: its result or error, and its output.
#[derive(Debug)]
#[non_exhaustive]
pub struct WorkerOutcome {
    /// What the task returned, or why there is nothing.
    pub result: Result<Vec<u8>, TaskError>,
    /// Head and tail of the worker's stdout.
    pub stdout: Captured,
    /// Head and tail of the worker's stderr.
    pub stderr: Captured,
    /// From spawn until the worker's exit was seen.
    pub elapsed: Duration,
}

/// Starts `task` with `args` in a new worker process (see the module docs).
pub fn spawn(task: &'static Task, args: &[u8]) -> Result<Worker, TaskError> {
    spawn_with(task, args, WorkerOptions::default())
}

/// [`spawn`] with options.
pub fn spawn_with(
    task: &'static Task,
    args: &[u8],
    options: WorkerOptions,
) -> Result<Worker, TaskError> {
    spawn_passing(task, args, options, &[])
}

/// [`spawn_with`], handing the worker the open files `pass` under the same fd numbers
/// (see [`Supervised::spawn_passing`]): how a pipe's end reaches a child. The caller
/// keeps its copies and closes them once this returns.
pub fn spawn_passing(
    task: &'static Task,
    args: &[u8],
    options: WorkerOptions,
    pass: &[std::os::fd::BorrowedFd<'_>],
) -> Result<Worker, TaskError> {
    // Referring to both constructors links them into every binary that spawns.
    std::hint::black_box(&ENTRY);
    std::hint::black_box(task.registration);
    let harness =
        |what: &str, e: Option<io::Error>| TaskError::harness(what, e).with_task(task.name);
    if !lookup(task.name).is_some_and(|t| ptr::eq(t, task)) {
        return Err(harness(
            &format!(
                "task `{}` is not registered in this binary (declare it with register_task!)",
                task.name
            ),
            None,
        ));
    }
    // Only `spawn` sets RESULT_VAR, and a worker's entry removes it: if it is still
    // here, this is a worker whose entry did not run (the program's own `main` is
    // running instead). Refusing keeps that from recursing.
    if std::env::var_os(RESULT_VAR).is_some() {
        return Err(harness(
            "this process was started as a worker but its worker entry did not run",
            None,
        ));
    }
    let result = nix::sys::memfd::memfd_create(
        c"racecourse-result",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| harness("creating the result file", Some(e.into())))?;
    let result_path = format!("/proc/{}/fd/{}", std::process::id(), result.as_raw_fd());

    // `/proc/self/exe` rather than `current_exe()`: it names the running binary even
    // if cargo has rebuilt or deleted the file since.
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(
            std::env::args_os()
                .next()
                .unwrap_or_else(|| "racecourse-worker".into()),
        )
        .env(TASK_VAR, task.name)
        .env(RESULT_VAR, result_path)
        .env(PARENT_VAR, std::process::id().to_string());
    for (key, value) in &options.env {
        command.env(key, value);
    }
    let child = Supervised::spawn_passing(
        &mut command,
        SpawnOptions::new()
            .stdin(args.to_vec())
            .capture_limit(options.capture_limit),
        pass,
    )
    .map_err(|e| harness("spawning the worker process", Some(e)))?;
    Ok(Worker {
        task,
        child,
        result: File::from(result),
        started: Instant::now(),
    })
}

/// Reads a dead worker's result file.
fn read_result(file: &File) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    if len > MAX_RESULT {
        return Err(io::Error::other(format!(
            "the result is {len} bytes, more than the {MAX_RESULT} allowed"
        )));
    }
    let mut bytes = vec![0; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

impl Worker {
    /// The worker's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The task it runs.
    pub fn task(&self) -> &'static Task {
        self.task
    }

    /// Whether the worker process has exited (its result is then ready: [`finish`]
    /// returns at once).
    ///
    /// [`finish`]: Self::finish
    pub fn has_exited(&self) -> bool {
        self.child.has_exited()
    }

    /// Waits at most `deadline` from now for the task's result.
    pub fn wait_deadline(self, deadline: Duration) -> Result<Vec<u8>, TaskError> {
        self.finish(Instant::now() + deadline)
            .result
            .map_err(|e| e.with_deadline(deadline))
    }

    /// Waits until `deadline` for the task's result.
    pub fn wait_until(self, deadline: Instant) -> Result<Vec<u8>, TaskError> {
        self.finish(deadline).result
    }

    /// Waits until `deadline`, then kills the worker's process group (whatever
    /// happened) and returns the result with the captured output.
    pub fn finish(self, deadline: Instant) -> WorkerOutcome {
        let Self {
            task,
            child,
            result,
            started,
        } = self;
        let outcome = child.wait_until(deadline);
        let error = match outcome.status {
            ChildStatus::TimedOut => Err(TaskError::timed_out(
                deadline.saturating_duration_since(started),
            )),
            ChildStatus::Exited(0) => match read_result(&result) {
                Ok(bytes) if bytes.is_empty() => Err(TaskError::crashed(ChildStatus::Exited(0))),
                Ok(bytes) => match serde_json::from_slice::<Report>(&bytes) {
                    Ok(Report::Returned(value)) => Ok(value),
                    Ok(Report::Failed(message)) => Err(TaskError::failed(message)),
                    Ok(Report::Panicked(message)) => Err(TaskError::panicked(message)),
                    Ok(Report::UnknownTask(name)) => Err(TaskError::harness(
                        format!("the worker binary has no task named `{name}`"),
                        None,
                    )),
                    Err(e) => Err(TaskError::harness(
                        "decoding the worker's report",
                        Some(e.into()),
                    )),
                },
                Err(e) => Err(TaskError::harness("reading the worker's report", Some(e))),
            },
            status => Err(TaskError::crashed(status)),
        };
        let result = error.map_err(|e| e.with_task(task.name).with_stderr(outcome.stderr.clone()));
        WorkerOutcome {
            result,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            elapsed: outcome.elapsed,
        }
    }

    /// Kills the worker's process group now.
    pub fn cancel(self) -> TaskError {
        let outcome = self.child.kill();
        TaskError::cancelled()
            .with_task(self.task.name)
            .with_stderr(outcome.stderr)
    }
}

/// Runs `task` with `args` in a worker and waits at most `deadline` for its result.
pub fn run(task: &'static Task, args: &[u8], deadline: Duration) -> Result<Vec<u8>, TaskError> {
    spawn(task, args)?.wait_deadline(deadline)
}

/// [`run`] with arguments and result encoded as JSON.
pub fn run_json<A: Serialize, R: DeserializeOwned>(
    task: &'static Task,
    args: &A,
    deadline: Duration,
) -> Result<R, TaskError> {
    let args = serde_json::to_vec(args)
        .map_err(|e| TaskError::harness("encoding the arguments", Some(e.into())))?;
    let result = run(task, &args, deadline)?;
    serde_json::from_slice(&result)
        .map_err(|e| TaskError::harness("decoding the result", Some(e.into())).with_task(task.name))
}
