//! [`TaskError`]: how work in another process (or anything supervised) failed.

use std::fmt;
use std::io;
use std::time::Duration;

use super::child::{Captured, ChildStatus};

/// What kind of failure a [`TaskError`] is.
///
/// Student code fails by returning `Err` or by panicking; a process can also crash
/// (signal, abort, non-zero exit) or hang. The harness adds the two ways it stops work
/// itself (deadline, cancellation) and the case where it could not run the work at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskErrorKind {
    /// The task ran and returned `Err`; [`TaskError::message`] is its message.
    Failed,
    /// The task panicked; [`TaskError::message`] is the panic message.
    Panicked,
    /// The process died without reporting: killed by a signal (segfault, abort ...)
    /// or exited on its own; [`TaskError::status`] says how.
    Crashed,
    /// The deadline passed; the process group was killed.
    TimedOut,
    /// No progress was seen for a whole window (a deadlock, or a waiter nobody
    /// wakes); the processes were killed. Slowness alone never gives this.
    Stalled,
    /// The caller gave up on the task before it finished; the process group was
    /// killed.
    Cancelled,
    /// The harness could not start or talk to the process (an OS error, or a task
    /// that is not registered in this binary). Not the student's fault.
    Harness,
}

/// Work in another process did not produce a result.
///
/// An opaque error: match on [`kind`](Self::kind). Its `Display` is one lower-case
/// line without a full stop ("worker crashed: killed by SIGABRT"); what the process
/// wrote to stderr, if anything, is kept in [`stderr`](Self::stderr) rather than in
/// the message.
#[derive(Debug)]
pub struct TaskError {
    kind: TaskErrorKind,
    /// The task's name, when the error comes from a registered worker task.
    task: Option<&'static str>,
    /// The error or panic message (failed, panicked, harness).
    message: Option<String>,
    /// How the process ended (crashed).
    status: Option<ChildStatus>,
    /// The deadline that passed (timed out), or the window without progress
    /// (stalled).
    deadline: Option<Duration>,
    /// The OS error behind a harness failure.
    source: Option<io::Error>,
    /// What the process wrote to stderr, head and tail.
    stderr: Option<Box<Captured>>,
}

impl TaskError {
    fn new(kind: TaskErrorKind) -> Self {
        Self {
            kind,
            task: None,
            message: None,
            status: None,
            deadline: None,
            source: None,
            stderr: None,
        }
    }

    /// The task returned `Err(message)`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..Self::new(TaskErrorKind::Failed)
        }
    }

    /// The task panicked with `message`.
    pub fn panicked(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..Self::new(TaskErrorKind::Panicked)
        }
    }

    /// The process ended with `status` and no result.
    pub fn crashed(status: ChildStatus) -> Self {
        Self {
            status: Some(status),
            ..Self::new(TaskErrorKind::Crashed)
        }
    }

    /// The task did not finish within `deadline`.
    pub fn timed_out(deadline: Duration) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::new(TaskErrorKind::TimedOut)
        }
    }

    /// Nothing made progress for `window`.
    pub fn stalled(window: Duration) -> Self {
        Self {
            deadline: Some(window),
            ..Self::new(TaskErrorKind::Stalled)
        }
    }

    /// The caller stopped the task.
    pub fn cancelled() -> Self {
        Self::new(TaskErrorKind::Cancelled)
    }

    /// The harness could not run the task: `what` names the step that failed.
    pub fn harness(what: impl Into<String>, source: Option<io::Error>) -> Self {
        Self {
            message: Some(what.into()),
            source,
            ..Self::new(TaskErrorKind::Harness)
        }
    }

    /// Names the task the error comes from.
    pub fn with_task(mut self, task: &'static str) -> Self {
        self.task = Some(task);
        self
    }

    /// States the deadline that passed (for a time-out measured from an earlier
    /// start than the worker's own).
    pub(crate) fn with_deadline(mut self, deadline: Duration) -> Self {
        if self.kind == TaskErrorKind::TimedOut {
            self.deadline = Some(deadline);
        }
        self
    }

    /// Keeps what the process wrote to stderr (empty output is not kept).
    pub fn with_stderr(mut self, stderr: Captured) -> Self {
        if stderr.total_len() > 0 {
            self.stderr = Some(Box::new(stderr));
        }
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TaskErrorKind {
        self.kind
    }

    /// The error message (failed), the panic message (panicked) or the step that
    /// failed (harness).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// How the process ended, for a crash.
    pub fn status(&self) -> Option<ChildStatus> {
        self.status
    }

    /// The registered task this error comes from, if any.
    pub fn task(&self) -> Option<&'static str> {
        self.task
    }

    /// What the process wrote to stderr, if it wrote anything.
    pub fn stderr(&self) -> Option<&Captured> {
        self.stderr.as_deref()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.message.as_deref().unwrap_or("");
        match self.kind {
            TaskErrorKind::Failed => write!(f, "worker failed: {message}"),
            TaskErrorKind::Panicked => write!(f, "worker panicked: {message}"),
            TaskErrorKind::Crashed => match self.status {
                Some(ChildStatus::Exited(0)) => {
                    f.write_str("worker crashed: exited with code 0 without a result")
                }
                Some(status) => write!(f, "worker crashed: {status}"),
                None => f.write_str("worker crashed"),
            },
            TaskErrorKind::TimedOut => match self.deadline {
                Some(deadline) => {
                    let deadline = Duration::from_millis(deadline.as_millis() as u64);
                    write!(f, "worker timed out after {deadline:?}")
                }
                None => f.write_str("worker timed out"),
            },
            TaskErrorKind::Stalled => match self.deadline {
                Some(window) => {
                    let window = Duration::from_millis(window.as_millis() as u64);
                    write!(f, "workers made no progress for {window:?}")
                }
                None => f.write_str("workers made no progress"),
            },
            TaskErrorKind::Cancelled => f.write_str("worker cancelled"),
            TaskErrorKind::Harness => match &self.source {
                Some(source) => write!(f, "could not run worker: {message}: {source}"),
                None => write!(f, "could not run worker: {message}"),
            },
        }
    }
}

/// The OS error of a harness failure is part of the message, so `source` is `None`:
/// a report that walks the chain would print it twice.
impl std::error::Error for TaskError {}
