//! Drivers that run an exercise's scenario on real processes, for the conformance
//! suites.
//!
//! # E5, shared counter: [`run_shm_counter`]
//! The parent creates the counter, spawns `processes` workers (spawn start method)
//! that each attach by token and increment `increments` times under `with_lock`, waits
//! for all of them while they make progress, and has one more worker attach and read
//! the total (reading in a child keeps a student's `get` that hangs from hanging the
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
//! ## Slow is not stuck
//! A run has no deadline. Workers count *events* in the probe region (attached,
//! announced, each critical section completed, the victim's last breath); once every
//! worker has started, the parent fails the run only when no event happens for a whole
//! [`stall`] window ([`TaskErrorKind::Stalled`]). A correct counter on a loaded machine
//! is slow and keeps producing events; a lock whose waiters are never woken produces
//! none. Starting is bounded apart ([`startup_limit`]): executing and mapping a fresh
//! test binary can take seconds on a loaded machine, which says nothing about the
//! implementation.
//!
//! ## Detecting a missing lock deterministically: the rendezvous
//! A second small shared region (the probe) counts the workers inside the closure
//! passed to `with_lock` (incremented on entry, decremented on exit) and keeps the
//! maximum seen, reported as `max_holders`. Without help, a missing lock shows only
//! when two closures happen to overlap, which a scheduler may never arrange. So, in a
//! [`Plan::Contend`] run with the rendezvous and two or more processes:
//! 1. every worker but 0 waits until worker 0 is inside its first critical section,
//!    then announces itself (the first to do so leaves its pid) and calls `with_lock`;
//! 2. worker 0, inside its first critical section, waits for an announcement, then for
//!    the announcer to enter too; it stops waiting once [`ENTER_WAIT`] has passed
//!    *and* the announcer has shown that it is held at the lock: asleep (state `S` or
//!    `D` in `/proc`) for a while, or burning CPU time (a spin lock).
//!
//! With a working lock no one can enter, worker 0 leaves once the announcer is seen
//! waiting, and `max_holders` stays 1. Without one, the announcer enters within
//! microseconds of announcing; a scheduler that delays it leaves it *runnable*,
//! neither asleep nor consuming CPU, so worker 0 keeps waiting and `max_holders`
//! reaches 2 in every run, however loaded the machine. A lock that does not work
//! across processes but blocks (`std::sync::Mutex` in shared memory) leaves the
//! announcer asleep with no one to wake it: the run stalls. A correct run pays
//! `ENTER_WAIT` once.
//!
//! ## A holder that dies: [`Plan::DeadHolder`]
//! Worker 0 completes `before` increments, then, inside its next critical section,
//! marks the probe and kills itself with `SIGKILL`, still holding the lock. Worker 1
//! (the recoverer) then takes the lock and holds a critical section that changes
//! nothing, as worker 0 of the rendezvous does, while the other survivors announce
//! themselves and take the lock for a critical section that changes nothing either:
//! a lock that is given up, not held, by the process that recovers it lets a second
//! survivor in. Once every survivor has left that section, the survivors increment
//! one after another. The contract asks that
//! the lock be recovered: the run must finish, no two survivors may be inside at once,
//! and the total must be exactly `before + (processes - 1) * increments`. No survivor
//! changes the count while another may hold a stale copy, so a counter that loses
//! updates under contention (`read_before_lock`) loses none here: this plan judges
//! recovery. A process-shared mutex that is not robust leaves the recoverer asleep
//! forever: the run stalls.
//!
//! [`stall`]: ShmCounterScenario::stall

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use racecourse_spec::shm_counter::ShmCounter;
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::shm::SharedMemory;
use super::worker::{self, panic_message, Task, Worker};
use super::{heartbeat, TaskError, TaskErrorKind};

/// How long worker 0 holds its first critical section, at least, once another
/// worker has announced it is about to lock (see the module docs).
pub const ENTER_WAIT: Duration = Duration::from_millis(250);

/// How long the announcer must be seen asleep, or how much CPU time it must burn,
/// before worker 0 concludes that it is held at the lock.
const HELD_EVIDENCE: Duration = Duration::from_millis(50);

/// How long the workers may take to start (the first event of each) before a run is
/// stalled: six stall windows, and never less than 30 s.
pub fn startup_limit(stall: Duration) -> Duration {
    (stall * 6).max(Duration::from_secs(30))
}

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
    /// The run fails once no worker has made progress for this long (see the module
    /// docs: slow is not stuck).
    pub stall: Duration,
    /// How the workers behave.
    pub plan: Plan,
}

/// How the workers of a [`ShmCounterScenario`] behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// All workers increment at once; with `rendezvous`, worker 0 holds its first
    /// critical section until another worker is inside too or is seen held at the
    /// lock.
    Contend {
        /// Whether to arrange the rendezvous (see the module docs).
        rendezvous: bool,
    },
    /// Worker 0 increments `before` times and dies (`SIGKILL`) inside its next
    /// critical section; the others then increment one after another.
    DeadHolder {
        /// Increments worker 0 completes before it dies.
        before: usize,
    },
}

impl ShmCounterScenario {
    /// `processes` x `increments` all at once, with the rendezvous, failing after
    /// `stall` without progress.
    pub fn new(processes: usize, increments: usize, stall: Duration) -> Self {
        Self {
            processes,
            increments,
            stall,
            plan: Plan::Contend { rendezvous: true },
        }
    }

    /// Worker 0 dies holding the lock after `before` increments; `processes - 1`
    /// survivors then increment `increments` times each.
    pub fn dead_holder(
        processes: usize,
        increments: usize,
        before: usize,
        stall: Duration,
    ) -> Self {
        Self {
            processes,
            increments,
            stall,
            plan: Plan::DeadHolder { before },
        }
    }

    /// The total a correct counter reaches.
    pub fn expected_total(&self) -> u64 {
        match self.plan {
            Plan::Contend { .. } => (self.processes * self.increments) as u64,
            Plan::DeadHolder { before } => {
                (before + self.processes.saturating_sub(1) * self.increments) as u64
            }
        }
    }
}

/// What a run of the shared-counter scenario saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmCounterOutcome {
    /// The count read after every worker finished; [`expected_total`] if no update
    /// was lost.
    ///
    /// [`expected_total`]: ShmCounterScenario::expected_total
    pub total: u64,
    /// The most workers seen inside `with_lock`'s closure at once; 1 under a working
    /// lock.
    pub max_holders: u32,
}

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Role {
    /// Increments.
    Plain,
    /// Worker 0 of the rendezvous: holds its first critical section (module docs).
    Holder,
    /// Another worker of the rendezvous: announces itself once worker 0 is inside.
    Announcer,
    /// Increments `before` times, then dies inside its next critical section.
    Victim { before: usize },
    /// The first survivor: once the victim is dead, takes the lock (recovering it) and
    /// holds a critical section that changes nothing until another survivor is inside
    /// too or is seen held at the lock; then, once the `others` survivors have left
    /// their own probe sections, increments.
    Recoverer { others: u32 },
    /// Another survivor: once the recoverer holds the recovered lock, announces itself
    /// and takes the lock for a critical section that changes nothing; then waits for
    /// `turn` survivors before it to finish, and increments.
    Survivor { turn: u32 },
}

/// What a worker is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    /// Increment `increments` times in `role`.
    Increment {
        token: String,
        probe: String,
        role: Role,
        increments: usize,
    },
    /// Read the count.
    Read { token: String },
}

/// The probe region: who is inside a critical section, the rendezvous, and progress.
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
    /// The pid of the first worker to announce itself.
    announcer: AtomicU32,
    /// The victim is inside its fatal critical section (1) or not yet (0).
    dying: AtomicU32,
    /// Survivors that have finished their increments.
    survived: AtomicU32,
    /// Survivors other than the recoverer that have left their probe section.
    probed: AtomicU32,
    /// Progress: every attach, announcement, completed critical section and death.
    events: AtomicU64,
    /// Workers that have attached (started their work).
    attached: AtomicU32,
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

    fn event(&self) {
        self.events.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits until `done()`; gives up (false) only if the parent is gone, since a worker
/// that nobody waits for must not wait forever. How long is the parent's business:
/// it watches the probe's events and ends a run that stalls.
fn wait_for(done: impl Fn() -> bool) -> bool {
    let parent = std::os::unix::process::parent_id();
    let mut looks = 0u32;
    loop {
        if done() {
            return true;
        }
        looks += 1;
        if looks.is_multiple_of(512) && std::os::unix::process::parent_id() != parent {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// A process's scheduling state and CPU time so far, from `/proc/<pid>/stat`.
fn sched(pid: u32) -> Option<(char, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state (3), .., utime (14), stime (15).
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    Some((state, Duration::from_millis(ticks * 1000 / hz)))
}

/// Worker 0, inside its first critical section, after an announcement: waits until a
/// second worker is inside, or until `ENTER_WAIT` has passed and the announcer is seen
/// held at the lock (asleep for `HELD_EVIDENCE`, or `HELD_EVIDENCE` of CPU time since
/// now), or the announcer is gone.
fn wait_for_entry(probe: &Probe) {
    let start = Instant::now();
    let announcer = probe.announcer.load(Ordering::SeqCst);
    let Some((_, cpu_at_start)) = sched(announcer) else {
        return;
    };
    let asleep_since = std::cell::Cell::new(None::<Instant>);
    wait_for(|| {
        if probe.inside.load(Ordering::SeqCst) > 1 {
            return true;
        }
        let Some((state, cpu)) = sched(announcer) else {
            return true;
        };
        let now = Instant::now();
        let since = if matches!(state, 'S' | 'D') {
            let since = asleep_since.get().unwrap_or(now);
            asleep_since.set(Some(since));
            since
        } else {
            asleep_since.set(None);
            now
        };
        now.duration_since(start) >= ENTER_WAIT
            && (now.duration_since(since) >= HELD_EVIDENCE
                || cpu.saturating_sub(cpu_at_start) >= HELD_EVIDENCE)
    });
}

fn attach_probe(token: &str) -> Result<SharedMemory, String> {
    let shm = SharedMemory::attach(token).map_err(|e| format!("attaching the probe: {e}"))?;
    if shm.len() < std::mem::size_of::<Probe>() {
        return Err("the probe region is too small".to_owned());
    }
    Ok(shm)
}

/// One increment through `with_lock`, counted by the probe.
fn increment<C: ShmCounter>(counter: &C, probe: &Probe) -> Result<(), String> {
    counter
        .with_lock(|n| {
            probe.enter();
            *n += 1;
            probe.leave();
        })
        .map_err(|e| format!("with_lock(): {e}"))?;
    probe.event();
    Ok(())
}

/// The worker body of [`run_shm_counter`] for counter type `C`, a task function:
/// register it per type with
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker).
pub fn shm_counter_worker<C: ShmCounter>(args: &[u8]) -> Result<Vec<u8>, String> {
    let job: Job = serde_json::from_slice(args).map_err(|e| format!("bad job: {e}"))?;
    let (token, probe, role, increments) = match job {
        Job::Read { token } => {
            let counter = C::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
            let total = counter.get().map_err(|e| format!("get(): {e}"))?;
            return serde_json::to_vec(&total).map_err(|e| e.to_string());
        }
        Job::Increment {
            token,
            probe,
            role,
            increments,
        } => (token, probe, role, increments),
    };
    let counter = C::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
    let probe_shm = attach_probe(&probe)?;
    // SAFETY: `attach_probe` checked the size.
    let probe = unsafe { Probe::of(&probe_shm) };
    probe.attached.fetch_add(1, Ordering::SeqCst);
    probe.event();
    let gone = || "the parent went away".to_owned();
    match role {
        Role::Plain => {}
        Role::Announcer => {
            if !wait_for(|| probe.first.load(Ordering::SeqCst) != 0) {
                return Err(gone());
            }
            let _ = probe.announcer.compare_exchange(
                0,
                std::process::id(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            probe.announced.fetch_add(1, Ordering::SeqCst);
            probe.event();
        }
        Role::Holder => {
            counter
                .with_lock(|n| {
                    probe.enter();
                    probe.first.store(1, Ordering::SeqCst);
                    if wait_for(|| probe.announced.load(Ordering::SeqCst) > 0) {
                        wait_for_entry(probe);
                    }
                    *n += 1;
                    probe.leave();
                    probe.first.store(2, Ordering::SeqCst);
                })
                .map_err(|e| format!("with_lock(): {e}"))?;
            probe.event();
            for _ in 1..increments {
                increment(&counter, probe)?;
            }
            return Ok(Vec::new());
        }
        Role::Victim { before } => {
            for _ in 0..before {
                increment(&counter, probe)?;
            }
            counter
                .with_lock(|_| {
                    probe.dying.store(1, Ordering::SeqCst);
                    probe.event();
                    // SAFETY: kill with our own pid and SIGKILL only ends this
                    // process, now, holding the lock: the point of this worker.
                    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                    loop {
                        thread::sleep(Duration::from_secs(1));
                    }
                })
                .map_err(|e| format!("with_lock(): {e}"))?;
            return Err("with_lock returned without running its closure".to_owned());
        }
        Role::Recoverer { others } => {
            if !wait_for(|| probe.dying.load(Ordering::SeqCst) == 1) {
                return Err(gone());
            }
            counter
                .with_lock(|_| {
                    probe.enter();
                    probe.first.store(1, Ordering::SeqCst);
                    if wait_for(|| probe.announced.load(Ordering::SeqCst) > 0) {
                        wait_for_entry(probe);
                    }
                    probe.leave();
                    probe.first.store(2, Ordering::SeqCst);
                })
                .map_err(|e| format!("with_lock() after the holder died: {e}"))?;
            probe.event();
            // Nobody changes the count while a survivor may hold a stale copy of it.
            if !wait_for(|| probe.probed.load(Ordering::SeqCst) == others) {
                return Err(gone());
            }
            for _ in 0..increments {
                increment(&counter, probe)?;
            }
            probe.survived.fetch_add(1, Ordering::SeqCst);
            probe.event();
            return Ok(Vec::new());
        }
        Role::Survivor { turn } => {
            let recovering = wait_for(|| {
                probe.dying.load(Ordering::SeqCst) == 1 && probe.first.load(Ordering::SeqCst) != 0
            });
            if !recovering {
                return Err(gone());
            }
            let _ = probe.announcer.compare_exchange(
                0,
                std::process::id(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            probe.announced.fetch_add(1, Ordering::SeqCst);
            probe.event();
            counter
                .with_lock(|_| {
                    probe.enter();
                    probe.leave();
                })
                .map_err(|e| format!("with_lock() after the holder died: {e}"))?;
            probe.probed.fetch_add(1, Ordering::SeqCst);
            probe.event();
            if !wait_for(|| probe.survived.load(Ordering::SeqCst) == turn) {
                return Err(gone());
            }
            for _ in 0..increments {
                increment(&counter, probe)?;
            }
            probe.survived.fetch_add(1, Ordering::SeqCst);
            probe.event();
            return Ok(Vec::new());
        }
    }
    for _ in 0..increments {
        increment(&counter, probe)?;
    }
    Ok(Vec::new())
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

/// The role of worker `index` in `scenario`.
fn role(scenario: &ShmCounterScenario, index: usize) -> Role {
    match scenario.plan {
        // Worker 0 must have a critical section to hold, and someone to wait for.
        Plan::Contend { rendezvous: true } if scenario.processes > 1 && scenario.increments > 0 => {
            if index == 0 {
                Role::Holder
            } else {
                Role::Announcer
            }
        }
        Plan::Contend { .. } => Role::Plain,
        Plan::DeadHolder { before } if index == 0 => Role::Victim { before },
        Plan::DeadHolder { .. } if index == 1 => Role::Recoverer {
            others: scenario.processes.saturating_sub(2) as u32,
        },
        Plan::DeadHolder { .. } => Role::Survivor {
            turn: index as u32 - 1,
        },
    }
}

/// Whether worker `index` ended as `scenario` expects: the victim of a dead-holder run
/// must die by `SIGKILL`; everyone else must return.
fn judge_exit(
    scenario: &ShmCounterScenario,
    index: usize,
    result: Result<Vec<u8>, TaskError>,
) -> Result<(), TaskError> {
    match (role(scenario, index), result) {
        (Role::Victim { .. }, Err(e))
            if e.kind() == TaskErrorKind::Crashed
                && e.status() == Some(ChildStatus::Signaled(libc::SIGKILL)) =>
        {
            Ok(())
        }
        (Role::Victim { .. }, Ok(_)) => Err(TaskError::failed(
            "worker 0 was to die inside with_lock, but with_lock returned without running its closure",
        )),
        (_, Ok(_)) => Ok(()),
        (_, Err(e)) => Err(e),
    }
}

/// Runs the shared-counter scenario for `C` (see the module docs); returns the total
/// and the most simultaneous holders seen.
///
/// Errors: the first worker (in the order they end) that fails, panics or crashes
/// gives that error, and the others are killed at once; a run in which no worker makes
/// progress for [`stall`](ShmCounterScenario::stall) gives
/// [`TaskErrorKind::Stalled`]. Every worker's process group is killed before this
/// returns, whatever happened. While events happen, this process beats its own
/// [`heartbeat`], so a supervisor watching it sees the progress too.
///
/// `create`, `token` and the counter's `drop` run in this process, under
/// `catch_unwind`: a panic there is reported, not propagated; a `create` that never
/// returns is not guarded against (the token must name a process that outlives the
/// workers, and this one does).
pub fn run_shm_counter<C: ShmCounter>(
    worker: &'static ShmCounterWorker<C>,
    scenario: &ShmCounterScenario,
) -> Result<ShmCounterOutcome, TaskError> {
    let task = worker.task();
    let owner = QuietDrop(Some(guarded("create()", C::create)?));
    let counter = owner.0.as_ref().expect("just set");
    let token = guarded("token()", || Ok(counter.token()))?;
    let probe_shm = SharedMemory::create(std::mem::size_of::<Probe>())
        .map_err(|e| TaskError::harness("creating the probe region", Some(e)))?;
    // SAFETY: the region was made for a Probe; zero-filled is valid.
    let probe = unsafe { Probe::of(&probe_shm) };

    let mut workers: Vec<Option<Worker>> = Vec::with_capacity(scenario.processes);
    for index in 0..scenario.processes {
        let job = Job::Increment {
            token: token.clone(),
            probe: probe_shm.token().to_owned(),
            role: role(scenario, index),
            increments: scenario.increments,
        };
        let args = serde_json::to_vec(&job).expect("a job always serializes");
        // On error, dropping `workers` kills those already started.
        workers.push(Some(worker::spawn(task, &args)?));
    }

    // Watch every worker until all have ended, the first unexpected end (the others
    // are then killed by dropping them), or a stall. Starting is not judged by the
    // stall window: on a loaded machine a fresh process can take seconds to be executed
    // and mapped before it produces its first event, and that is the harness's
    // slowness, not the implementation's. Until every worker has attached, the run is
    // only bounded by `startup`, and this process beats its heartbeat meanwhile.
    let startup = startup_limit(scenario.stall);
    let spawned_at = Instant::now();
    let mut events = probe.events.load(Ordering::SeqCst);
    let mut moved_at = Instant::now();
    while workers.iter().any(Option::is_some) {
        for (index, slot) in workers.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(Worker::has_exited) {
                let w = slot.take().expect("checked above");
                judge_exit(scenario, index, w.finish(Instant::now()).result)?;
            }
        }
        let now_events = probe.events.load(Ordering::SeqCst);
        let starting = (probe.attached.load(Ordering::SeqCst) as usize) < scenario.processes;
        if now_events != events {
            events = now_events;
            moved_at = Instant::now();
            heartbeat::beat();
        } else if starting {
            if spawned_at.elapsed() >= startup {
                return Err(TaskError::stalled(startup).with_task(task.name()));
            }
            heartbeat::beat();
        } else if moved_at.elapsed() >= scenario.stall {
            return Err(TaskError::stalled(scenario.stall).with_task(task.name()));
        }
        thread::sleep(Duration::from_millis(2));
    }

    // The reader's one call is its start-up and its work: bounded like a start-up.
    let read = serde_json::to_vec(&Job::Read { token }).expect("a job always serializes");
    let bytes = worker::spawn(task, &read)?
        .wait_until(Instant::now() + startup)
        .map_err(|e| match e.kind() {
            TaskErrorKind::TimedOut => TaskError::stalled(startup).with_task(task.name()),
            _ => e,
        })?;
    heartbeat::beat();
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
