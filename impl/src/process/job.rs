//! Jobs on the worker protocol: [`job!`](crate::job) declares a typed function that
//! runs in other processes of this binary, and this module turns its arguments and
//! results into the bytes a [`Task`] carries.
//!
//! A job is registered as a worker [`Task`] that runs a *batch*: it gets a list of
//! arguments and returns one outcome per argument, each run under `catch_unwind`, so
//! a panic or an `Err` fails that item only. A one-shot child runs a batch of one; a
//! pool sends batches (chunks) to its workers.
//!
//! # The wire format: postcard
//! Arguments and outcomes are serialized with `postcard`: a compact binary serde
//! format (varint integers, no field names, no padding), with a stable, documented
//! wire format and active maintenance. Both ends are the same binary, so no schema
//! evolution is needed; what matters is the cost per item, which is a few nanoseconds
//! for an integer (a `u64` square takes 1 to 10 bytes). JSON, which the one-shot
//! worker report uses, spells every number out in decimal and is several times
//! larger and slower for a batch of 100 000 integers.
//!
//! ```
//! use std::time::Duration;
//! use racecourse_impl::process::job;
//!
//! fn square(x: u64) -> Result<u64, String> {
//!     Ok(x * x)
//! }
//! racecourse_impl::job!(static SQUARE: fn(u64) -> u64 = square);
//!
//! # fn main() {
//! assert_eq!(job::run_one(&SQUARE, &12, Duration::from_secs(30)), Ok(144));
//! assert_eq!(SQUARE.call(12), Ok(144));
//! # }
//! ```

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use racecourse_spec::job::{Death, Job, JobError, Wire};

use super::child::ChildStatus;
use super::worker::{self, panic_message, Task, Worker};
use super::{TaskError, TaskErrorKind};

/// Declares a [`Job`]: a `static` of type `Job<A, R>` standing for the function
/// `call: fn(A) -> Result<R, String>`, registered so that a worker process of this
/// binary finds it by name.
///
/// ```
/// fn shout(s: String) -> Result<String, String> {
///     Ok(s.to_uppercase())
/// }
/// racecourse_impl::job!(pub static SHOUT: fn(String) -> String = shout);
/// # fn main() {}
/// ```
///
/// The argument and the result must be [`Wire`] types. A job of several arguments
/// takes a tuple (this is what a pool's `starmap` runs).
#[macro_export]
macro_rules! job {
    ($(#[$attr:meta])* $vis:vis static $name:ident : fn($arg:ty) -> $ret:ty = $call:expr $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::__spec::job::Job<$arg, $ret> = {
            fn run(
                batch: &[u8],
            ) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::process::job::run_batch::<$arg, $ret>(batch, $call)
            }
            static TASK: $crate::process::worker::Task = $crate::process::worker::Task::__new(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                run,
                $crate::__task_registration!(&TASK),
            );
            $crate::__spec::job::Job::__new(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                $call,
                &TASK,
            )
        };
    };
}

/// The worker task behind `job`.
///
/// # Panics
/// If the job was not declared with [`job!`](crate::job) (its registration is not a
/// [`Task`]).
pub fn task_of<A, R>(job: &Job<A, R>) -> &'static Task {
    job.__task().downcast_ref::<Task>().unwrap_or_else(|| {
        panic!(
            "job `{}` was not declared with racecourse_impl::job!, so no worker process can find it",
            job.name()
        )
    })
}

/// Serializes a batch of arguments (or anything else) in the wire format.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the wire format of `value` to `out` (a pool serializes a chunk straight
/// into its request this way, with no copy).
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    postcard::serialize_with_flavor(value, Append(out))
        .expect("serializing to a Vec cannot fail for serde types");
}

/// A postcard flavor that appends to a `Vec` a slice at a time.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// What a batch sends back: its values when every item succeeded (the common case,
/// sent without a per-item tag, and decoded as a plain `Vec<R>`), else each item's
/// outcome.
#[derive(Debug, Serialize, Deserialize)]
pub enum Outcomes<R> {
    /// Every item returned `Ok`: the values, in order.
    All(Vec<R>),
    /// At least one item failed: every item's outcome, in order.
    Each(Vec<Result<R, JobError>>),
}

impl<R> Outcomes<R> {
    /// Chooses the compact form when every outcome is `Ok`.
    pub fn new(outcomes: Vec<Result<R, JobError>>) -> Outcomes<R> {
        if outcomes.iter().all(Result::is_ok) {
            Outcomes::All(outcomes.into_iter().filter_map(Result::ok).collect())
        } else {
            Outcomes::Each(outcomes)
        }
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        match self {
            Outcomes::All(values) => values.len(),
            Outcomes::Each(outcomes) => outcomes.len(),
        }
    }

    /// Whether the batch had no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each item's outcome.
    pub fn into_each(self) -> Vec<Result<R, JobError>> {
        match self {
            Outcomes::All(values) => values.into_iter().map(Ok).collect(),
            Outcomes::Each(outcomes) => outcomes,
        }
    }
}

/// Runs `call` on each argument of a serialized batch, each under `catch_unwind`, and
/// serializes the [`Outcomes`]: what a job's worker task does (see
/// [`job!`](crate::job)).
///
/// # Errors
/// If the batch cannot be decoded as a list of `A` (the two ends disagree on the
/// job's types: not possible for a job declared once and called by name).
pub fn run_batch<A: Wire, R: Wire>(
    batch: &[u8],
    call: fn(A) -> Result<R, String>,
) -> Result<Vec<u8>, String> {
    let args: Vec<A> =
        postcard::from_bytes(batch).map_err(|e| format!("decoding the job's arguments: {e}"))?;
    let run = |arg| match panic::catch_unwind(AssertUnwindSafe(|| call(arg))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(JobError::Failed(message)),
        Err(payload) => Err(JobError::Panicked(panic_message(&*payload))),
    };
    let mut values = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match run(arg) {
            Ok(value) => values.push(value),
            Err(error) => {
                // Every item still runs, as it would in a batch of its own.
                let each: Vec<Result<R, JobError>> = values
                    .into_iter()
                    .map(Ok)
                    .chain(std::iter::once(Err(error)))
                    .chain(args.map(run))
                    .collect();
                return Ok(encode(&Outcomes::Each(each)));
            }
        }
    }
    // Room for the values at their in-memory size: most encodings are no larger,
    // so the reply is written without regrowing.
    let mut out = Vec::with_capacity(16 + values.len() * std::mem::size_of::<R>());
    encode_into(&Outcomes::<R>::All(values), &mut out);
    Ok(out)
}

/// Decodes what a job's worker task sent back for a batch.
///
/// # Errors
/// A [`JobError::Lost`] if the bytes are not the outcomes of a batch of `R`.
pub fn decode_batch<R: Wire>(bytes: &[u8]) -> Result<Outcomes<R>, JobError> {
    postcard::from_bytes(bytes)
        .map_err(|e| JobError::Lost(format!("decoding the results sent by a worker: {e}")))
}

/// Decodes the outcomes of a batch returned by a job's worker task, one per item.
///
/// # Errors
/// A [`JobError::Lost`] if the bytes are not a list of outcomes of `R`.
pub fn decode_outcomes<R: Wire>(bytes: &[u8]) -> Result<Vec<Result<R, JobError>>, JobError> {
    decode_batch(bytes).map(Outcomes::into_each)
}

/// Starts one process that runs `job` on `arg` (a batch of one); finish it with
/// [`finish_one`].
///
/// # Errors
/// A [`JobError::Lost`] if the process cannot be started.
pub fn spawn_one<A: Wire, R>(job: &'static Job<A, R>, arg: &A) -> Result<Worker, JobError> {
    worker::spawn(task_of(job), &encode(std::slice::from_ref(arg))).map_err(job_error)
}

/// Waits for a process started by [`spawn_one`] until `deadline` and returns the
/// job's outcome: its result, its `Err` or panic, or how the process died.
pub fn finish_one<R: Wire>(worker: Worker, deadline: Duration) -> Result<R, JobError> {
    let bytes = worker.wait_deadline(deadline).map_err(job_error)?;
    let mut outcomes = decode_outcomes::<R>(&bytes)?;
    match (outcomes.pop(), outcomes.is_empty()) {
        (Some(outcome), true) => outcome,
        _ => Err(JobError::Lost(
            "the worker sent a number of results other than one".into(),
        )),
    }
}

/// Runs `job` on `arg` in a process of its own, waiting at most `deadline`.
pub fn run_one<A: Wire, R: Wire>(
    job: &'static Job<A, R>,
    arg: &A,
    deadline: Duration,
) -> Result<R, JobError> {
    finish_one(spawn_one(job, arg)?, deadline)
}

/// The cause of death in a child's status, if it died.
pub fn death(status: ChildStatus) -> Option<Death> {
    match status {
        ChildStatus::Exited(code) => Some(Death::Exited(code)),
        ChildStatus::Signaled(signal) => Some(Death::Signaled(signal)),
        ChildStatus::TimedOut | ChildStatus::Stalled(_) => None,
    }
}

/// A [`TaskError`] of the worker protocol as the job's outcome.
pub fn job_error(error: TaskError) -> JobError {
    match error.kind() {
        TaskErrorKind::Crashed => match error.status().and_then(death) {
            Some(death) => JobError::Crashed(death),
            None => JobError::Lost(error.to_string()),
        },
        TaskErrorKind::Failed => JobError::Failed(error.message().unwrap_or_default().into()),
        TaskErrorKind::Panicked => JobError::Panicked(error.message().unwrap_or_default().into()),
        TaskErrorKind::TimedOut | TaskErrorKind::Stalled | TaskErrorKind::Cancelled => {
            JobError::Cancelled(error.to_string())
        }
        _ => JobError::Lost(error.to_string()),
    }
}
