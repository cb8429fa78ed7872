//! Drivers that run an exercise's scenario on real processes, for the conformance
//! suites.
//!
//! # E5, shared counter: [`run_shm_counter`]
//! The parent creates the counter, spawns `processes` workers (spawn start method)
//! that each attach by token and increment `increments` times under `with_lock`, waits
//! for all of them under one deadline, and has one more worker attach and read the
//! total (reading in a child keeps a student's `get` that hangs from hanging the
//! harness).
//!
//! A generic function cannot be looked up by name in a re-executed binary, so the
//! worker body [`shm_counter_worker`] is registered once per concrete type, by the
//! binary that runs the scenario (or a crate it links):
//!
//! ```
//! use std::time::Duration;
//! use racecourse_impl::process::driver::{run_shm_counter, ShmCounterScenario};
//! use racecourse_impl::process::shm_counter::RobustLocked;
//!
//! racecourse_impl::register_shm_counter_worker!(static ROBUST: RobustLocked);
//!
//! # fn main() {
//! let scenario = ShmCounterScenario::new(3, 10, Duration::from_secs(10));
//! let outcome = run_shm_counter(&ROBUST, &scenario).unwrap();
//! assert_eq!(outcome.total, 30);
//! assert_eq!(outcome.max_holders, 1);
//! # }
//! ```
//!
//! ## Detecting a missing lock deterministically: the rendezvous
//! A second small shared region (the probe) counts the workers inside the closure
//! passed to `with_lock` (incremented on entry, decremented on exit) and keeps the
//! maximum seen, reported as `max_holders`. Without help, a missing lock shows only
//! when two closures happen to overlap, which a scheduler may never arrange. So, with
//! [`rendezvous`](ShmCounterScenario::rendezvous) on (the default) and two or more
//! processes:
//! 1. every worker but 0 waits (at most [`RENDEZVOUS_WAIT`]) until worker 0 is inside
//!    its first critical section, then announces itself and calls `with_lock`;
//! 2. worker 0, inside its first critical section, waits (at most [`RENDEZVOUS_WAIT`])
//!    for one announcement, then at most [`ENTER_WAIT`] more for a second worker to
//!    enter.
//!
//! With a working lock no one can enter, worker 0 leaves after `ENTER_WAIT` and
//! `max_holders` stays 1. Without one, the announced worker enters within
//! microseconds and `max_holders` is at least 2, in every run. A lock that does not
//! work across processes but blocks (`std::sync::Mutex` in shared memory) leaves the
//! announced worker asleep with no one to wake it: the run times out. A correct run
//! pays `ENTER_WAIT` once.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use racecourse_spec::shm_counter::ShmCounter;
use serde::{Deserialize, Serialize};

use super::shm::SharedMemory;
use super::worker::{self, panic_message, Task, Worker};
use super::{TaskError, TaskErrorKind};

/// The longest the rendezvous waits for the other side to show up.
pub const RENDEZVOUS_WAIT: Duration = Duration::from_secs(5);
/// How long worker 0 holds its first critical section once another worker has
/// announced it is about to lock.
pub const ENTER_WAIT: Duration = Duration::from_millis(250);

/// The shm-counter worker task for counter type `C`; declare one with
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker).
pub struct ShmCounterWorker<C> {
    task: Task,
    _counter: PhantomData<fn() -> C>,
}

impl<C> ShmCounterWorker<C> {
    #[doc(hidden)]
    pub const fn __new(task: Task) -> Self {
        Self {
            task,
            _counter: PhantomData,
        }
    }

    #[doc(hidden)]
    pub fn __task(&'static self) -> &'static Task {
        &self.task
    }

    /// The registered task.
    pub fn task(&'static self) -> &'static Task {
        &self.task
    }
}

impl<C> std::fmt::Debug for ShmCounterWorker<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmCounterWorker")
            .field("task", &self.task.name())
            .finish()
    }
}

/// Declares `static NAME: ShmCounterWorker<Type>`, the worker [`run_shm_counter`]
/// needs to run `Type` in worker processes.
///
/// `register_shm_counter_worker!(pub static NAME: Type);` registers
/// [`shm_counter_worker::<Type>`](crate::process::driver::shm_counter_worker) as a task
/// (see [`register_task!`](crate::register_task)). Invoke it once per type, in the test
/// binary that calls `run_shm_counter` or in a crate it links.
///
/// [`run_shm_counter`]: crate::process::driver::run_shm_counter
#[macro_export]
macro_rules! register_shm_counter_worker {
    ($(#[$attr:meta])* $vis:vis static $name:ident : $ty:ty $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::process::driver::ShmCounterWorker<$ty> =
            $crate::process::driver::ShmCounterWorker::__new(
                $crate::process::worker::Task::__new(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                    $crate::process::driver::shm_counter_worker::<$ty>,
                    $crate::__task_registration!($name.__task()),
                ),
            );
    };
}

/// One run of the shared-counter scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmCounterScenario {
    /// How many worker processes increment.
    pub processes: usize,
    /// How many times each increments.
    pub increments: usize,
    /// For the whole run: workers and the final read.
    pub deadline: Duration,
    /// Whether worker 0 holds its first critical section until another worker tries
    /// to enter (see the module docs).
    pub rendezvous: bool,
}

impl ShmCounterScenario {
    /// `processes` x `increments` under `deadline`, with the rendezvous.
    pub fn new(processes: usize, increments: usize, deadline: Duration) -> Self {
        Self {
            processes,
            increments,
            deadline,
            rendezvous: true,
        }
    }
}

/// What a run of the shared-counter scenario saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmCounterOutcome {
    /// The count read after every worker finished; `processes * increments` if no
    /// update was lost.
    pub total: u64,
    /// The most workers seen inside `with_lock`'s closure at once; 1 under a working
    /// lock.
    pub max_holders: u32,
}

/// What a worker is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    /// Increment `increments` times; worker `index` of the run.
    Increment {
        token: String,
        probe: String,
        index: usize,
        increments: usize,
        rendezvous: bool,
    },
    /// Read the count.
    Read { token: String },
}

/// The probe region: who is inside a critical section, and the rendezvous state.
#[repr(C)]
#[derive(Debug)]
struct Probe {
    /// Workers now inside the closure passed to `with_lock`.
    inside: AtomicU32,
    /// The most ever inside at once.
    max_inside: AtomicU32,
    /// Workers other than 0 that are about to call `with_lock` for the first time.
    announced: AtomicU32,
    /// Worker 0's first critical section: 0 not yet entered, 1 inside, 2 left.
    first: AtomicU32,
}

impl Probe {
    /// # Safety
    /// `shm` must be at least `size_of::<Probe>()` bytes (page-aligned, as every
    /// region is); all-zero bytes are a valid `Probe`.
    unsafe fn of(shm: &SharedMemory) -> &Probe {
        // SAFETY: size and alignment as the caller promises; the fields are atomics,
        // so sharing them with other processes is sound.
        unsafe { &*shm.as_ptr().cast::<Probe>() }
    }

    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until `done()` or `limit` has passed; true if `done()`.
fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
}

fn attach_probe(token: &str) -> Result<SharedMemory, String> {
    let shm = SharedMemory::attach(token).map_err(|e| format!("attaching the probe: {e}"))?;
    if shm.len() < std::mem::size_of::<Probe>() {
        return Err("the probe region is too small".to_owned());
    }
    Ok(shm)
}

/// The worker body of [`run_shm_counter`] for counter type `C`, a task function:
/// register it per type with
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker).
pub fn shm_counter_worker<C: ShmCounter>(args: &[u8]) -> Result<Vec<u8>, String> {
    let job: Job = serde_json::from_slice(args).map_err(|e| format!("bad job: {e}"))?;
    match job {
        Job::Read { token } => {
            let counter = C::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
            let total = counter.get().map_err(|e| format!("get(): {e}"))?;
            serde_json::to_vec(&total).map_err(|e| e.to_string())
        }
        Job::Increment {
            token,
            probe,
            index,
            increments,
            rendezvous,
        } => {
            let counter = C::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
            let probe_shm = attach_probe(&probe)?;
            // SAFETY: `attach_probe` checked the size.
            let probe = unsafe { Probe::of(&probe_shm) };
            if rendezvous && index != 0 {
                wait_for(RENDEZVOUS_WAIT, || probe.first.load(Ordering::SeqCst) != 0);
                probe.announced.fetch_add(1, Ordering::SeqCst);
            }
            for k in 0..increments {
                let hold = rendezvous && index == 0 && k == 0;
                counter
                    .with_lock(|n| {
                        probe.enter();
                        if hold {
                            probe.first.store(1, Ordering::SeqCst);
                            let announced = wait_for(RENDEZVOUS_WAIT, || {
                                probe.announced.load(Ordering::SeqCst) > 0
                            });
                            if announced {
                                wait_for(ENTER_WAIT, || probe.inside.load(Ordering::SeqCst) > 1);
                            }
                        }
                        *n += 1;
                        probe.leave();
                        if hold {
                            probe.first.store(2, Ordering::SeqCst);
                        }
                    })
                    .map_err(|e| format!("with_lock(): {e}"))?;
            }
            Ok(Vec::new())
        }
    }
}

/// Runs `f` (student code, in this process) and turns a panic into a [`TaskError`].
fn guarded<R>(what: &str, f: impl FnOnce() -> std::io::Result<R>) -> Result<R, TaskError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(TaskError::failed(format!("{what}: {e}"))),
        Err(payload) => Err(TaskError::panicked(format!(
            "{what}: {}",
            panic_message(&*payload)
        ))),
    }
}

/// Runs the shared-counter scenario for `C` (see the module docs): `processes`
/// workers each increment `increments` times; returns the total and the most
/// simultaneous holders seen.
///
/// Errors: a worker that fails, panics or crashes gives that error (the first, by
/// worker index, that is not a time-out; the workers after it are cancelled rather
/// than waited for); otherwise a worker still running at the deadline gives
/// [`TaskErrorKind::TimedOut`]. Every worker's process group is killed before this
/// returns, whatever happened.
///
/// `create`, `token` and the counter's `drop` run in this process, under
/// `catch_unwind`: a panic there is reported, not propagated; a `create` that never
/// returns is not guarded against (the token must name a process that outlives the
/// workers, and this one does).
pub fn run_shm_counter<C: ShmCounter>(
    worker: &'static ShmCounterWorker<C>,
    scenario: &ShmCounterScenario,
) -> Result<ShmCounterOutcome, TaskError> {
    let started = Instant::now();
    let deadline = started + scenario.deadline;
    let task = worker.task();
    let owner = QuietDrop(Some(guarded("create()", C::create)?));
    let counter = owner.0.as_ref().expect("just set");
    let token = guarded("token()", || Ok(counter.token()))?;
    let probe_shm = SharedMemory::create(std::mem::size_of::<Probe>())
        .map_err(|e| TaskError::harness("creating the probe region", Some(e)))?;
    // SAFETY: the region was made for a Probe; zero-filled is valid.
    let probe = unsafe { Probe::of(&probe_shm) };

    let mut workers: Vec<Worker> = Vec::with_capacity(scenario.processes);
    for index in 0..scenario.processes {
        let job = Job::Increment {
            token: token.clone(),
            probe: probe_shm.token().to_owned(),
            index,
            increments: scenario.increments,
            // Worker 0 must have a critical section to hold, and someone to wait for.
            rendezvous: scenario.rendezvous && scenario.processes > 1 && scenario.increments > 0,
        };
        let args = serde_json::to_vec(&job).expect("a job always serializes");
        // On error, dropping `workers` kills those already started.
        workers.push(worker::spawn(task, &args)?);
    }

    // Waited for in index order; once one has failed (not timed out), that is the
    // answer, and the rest are killed at once instead of waited for.
    let mut first_error: Option<TaskError> = None;
    for w in workers {
        if first_error
            .as_ref()
            .is_some_and(|e| e.kind() != TaskErrorKind::TimedOut)
        {
            drop(w.cancel());
            continue;
        }
        if let Err(e) = w.wait_until(deadline) {
            let e = e.with_deadline(scenario.deadline);
            if first_error.is_none() || e.kind() != TaskErrorKind::TimedOut {
                first_error = Some(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    let read = serde_json::to_vec(&Job::Read { token }).expect("a job always serializes");
    let bytes = worker::spawn(task, &read)?
        .wait_until(deadline)
        .map_err(|e| e.with_deadline(scenario.deadline))?;
    let total: u64 = serde_json::from_slice(&bytes).map_err(|e| {
        TaskError::harness("decoding the total", Some(e.into())).with_task(task.name())
    })?;
    let max_holders = probe.max_inside.load(Ordering::SeqCst);
    Ok(ShmCounterOutcome { total, max_holders })
}

/// Drops the student's counter under `catch_unwind`, after every worker is gone
/// (locals drop in reverse order, so the workers go first on every path).
struct QuietDrop<C>(Option<C>);

impl<C> Drop for QuietDrop<C> {
    fn drop(&mut self) {
        let counter = self.0.take();
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(counter)));
    }
}
