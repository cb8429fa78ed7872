//! Jobs: functions that can run in another process, and why such a run fails.
//!
//! A process started by the spawn method is a fresh execution of the same binary: it
//! shares no memory with its parent, so it cannot be handed a closure. What it can be
//! handed is a *name*, and the name of a function registered at compile time means
//! the same function in both processes. A [`Job`] is that: a name, the function it
//! stands for, and the registration that lets a worker process find it (declared with
//! `racecourse_impl::job!`, which also registers it). Arguments and results cross the
//! process boundary serialized, so they are [`Wire`] types.
//!
//! Every process exercise (the pool, CPU-bound work, one process per item) runs jobs;
//! how a run can fail is the same for all of them: [`JobError`].

use std::any::Any;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A type that can cross a process boundary: serialized on one side, deserialized on
/// the other, and sent between threads of either.
pub trait Wire: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Wire for T {}

/// A function that can run in another process of this binary, found there by name.
///
/// Declare one with `racecourse_impl::job!`; the job's [`call`](Self::call) runs the
/// function here, in this process (the sequential oracle of every check), and a pool
/// or a child process runs it over there by name.
pub struct Job<A, R> {
    name: &'static str,
    call: fn(A) -> Result<R, String>,
    task: &'static (dyn Any + Send + Sync),
}

impl<A, R> Job<A, R> {
    /// Used by `racecourse_impl::job!`: `task` is the registration a worker process
    /// looks the job up by.
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        call: fn(A) -> Result<R, String>,
        task: &'static (dyn Any + Send + Sync),
    ) -> Self {
        Self { name, call, task }
    }

    /// The name a worker process finds the job by (its path in the source).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the function here, in the calling process.
    pub fn call(&self, arg: A) -> Result<R, String> {
        (self.call)(arg)
    }

    /// The registration behind the job (a `racecourse_impl::process::worker::Task`).
    #[doc(hidden)]
    pub fn __task(&self) -> &'static (dyn Any + Send + Sync) {
        self.task
    }
}

impl<A, R> fmt::Debug for Job<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job").field("name", &self.name).finish()
    }
}

/// How a process ended without reporting a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Death {
    /// It exited on its own with this code.
    Exited(i32),
    /// It was killed by this signal (`SIGSEGV` is 11, `SIGABRT` 6, `SIGKILL` 9).
    Signaled(i32),
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Death::Exited(code) => write!(f, "exited with code {code}"),
            Death::Signaled(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by {name} (signal {signal})"),
                None => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// The name of the signals a crashing or killed process usually dies of.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Why a job's run gave no result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobError {
    /// The function returned `Err` with this message.
    Failed(String),
    /// The function panicked with this message.
    Panicked(String),
    /// The process running it died before it reported (a segfault, an abort, an
    /// `exit`, a kill).
    Crashed(Death),
    /// The work was given up before it finished: a terminated pool, a timeout.
    Cancelled(String),
    /// The harness could not run it (could not start or talk to a process); not the
    /// job's fault.
    Lost(String),
}

impl JobError {
    /// The cause of death, if the process running the job died.
    pub fn death(&self) -> Option<Death> {
        match self {
            JobError::Crashed(death) => Some(*death),
            _ => None,
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Failed(message) => write!(f, "the job failed: {message}"),
            JobError::Panicked(message) => write!(f, "the job panicked: {message}"),
            JobError::Crashed(death) => {
                write!(f, "the process running the job died: {death}")
            }
            JobError::Cancelled(why) => write!(f, "the job was cancelled: {why}"),
            JobError::Lost(why) => write!(f, "the job could not be run: {why}"),
        }
    }
}

impl std::error::Error for JobError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_happened_in_lower_case() {
        assert_eq!(
            JobError::Crashed(Death::Signaled(11)).to_string(),
            "the process running the job died: killed by SIGSEGV (signal 11)"
        );
        assert_eq!(
            JobError::Crashed(Death::Exited(3)).to_string(),
            "the process running the job died: exited with code 3"
        );
        assert_eq!(
            JobError::Failed("x == 5".into()).to_string(),
            "the job failed: x == 5"
        );
    }
}
