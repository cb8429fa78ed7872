//! Drivers that run an exercise's scenario on real processes, for the conformance
//! suites.
//!
//! # E5, shared value and shared array: [`run_shm_counter`], [`run_shm_array`]
//! Both are one driver, [`run_slots`], over [`Slots`]: integer slots under one lock
//! that lives in shared memory (a shared value is one slot). The parent creates the
//! slots, spawns `processes` workers (spawn start method) that each attach by token and
//! make `increments` updates under the lock, waits for all of them while they make
//! progress, and has one more worker attach and read every slot (reading in a child
//! keeps a student's read that hangs from hanging the harness). What an update
//! changes is the scenario's [`Work`]: one slot of the worker's own, slots shared with
//! every other worker, or a transfer between two slots.
//!
//! A generic function cannot be looked up by name in a re-executed binary, so the
//! worker body ([`shm_counter_worker`], [`shm_array_worker`]) is registered once per
//! concrete type, by the binary that runs the scenario (or a crate it links):
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
//! [`stall`] window ([`TaskErrorKind::Stalled`]). A correct implementation on a loaded
//! machine is slow and keeps producing events; a lock whose waiters are never woken
//! produces none. Starting is bounded apart ([`startup_limit`]): executing and mapping
//! a fresh test binary can take seconds on a loaded machine, which says nothing about
//! the implementation.
//!
//! ## Detecting a missing lock deterministically: the rendezvous
//! A second small shared region (the probe) counts the workers inside the closure
//! passed to `with_lock` (incremented on entry, decremented on exit) and keeps the
//! maximum seen, reported as `max_holders`. Without help, a missing lock shows only
//! when two closures happen to overlap, which a scheduler may never arrange. So, in a
//! [`Plan::Contend`] run with the rendezvous and two or more processes:
//! 1. every worker but 0 waits until worker 0 is inside its first critical section,
//!    then announces itself (the first to do so leaves its pid) and calls `with_lock`;
//! 2. worker 0, inside its first critical section, has read the slot it updates but
//!    not yet written it back; it waits for an announcement, then for an announcer to
//!    *complete* a critical section; it stops waiting once [`ENTER_WAIT`] has passed
//!    *and* the announcer has shown that it is held at the lock: asleep (state `S` or
//!    `D` in `/proc`) for a while, or burning CPU time (a spin lock). Then it writes.
//!
//! With a working lock no one can enter, worker 0 leaves once the announcer is seen
//! waiting, and `max_holders` stays 1. Without one, the announcer enters within
//! microseconds of announcing; a scheduler that delays it leaves it *runnable*,
//! neither asleep nor consuming CPU, so worker 0 keeps waiting: `max_holders` reaches
//! 2, and, since every worker's first update is to slot 0 under [`Work::Stride`] (and
//! to the one slot of a counter), worker 0 then writes back a value read before the
//! announcer's update: an update is lost, in every run, however loaded the machine. A
//! lock that does not work across processes but blocks (`std::sync::Mutex` in shared
//! memory) leaves the announcer asleep with no one to wake it: the run stalls. A
//! correct run pays `ENTER_WAIT` once.
//!
//! ## A torn snapshot: [`Plan::Snapshot`]
//! The workers transfer ([`Work::Transfer`]: one slot down by 1, the next up by 1, so
//! every slot's sum stays 0). Worker 0, inside its first transfer, has written the
//! first slot and not the second; worker 1 waits for that, announces itself and calls
//! `snapshot`, and worker 0 waits for the snapshot to return or for worker 1 to be seen
//! held at the lock, as above. A snapshot taken under the lock waits and sees the
//! whole transfer; one that reads without the lock returns at once with the half-done
//! transfer in it (a sum of -1), in every run. Worker 1 then makes its own transfers
//! and takes one more snapshot; every snapshot is returned to the parent.
//!
//! ## A holder that dies: [`Plan::DeadHolder`]
//! Worker 0 completes `before` updates, then, inside its next critical section, marks
//! the probe and kills itself with `SIGKILL`, still holding the lock. Worker 1 (the
//! recoverer) then takes the lock and holds a critical section that changes nothing,
//! as worker 0 of the rendezvous does, while the other survivors announce themselves
//! and take the lock for a critical section that changes nothing either: a lock that
//! is given up, not held, by the process that recovers it lets a second survivor in.
//! Once every survivor has left that section, the survivors update one after another.
//! The contract asks that the lock be recovered: the run must finish, no two survivors
//! may be inside at once, and every slot must hold exactly what the completed updates
//! left. No survivor changes a slot while another may hold a stale copy, so an
//! implementation that loses updates under contention (`read_before_lock`) loses none
//! here: this plan judges recovery. A process-shared mutex that is not robust leaves
//! the recoverer asleep forever: the run stalls.
//!
//! ## E4 across processes: [`run_shm_list`]
//! The shared list's adder, remover and snapshotter as processes, every call stamped
//! from one clock in the probe region (just before the call, just after it returns) and
//! returned to the parent, which adds the final snapshot; the remover holds `with_lock`
//! through the same rendezvous (`hold`), and gates fix what its second remove must
//! return. See [`run_shm_list`] and `README.md` beside this file.
//!
//! [`stall`]: SlotsScenario::stall

use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use racecourse_spec::shm_array::ShmArray;
use racecourse_spec::shm_counter::ShmCounter;
use racecourse_spec::shm_list::{RemovalOrder, ShmList};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::shm::SharedMemory;
use super::worker::{self, panic_message, Task, Worker};
use super::{heartbeat, TaskError, TaskErrorKind};

/// How long worker 0 holds its first critical section, at least, once another
/// worker has announced it is about to lock (see the module docs).
pub const ENTER_WAIT: Duration = Duration::from_millis(250);

/// How long the announcer must be seen asleep before worker 0 concludes that it is
/// held at the lock.
const HELD_ASLEEP: Duration = Duration::from_millis(50);

/// How much CPU time the announcer must burn, measured to the nanosecond, before
/// worker 0 concludes that it spins at the lock. Going from its announcement into a
/// lock that does not exclude takes it microseconds of CPU, so 10 ms is a wide margin;
/// a waiter that spins with `yield_now` gets little CPU while other processes hog the
/// cores (it goes to the back of the queue at every yield), so the margin is also not
/// much wider than needed.
const HELD_CPU: Duration = Duration::from_millis(10);

/// How long the workers may take to start (the first event of each) before a run is
/// stalled: six stall windows, and never less than 30 s.
pub fn startup_limit(stall: Duration) -> Duration {
    (stall * 6).max(Duration::from_secs(30))
}

/// What [`run_slots`] runs: integer slots under one lock in shared memory, as the
/// shared value ([`AsCounter`], one slot) and the shared array ([`AsArray`]) offer them.
pub trait Slots: Sized {
    /// `n` slots at zero in a new shared region.
    fn create(n: usize) -> io::Result<Self>;
    /// Names the region for `attach`.
    fn token(&self) -> String;
    /// Attaches to the slots named by `token`, from any process.
    fn attach(token: &str) -> io::Result<Self>;
    /// Runs `f` on every slot under the cross-process lock.
    fn with_slots<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R>;
    /// The implementation's own copy of every slot (`get`, `snapshot`).
    fn snapshot(&self) -> io::Result<Vec<i64>>;
}

/// A shared value seen as one slot.
#[derive(Debug)]
pub struct AsCounter<C>(C);

impl<C: ShmCounter> Slots for AsCounter<C> {
    fn create(_one: usize) -> io::Result<Self> {
        C::create().map(AsCounter)
    }

    fn token(&self) -> String {
        self.0.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        C::attach(token).map(AsCounter)
    }

    fn with_slots<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        self.0.with_lock(|count| {
            // The counts of a run stay far below i64::MAX.
            let mut slot = [*count as i64];
            let r = f(&mut slot);
            *count = slot[0] as u64;
            r
        })
    }

    fn snapshot(&self) -> io::Result<Vec<i64>> {
        Ok(vec![self.0.get()? as i64])
    }
}

/// A shared array, as it is.
#[derive(Debug)]
pub struct AsArray<A>(A);

impl<A: ShmArray> Slots for AsArray<A> {
    fn create(n: usize) -> io::Result<Self> {
        A::create(n).map(AsArray)
    }

    fn token(&self) -> String {
        self.0.token()
    }

    fn attach(token: &str) -> io::Result<Self> {
        A::attach(token).map(AsArray)
    }

    fn with_slots<R>(&self, f: impl FnOnce(&mut [i64]) -> R) -> io::Result<R> {
        self.0.with_lock(f)
    }

    fn snapshot(&self) -> io::Result<Vec<i64>> {
        self.0.snapshot()
    }
}

/// The worker task [`run_slots`] needs for slots type `S`; declare one with
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker) or
/// [`register_shm_array_worker!`](crate::register_shm_array_worker).
pub struct SlotsWorker<S> {
    task: Task,
    _slots: PhantomData<fn() -> S>,
}

/// The shm-counter worker task for counter type `C`.
pub type ShmCounterWorker<C> = SlotsWorker<AsCounter<C>>;

/// The shm-array worker task for array type `A`.
pub type ShmArrayWorker<A> = SlotsWorker<AsArray<A>>;

impl<S> SlotsWorker<S> {
    #[doc(hidden)]
    pub const fn __new(task: Task) -> Self {
        Self {
            task,
            _slots: PhantomData,
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

impl<S> std::fmt::Debug for SlotsWorker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotsWorker")
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

/// Declares `static NAME: ShmArrayWorker<Type>`, the worker [`run_shm_array`] needs to
/// run `Type` in worker processes; as
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker), for a
/// [`ShmArray`](racecourse_spec::shm_array::ShmArray).
///
/// [`run_shm_array`]: crate::process::driver::run_shm_array
#[macro_export]
macro_rules! register_shm_array_worker {
    ($(#[$attr:meta])* $vis:vis static $name:ident : $ty:ty $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::process::driver::ShmArrayWorker<$ty> =
            $crate::process::driver::ShmArrayWorker::__new(
                $crate::process::worker::Task::__new(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                    $crate::process::driver::shm_array_worker::<$ty>,
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

/// How the workers of a scenario behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// All workers update at once; with `rendezvous`, worker 0 holds its first
    /// critical section until another worker has completed one too or is seen held at
    /// the lock.
    Contend {
        /// Whether to arrange the rendezvous (see the module docs).
        rendezvous: bool,
    },
    /// Worker 0 updates `before` times and dies (`SIGKILL`) inside its next critical
    /// section; the others then update one after another.
    DeadHolder {
        /// Updates worker 0 completes before it dies.
        before: usize,
    },
    /// Worker 1 snapshots while worker 0 is half-way through its first update (see the
    /// module docs); the others update at once.
    Snapshot,
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
        self.slots().expected()[0] as u64
    }

    /// The same run, as slots: one slot, each update adding 1 to it.
    pub fn slots(&self) -> SlotsScenario {
        SlotsScenario {
            processes: self.processes,
            increments: self.increments,
            slots: 1,
            work: Work::Own,
            stall: self.stall,
            plan: self.plan,
        }
    }
}

/// What each update of a [`SlotsScenario`] changes: update `k` of worker `i`, on `n`
/// slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Work {
    /// Adds 1 to slot `i % n`, the worker's own when `n >= processes`.
    Own,
    /// Adds 1 to slot `k * (i + 1) % n`: every worker's first update is to slot 0, and
    /// with `n` a prime above the number of workers each one visits every slot.
    Stride,
    /// Moves 1 from slot `a = k * (i + 1) % n` to slot `(a + 1) % n`: the slots always
    /// sum to 0 between critical sections.
    Transfer,
}

impl Work {
    /// Applies update `k` of worker `worker` to `slots`, calling `pause` half-way:
    /// after reading the slot it increments (and before writing it back), or between
    /// the two writes of a transfer. Reads and writes are volatile, so that they happen
    /// where they are written, around `pause`, whatever the optimiser assumes of
    /// `&mut`.
    fn apply(self, worker: usize, k: usize, slots: &mut [i64], pause: impl FnOnce()) {
        let n = slots.len();
        if n == 0 {
            pause();
            return;
        }
        let read = |slots: &mut [i64], j: usize| {
            // SAFETY: `j < n` (taken modulo `n` below); `&mut slots[j]` is a valid,
            // aligned, exclusive place.
            unsafe { std::ptr::read_volatile(&slots[j]) }
        };
        let write = |slots: &mut [i64], j: usize, v: i64| {
            // SAFETY: as above.
            unsafe { std::ptr::write_volatile(&mut slots[j], v) }
        };
        match self {
            Work::Own | Work::Stride => {
                let j = match self {
                    Work::Own => worker % n,
                    _ => k.wrapping_mul(worker + 1) % n,
                };
                let v = read(slots, j);
                pause();
                write(slots, j, v.wrapping_add(1));
            }
            Work::Transfer => {
                let a = k.wrapping_mul(worker + 1) % n;
                let b = (a + 1) % n;
                let v = read(slots, a);
                write(slots, a, v.wrapping_sub(1));
                pause();
                let v = read(slots, b);
                write(slots, b, v.wrapping_add(1));
            }
        }
    }
}

/// One run of a scenario on slots (a shared value or a shared array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsScenario {
    /// How many worker processes update.
    pub processes: usize,
    /// How many updates each makes.
    pub increments: usize,
    /// How many slots the parent creates.
    pub slots: usize,
    /// What an update changes.
    pub work: Work,
    /// The run fails once no worker has made progress for this long (see the module
    /// docs: slow is not stuck).
    pub stall: Duration,
    /// How the workers behave.
    pub plan: Plan,
}

impl SlotsScenario {
    /// How many updates worker `index` completes.
    fn updates_of(&self, index: usize) -> usize {
        match self.plan {
            Plan::DeadHolder { before } if index == 0 => before,
            _ => self.increments,
        }
    }

    /// What every slot holds after a correct run: the completed updates applied to
    /// zeros (their order does not change the sums).
    pub fn expected(&self) -> Vec<i64> {
        let mut slots = vec![0; self.slots];
        for worker in 0..self.processes {
            for k in 0..self.updates_of(worker) {
                self.work.apply(worker, k, &mut slots, || {});
            }
        }
        slots
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

/// What a run of a [`SlotsScenario`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsOutcome {
    /// Every slot, read after every worker finished (by `snapshot` in a
    /// [`Plan::Snapshot`] run, under `with_lock` otherwise); [`expected`] if no update
    /// was lost.
    ///
    /// [`expected`]: SlotsScenario::expected
    pub slots: Vec<i64>,
    /// The most workers seen inside `with_lock`'s closure at once; 1 under a working
    /// lock.
    pub max_holders: u32,
    /// The snapshots worker 1 took in a [`Plan::Snapshot`] run: the first while
    /// worker 0 was half-way through a transfer, the last after its own transfers.
    pub snapshots: Vec<Vec<i64>>,
}

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Role {
    /// Updates.
    Plain,
    /// Worker 0 of the rendezvous: holds its first critical section (module docs).
    Holder,
    /// Another worker of the rendezvous: announces itself once worker 0 is inside.
    Announcer,
    /// Worker 1 of a snapshot run: once worker 0 is half-way through its first
    /// update, announces itself and snapshots; then updates and snapshots again.
    Snapshotter,
    /// Updates `before` times, then dies inside its next critical section.
    Victim { before: usize },
    /// The first survivor: once the victim is dead, takes the lock (recovering it) and
    /// holds a critical section that changes nothing until another survivor has
    /// completed one too or is seen held at the lock; then, once the `others` survivors
    /// have left their own probe sections, updates.
    Recoverer { others: u32 },
    /// Another survivor: once the recoverer holds the recovered lock, announces itself
    /// and takes the lock for a critical section that changes nothing; then waits for
    /// `turn` survivors before it to finish, and updates.
    Survivor { turn: u32 },
}

/// What a worker is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    /// Make `increments` updates of `work` on `slots` slots, as worker `index`, in
    /// `role`.
    Update {
        token: String,
        probe: String,
        role: Role,
        index: usize,
        slots: usize,
        work: Work,
        increments: usize,
    },
    /// Read every slot (with `snapshot`, or under `with_lock`).
    Read { token: String, snapshot: bool },
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
    /// Worker 0's first critical section: 0 not yet entered, 1 inside, 2 left (and,
    /// in the shared list's run, 3 once its `with_lock` has returned).
    first: AtomicU32,
    /// The pid of the first worker to announce itself.
    announcer: AtomicU32,
    /// The victim is inside its fatal critical section (1) or not yet (0).
    dying: AtomicU32,
    /// Survivors that have finished their updates.
    survived: AtomicU32,
    /// Survivors other than the recoverer that have left their probe section.
    probed: AtomicU32,
    /// Critical sections (and snapshots) that announced workers completed.
    passed: AtomicU32,
    /// Workers that have attached (started their work).
    attached: AtomicU32,
    /// Progress: every attach, announcement, completed critical section and death.
    events: AtomicU64,
    /// The shared list's run: the clock every call is stamped from (one `fetch_add`
    /// just before the call and one just after it returns).
    clock: AtomicU64,
    /// The shared list's run: adds the adder has completed (up to 2; the gate of the
    /// remover's second remove).
    added: AtomicU32,
    /// The shared list's run: 1 once the remover's gated remove has returned.
    removed: AtomicU32,
    /// The shared list's run: 1 if the adder's first add returned while the remover was
    /// inside `with_lock`.
    overlapped: AtomicU32,
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

    /// Records this process as the announcer if it is the first, and counts it.
    fn announce(&self) {
        let _ = self.announcer.compare_exchange(
            0,
            std::process::id(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        self.announced.fetch_add(1, Ordering::SeqCst);
        self.event();
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

/// A process's scheduling state (`R`, `S`, `D`, `Z`..), from `/proc/<pid>/stat`.
fn sched_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command.
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The CPU time process `pid` has used, to the nanosecond (its CPU-time clock).
fn cpu_time(pid: u32) -> Option<Duration> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid place for the clock id.
    if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
        return None;
    }
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid place for the time.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

/// Worker 0 (or the recoverer), inside its critical section, after an announcement:
/// waits until an announced worker has completed a critical section (or a snapshot),
/// or until `ENTER_WAIT` has passed and the announcer is seen held at the lock (asleep
/// for `HELD_ASLEEP`, or `HELD_CPU` of CPU time since now), or the announcer is gone.
///
/// Each time the announcer's CPU time has grown, this counts a probe event: the wait
/// is the driver's, not the implementation's, and a spinning announcer that the
/// scheduler starves (CPU hogs beside it) is slow, not stuck. The wait ends by
/// `HELD_CPU`, so these events cannot hide a stall for longer.
fn wait_for_entry(probe: &Probe) {
    let start = Instant::now();
    let announcer = probe.announcer.load(Ordering::SeqCst);
    let Some(cpu_at_start) = cpu_time(announcer) else {
        return;
    };
    let asleep_since = std::cell::Cell::new(None::<Instant>);
    let cpu_seen = std::cell::Cell::new(cpu_at_start);
    wait_for(|| {
        if probe.passed.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let (Some(state), Some(cpu)) = (sched_state(announcer), cpu_time(announcer)) else {
            return true;
        };
        if cpu > cpu_seen.get() {
            cpu_seen.set(cpu);
            probe.event();
        }
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
            && (now.duration_since(since) >= HELD_ASLEEP
                || cpu.saturating_sub(cpu_at_start) >= HELD_CPU)
    });
}

/// Worker 0 inside its first critical section: says so, waits for an announcement,
/// then for the announcer (see [`wait_for_entry`]).
fn hold(probe: &Probe) {
    probe.first.store(1, Ordering::SeqCst);
    if wait_for(|| probe.announced.load(Ordering::SeqCst) > 0) {
        wait_for_entry(probe);
    }
}

fn attach_probe(token: &str) -> Result<SharedMemory, String> {
    let shm = SharedMemory::attach(token).map_err(|e| format!("attaching the probe: {e}"))?;
    if shm.len() < std::mem::size_of::<Probe>() {
        return Err("the probe region is too small".to_owned());
    }
    Ok(shm)
}

/// A worker's view of its job: its slots, what it changes, and the probe.
struct Updater<'a, S> {
    slots: &'a S,
    probe: &'a Probe,
    index: usize,
    n: usize,
    work: Work,
}

impl<S: Slots> Updater<'_, S> {
    /// Runs `f` under `with_lock`, counted by the probe, after checking that it got
    /// the slots the array has.
    fn locked(&self, f: impl FnOnce(&mut [i64])) -> Result<(), String> {
        let n = self.n;
        let probe = self.probe;
        self.slots
            .with_slots(|slots| {
                if slots.len() != n {
                    return Err(format!(
                        "with_lock gave the closure {} slots, but the array was created with {n}",
                        slots.len()
                    ));
                }
                probe.enter();
                f(slots);
                probe.leave();
                Ok(())
            })
            .map_err(|e| format!("with_lock(): {e}"))??;
        probe.event();
        Ok(())
    }

    /// Update `k`, as an ordinary critical section; `announced` workers count it in
    /// `passed`.
    fn update(&self, k: usize, announced: bool) -> Result<(), String> {
        self.locked(|slots| self.work.apply(self.index, k, slots, || {}))?;
        if announced {
            self.probe.passed.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Updates `range`.
    fn updates(&self, range: std::ops::Range<usize>, announced: bool) -> Result<(), String> {
        for k in range {
            self.update(k, announced)?;
        }
        Ok(())
    }

    /// A critical section that changes nothing.
    fn probe_section(&self, inside: impl FnOnce()) -> Result<(), String> {
        self.locked(|_| inside())
    }
}

/// The worker body of [`run_shm_counter`] for counter type `C`, a task function:
/// register it per type with
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker).
pub fn shm_counter_worker<C: ShmCounter>(args: &[u8]) -> Result<Vec<u8>, String> {
    slots_worker::<AsCounter<C>>(args)
}

/// The worker body of [`run_shm_array`] for array type `A`, a task function: register
/// it per type with [`register_shm_array_worker!`](crate::register_shm_array_worker).
pub fn shm_array_worker<A: ShmArray>(args: &[u8]) -> Result<Vec<u8>, String> {
    slots_worker::<AsArray<A>>(args)
}

/// The worker body of [`run_slots`] for slots type `S`.
fn slots_worker<S: Slots>(args: &[u8]) -> Result<Vec<u8>, String> {
    let job: Job = serde_json::from_slice(args).map_err(|e| format!("bad job: {e}"))?;
    let (token, probe, role, index, n, work, increments) = match job {
        Job::Read { token, snapshot } => {
            let slots = S::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
            let values = if snapshot {
                slots.snapshot().map_err(|e| format!("snapshot(): {e}"))?
            } else {
                slots
                    .with_slots(|s| s.to_vec())
                    .map_err(|e| format!("with_lock(): {e}"))?
            };
            return serde_json::to_vec(&values).map_err(|e| e.to_string());
        }
        Job::Update {
            token,
            probe,
            role,
            index,
            slots,
            work,
            increments,
        } => (token, probe, role, index, slots, work, increments),
    };
    let slots = S::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
    let probe_shm = attach_probe(&probe)?;
    // SAFETY: `attach_probe` checked the size.
    let probe = unsafe { Probe::of(&probe_shm) };
    probe.attached.fetch_add(1, Ordering::SeqCst);
    probe.event();
    let me = Updater {
        slots: &slots,
        probe,
        index,
        n,
        work,
    };
    let gone = || "the parent went away".to_owned();
    match role {
        Role::Plain => me.updates(0..increments, false)?,
        Role::Announcer => {
            if !wait_for(|| probe.first.load(Ordering::SeqCst) != 0) {
                return Err(gone());
            }
            probe.announce();
            me.updates(0..increments, true)?;
        }
        Role::Holder => {
            me.locked(|slots| work.apply(index, 0, slots, || hold(probe)))?;
            probe.first.store(2, Ordering::SeqCst);
            me.updates(1..increments, false)?;
        }
        Role::Snapshotter => {
            if !wait_for(|| probe.first.load(Ordering::SeqCst) != 0) {
                return Err(gone());
            }
            probe.announce();
            let mut taken = vec![slots.snapshot().map_err(|e| format!("snapshot(): {e}"))?];
            probe.passed.fetch_add(1, Ordering::SeqCst);
            probe.event();
            me.updates(0..increments, false)?;
            taken.push(slots.snapshot().map_err(|e| format!("snapshot(): {e}"))?);
            probe.event();
            return serde_json::to_vec(&taken).map_err(|e| e.to_string());
        }
        Role::Victim { before } => {
            me.updates(0..before, false)?;
            // Not counted as inside: the victim never leaves, and the survivors'
            // exclusion is what the probe then judges.
            slots
                .with_slots(|_| {
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
            me.probe_section(|| hold(probe))
                .map_err(|e| format!("after the holder died, {e}"))?;
            probe.first.store(2, Ordering::SeqCst);
            // Nobody changes a slot while a survivor may hold a stale copy of it.
            if !wait_for(|| probe.probed.load(Ordering::SeqCst) == others) {
                return Err(gone());
            }
            me.updates(0..increments, false)?;
            probe.survived.fetch_add(1, Ordering::SeqCst);
            probe.event();
        }
        Role::Survivor { turn } => {
            let recovering = wait_for(|| {
                probe.dying.load(Ordering::SeqCst) == 1 && probe.first.load(Ordering::SeqCst) != 0
            });
            if !recovering {
                return Err(gone());
            }
            probe.announce();
            me.probe_section(|| {})
                .map_err(|e| format!("after the holder died, {e}"))?;
            probe.passed.fetch_add(1, Ordering::SeqCst);
            probe.probed.fetch_add(1, Ordering::SeqCst);
            probe.event();
            if !wait_for(|| probe.survived.load(Ordering::SeqCst) == turn) {
                return Err(gone());
            }
            me.updates(0..increments, false)?;
            probe.survived.fetch_add(1, Ordering::SeqCst);
            probe.event();
        }
    }
    Ok(Vec::new())
}

/// Runs `f` (student code, in this process) and turns a panic into a [`TaskError`].
fn guarded<R>(what: &str, f: impl FnOnce() -> io::Result<R>) -> Result<R, TaskError> {
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
fn role(scenario: &SlotsScenario, index: usize) -> Role {
    // Worker 0 must have a critical section to hold, and someone to wait for.
    let rendezvous = scenario.processes > 1 && scenario.increments > 0;
    match scenario.plan {
        Plan::Contend { rendezvous: true } if rendezvous => {
            if index == 0 {
                Role::Holder
            } else {
                Role::Announcer
            }
        }
        Plan::Snapshot if rendezvous => match index {
            0 => Role::Holder,
            1 => Role::Snapshotter,
            _ => Role::Plain,
        },
        Plan::Contend { .. } | Plan::Snapshot => Role::Plain,
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
/// must die by `SIGKILL`; everyone else must return. Gives what a snapshotter
/// returned.
fn judge_exit(
    scenario: &SlotsScenario,
    index: usize,
    result: Result<Vec<u8>, TaskError>,
    task: &Task,
) -> Result<Vec<Vec<i64>>, TaskError> {
    match (role(scenario, index), result) {
        (Role::Victim { .. }, Err(e))
            if e.kind() == TaskErrorKind::Crashed
                && e.status() == Some(ChildStatus::Signaled(libc::SIGKILL)) =>
        {
            Ok(Vec::new())
        }
        (Role::Victim { .. }, Ok(_)) => Err(TaskError::failed(
            "worker 0 was to die inside with_lock, but with_lock returned without running its closure",
        )),
        (Role::Snapshotter, Ok(bytes)) => serde_json::from_slice(&bytes).map_err(|e| {
            TaskError::harness("decoding the snapshots", Some(e.into())).with_task(task.name())
        }),
        (_, Ok(_)) => Ok(Vec::new()),
        (_, Err(e)) => Err(e),
    }
}

/// Runs the shared-counter scenario for `C` (see the module docs); returns the total
/// and the most simultaneous holders seen. Errors as [`run_slots`].
pub fn run_shm_counter<C: ShmCounter>(
    worker: &'static ShmCounterWorker<C>,
    scenario: &ShmCounterScenario,
) -> Result<ShmCounterOutcome, TaskError> {
    let outcome = run_slots(worker, &scenario.slots())?;
    let total = match outcome.slots[..] {
        [count] => count as u64,
        _ => unreachable!("a counter is read as one slot"),
    };
    Ok(ShmCounterOutcome {
        total,
        max_holders: outcome.max_holders,
    })
}

/// Runs `scenario` on the shared array type `A` (see the module docs). Errors as
/// [`run_slots`].
pub fn run_shm_array<A: ShmArray>(
    worker: &'static ShmArrayWorker<A>,
    scenario: &SlotsScenario,
) -> Result<SlotsOutcome, TaskError> {
    run_slots(worker, scenario)
}

/// Runs `scenario` on slots type `S` (see the module docs); returns every slot, the
/// most simultaneous holders seen and the snapshots taken.
///
/// Errors: the first worker (in the order they end) that fails, panics or crashes
/// gives that error, and the others are killed at once; a run in which no worker makes
/// progress for [`stall`](SlotsScenario::stall) gives [`TaskErrorKind::Stalled`]. Every
/// worker's process group is killed before this returns, whatever happened. While
/// events happen, this process beats its own [`heartbeat`], so a supervisor watching
/// it sees the progress too.
///
/// `create`, `token` and the slots' `drop` run in this process, under `catch_unwind`:
/// a panic there is reported, not propagated; a `create` that never returns is not
/// guarded against (the token must name a process that outlives the workers, and this
/// one does).
pub fn run_slots<S: Slots>(
    worker: &'static SlotsWorker<S>,
    scenario: &SlotsScenario,
) -> Result<SlotsOutcome, TaskError> {
    let task = worker.task();
    let owner = QuietDrop(Some(guarded("create()", || S::create(scenario.slots))?));
    let slots = owner.0.as_ref().expect("just set");
    let token = guarded("token()", || Ok(slots.token()))?;
    let probe_shm = SharedMemory::create(std::mem::size_of::<Probe>())
        .map_err(|e| TaskError::harness("creating the probe region", Some(e)))?;
    // SAFETY: the region was made for a Probe; zero-filled is valid.
    let probe = unsafe { Probe::of(&probe_shm) };

    let mut workers: Vec<Option<Worker>> = Vec::with_capacity(scenario.processes);
    for index in 0..scenario.processes {
        let job = Job::Update {
            token: token.clone(),
            probe: probe_shm.token().to_owned(),
            role: role(scenario, index),
            index,
            slots: scenario.slots,
            work: scenario.work,
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
    let mut snapshots = Vec::new();
    // After the victim's death, nothing happens until the recoverer (worker 1) finds
    // the lock's owner dead, and a spin lock's waiter may find it only after many
    // tries, which take seconds when CPU hogs starve it. So from the death until the
    // recoverer is inside, the recoverer's CPU time growing is progress too, bounded
    // like a start-up: a lock that is never recovered leaves it asleep (no CPU: a
    // stall after one window) or spinning (a stall after `startup`).
    let mut died_at: Option<Instant> = None;
    let mut recoverer_cpu = Duration::ZERO;
    while workers.iter().any(Option::is_some) {
        for (index, slot) in workers.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(Worker::has_exited) {
                let w = slot.take().expect("checked above");
                snapshots.extend(judge_exit(
                    scenario,
                    index,
                    w.finish(Instant::now()).result,
                    task,
                )?);
            }
        }
        let now_events = probe.events.load(Ordering::SeqCst);
        let starting = (probe.attached.load(Ordering::SeqCst) as usize) < scenario.processes;
        let recovering = matches!(scenario.plan, Plan::DeadHolder { .. })
            && probe.dying.load(Ordering::SeqCst) == 1
            && probe.first.load(Ordering::SeqCst) == 0;
        if recovering {
            let died_at = *died_at.get_or_insert_with(Instant::now);
            // The recoverer's alone: the other survivors poll the probe meanwhile,
            // which burns CPU time whatever the lock does.
            let cpu = workers
                .get(1)
                .and_then(Option::as_ref)
                .and_then(|w| cpu_time(w.id()))
                .unwrap_or_default();
            if cpu > recoverer_cpu && died_at.elapsed() < startup {
                recoverer_cpu = cpu;
                moved_at = Instant::now();
                heartbeat::beat();
            }
        }
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
    let read = Job::Read {
        token,
        snapshot: scenario.plan == Plan::Snapshot,
    };
    let read = serde_json::to_vec(&read).expect("a job always serializes");
    let bytes = worker::spawn(task, &read)?
        .wait_until(Instant::now() + startup)
        .map_err(|e| match e.kind() {
            TaskErrorKind::TimedOut => TaskError::stalled(startup).with_task(task.name()),
            _ => e,
        })?;
    heartbeat::beat();
    let values: Vec<i64> = serde_json::from_slice(&bytes).map_err(|e| {
        TaskError::harness("decoding the slots", Some(e.into())).with_task(task.name())
    })?;
    let max_holders = probe.max_inside.load(Ordering::SeqCst);
    Ok(SlotsOutcome {
        slots: values,
        max_holders,
        snapshots,
    })
}

// E4 across processes: the shared list (`run_shm_list`).

/// Which worker of a shared-list run removes (and holds `with_lock` first).
pub const LIST_REMOVER: usize = 0;
/// Which worker of a shared-list run adds.
pub const LIST_ADDER: usize = 1;
/// Which worker of a shared-list run takes snapshots.
pub const LIST_SNAPSHOTTER: usize = 2;
/// The process number of the final snapshot, taken once every worker has ended.
pub const LIST_READER: usize = 3;

/// A call on a shared list, as a worker made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListStep {
    /// `add(x)`.
    Add(u32),
    /// `remove()`, or a removal made inside `with_lock` (see [`ListCall::via_lock`]).
    Remove,
    /// `snapshot()`.
    Snapshot,
}

/// What a call on a shared list returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListReturn {
    /// `add` returned `Ok(())`.
    Added,
    /// `remove` returned this.
    Removed(Option<u32>),
    /// `snapshot` returned these items, front first.
    Snapshot(Vec<u32>),
}

/// One completed call of a shared-list run, stamped from the clock in shared memory:
/// `call_at` just before the call, `ret_at` just after it returned, so a call that
/// returned before another began has the smaller `ret_at` than the other's `call_at`,
/// whatever processes made them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCall {
    /// The worker that made it ([`LIST_REMOVER`], [`LIST_ADDER`], ..).
    pub process: usize,
    /// The call.
    pub step: ListStep,
    /// What it returned.
    pub ret: ListReturn,
    /// The clock just before the call.
    pub call_at: u64,
    /// The clock just after it returned.
    pub ret_at: u64,
    /// The removal was made by the harness inside `with_lock`, on the items it gave
    /// (taken from the front or the back as the list declares).
    pub via_lock: bool,
}

/// One run of the shared-list program across processes (see [`run_shm_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmListScenario {
    /// The adder adds `0..k`, the remover removes `k` times (at least 3).
    pub k: u32,
    /// The list's capacity (at least `k`).
    pub capacity: usize,
    /// How many snapshots the snapshotter takes (0: no snapshotter).
    pub snapshots: usize,
    /// The run fails once no worker has made progress for this long.
    pub stall: Duration,
}

/// What a shared-list run saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmListOutcome {
    /// Every call of every worker, then the final snapshot (by [`LIST_READER`]).
    pub calls: Vec<ListCall>,
    /// The adder's first `add` returned while the remover was inside `with_lock`.
    pub overlapped: bool,
}

/// What a worker of a shared-list run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum ListRole {
    Remover,
    Adder,
    Snapshotter,
}

/// What a shared-list worker is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum ListJob {
    Work {
        token: String,
        probe: String,
        role: ListRole,
        k: u32,
        snapshots: usize,
    },
    Read {
        token: String,
        probe: String,
    },
}

/// Declares `static NAME: ShmListWorker<Type>`, the worker [`run_shm_list`] needs to
/// run `Type` in worker processes; as
/// [`register_shm_counter_worker!`](crate::register_shm_counter_worker), for a
/// [`ShmList`](racecourse_spec::shm_list::ShmList).
///
/// [`run_shm_list`]: crate::process::driver::run_shm_list
#[macro_export]
macro_rules! register_shm_list_worker {
    ($(#[$attr:meta])* $vis:vis static $name:ident : $ty:ty $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::process::driver::ShmListWorker<$ty> =
            $crate::process::driver::ShmListWorker::__new(
                $crate::process::worker::Task::__new(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                    $crate::process::driver::shm_list_worker::<$ty>,
                    $crate::__task_registration!($name.__task()),
                ),
            );
    };
}

/// The shm-list worker task for list type `L`.
pub type ShmListWorker<L> = SlotsWorker<L>;

/// Takes one item from `items` (front first) as a list of removal order `order` does.
fn take(order: RemovalOrder, items: &mut Vec<u32>) -> Option<u32> {
    match order {
        RemovalOrder::Fifo if !items.is_empty() => Some(items.remove(0)),
        RemovalOrder::Fifo => None,
        RemovalOrder::Lifo => items.pop(),
    }
}

/// A worker's calls, each stamped from the probe's clock.
struct Stamper<'a> {
    probe: &'a Probe,
    process: usize,
    calls: Vec<ListCall>,
}

impl Stamper<'_> {
    /// Makes one call `f` of `step`, stamped, counted as progress; `what` names it in
    /// errors.
    fn call(
        &mut self,
        step: ListStep,
        via_lock: bool,
        f: impl FnOnce() -> io::Result<ListReturn>,
    ) -> Result<&ListReturn, String> {
        let what = match &step {
            ListStep::Add(x) => format!("add({x})"),
            ListStep::Remove if via_lock => "with_lock()".to_owned(),
            ListStep::Remove => "remove()".to_owned(),
            ListStep::Snapshot => "snapshot()".to_owned(),
        };
        let call_at = self.probe.clock.fetch_add(1, Ordering::SeqCst);
        let ret = f().map_err(|e| format!("{what}: {e}"))?;
        let ret_at = self.probe.clock.fetch_add(1, Ordering::SeqCst);
        self.probe.event();
        self.calls.push(ListCall {
            process: self.process,
            step,
            ret,
            call_at,
            ret_at,
            via_lock,
        });
        Ok(&self.calls.last().expect("just pushed").ret)
    }

    fn add<L: ShmList>(&mut self, list: &L, x: u32) -> Result<(), String> {
        self.call(ListStep::Add(x), false, || {
            list.add(x).map(|()| ListReturn::Added)
        })?;
        Ok(())
    }

    fn remove<L: ShmList>(&mut self, list: &L) -> Result<(), String> {
        self.call(ListStep::Remove, false, || {
            list.remove().map(ListReturn::Removed)
        })?;
        Ok(())
    }

    fn snapshot<L: ShmList>(&mut self, list: &L) -> Result<(), String> {
        self.call(ListStep::Snapshot, false, || {
            list.snapshot().map(ListReturn::Snapshot)
        })?;
        Ok(())
    }

    fn done(self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&self.calls).map_err(|e| e.to_string())
    }
}

/// The worker body of [`run_shm_list`] for list type `L`, a task function: register it
/// per type with [`register_shm_list_worker!`](crate::register_shm_list_worker).
pub fn shm_list_worker<L: ShmList>(args: &[u8]) -> Result<Vec<u8>, String> {
    let job: ListJob = serde_json::from_slice(args).map_err(|e| format!("bad job: {e}"))?;
    let (token, probe_token, role, k, snapshots) = match job {
        ListJob::Read { token, probe } => {
            let list = L::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
            let probe_shm = attach_probe(&probe)?;
            // SAFETY: `attach_probe` checked the size.
            let probe = unsafe { Probe::of(&probe_shm) };
            let mut me = Stamper {
                probe,
                process: LIST_READER,
                calls: Vec::new(),
            };
            me.snapshot(&list)?;
            return me.done();
        }
        ListJob::Work {
            token,
            probe,
            role,
            k,
            snapshots,
        } => (token, probe, role, k, snapshots),
    };
    let list = L::attach(&token).map_err(|e| format!("attach({token:?}): {e}"))?;
    let probe_shm = attach_probe(&probe_token)?;
    // SAFETY: `attach_probe` checked the size.
    let probe = unsafe { Probe::of(&probe_shm) };
    probe.attached.fetch_add(1, Ordering::SeqCst);
    probe.event();
    let gone = || "the parent went away".to_owned();
    let process = match role {
        ListRole::Remover => LIST_REMOVER,
        ListRole::Adder => LIST_ADDER,
        ListRole::Snapshotter => LIST_SNAPSHOTTER,
    };
    let mut me = Stamper {
        probe,
        process,
        calls: Vec::new(),
    };
    match role {
        ListRole::Remover => {
            // The rendezvous: inside `with_lock`, hold the items given until the adder
            // has completed an add or is seen held at the lock; then remove from them.
            me.call(ListStep::Remove, true, || {
                list.with_lock(|items| {
                    hold(probe);
                    let taken = take(L::ORDER, items);
                    probe.first.store(2, Ordering::SeqCst);
                    ListReturn::Removed(taken)
                })
            })?;
            probe.first.store(3, Ordering::SeqCst);
            // The gate: the next remove begins after two adds have returned.
            if !wait_for(|| probe.added.load(Ordering::SeqCst) >= 2) {
                return Err(gone());
            }
            me.remove(&list)?;
            probe.removed.store(1, Ordering::SeqCst);
            probe.event();
            for _ in 2..k {
                me.remove(&list)?;
            }
        }
        ListRole::Adder => {
            if !wait_for(|| probe.first.load(Ordering::SeqCst) != 0) {
                return Err(gone());
            }
            probe.announce();
            me.add(&list, 0)?;
            if probe.first.load(Ordering::SeqCst) == 1 {
                probe.overlapped.store(1, Ordering::SeqCst);
            }
            probe.passed.fetch_add(1, Ordering::SeqCst);
            probe.added.store(1, Ordering::SeqCst);
            // The next add begins once the remover's `with_lock` has returned: a
            // `with_lock` that writes back stale items then always loses item 0.
            if !wait_for(|| probe.first.load(Ordering::SeqCst) == 3) {
                return Err(gone());
            }
            me.add(&list, 1)?;
            probe.added.store(2, Ordering::SeqCst);
            probe.event();
            if !wait_for(|| probe.removed.load(Ordering::SeqCst) == 1) {
                return Err(gone());
            }
            for x in 2..k {
                me.add(&list, x)?;
            }
        }
        ListRole::Snapshotter => {
            if !wait_for(|| probe.first.load(Ordering::SeqCst) != 0) {
                return Err(gone());
            }
            for _ in 0..snapshots {
                me.snapshot(&list)?;
            }
        }
    }
    me.done()
}

/// Runs the shared-list program on `L` across processes and records every call.
///
/// Three workers are started (spawn start method) before any is waited for:
/// - the remover ([`LIST_REMOVER`]) first calls `with_lock` and, inside it, waits until
///   the adder has completed its first `add` or is seen held at the lock (the
///   rendezvous of the shared array, module docs), then removes from the items it was
///   given, as the list's declared order says; it then waits until the adder's first two
///   adds have returned, removes once (a remove that must give the front item of two
///   for a FIFO, the back one for a LIFO), and removes `k - 2` more times;
/// - the adder ([`LIST_ADDER`]) adds `0` once the remover is inside `with_lock`, notes
///   whether that add returned while the remover was still inside, adds `1` once the
///   remover's `with_lock` has returned, waits for
///   the remover's gated remove, and adds `2..k` while the remover removes;
/// - the snapshotter ([`LIST_SNAPSHOTTER`]), if `snapshots > 0`, takes that many
///   snapshots once the remover is inside `with_lock`.
///
/// Once all have returned, one more worker attaches and takes the final snapshot. Every
/// call is stamped from one clock in shared memory.
///
/// A list whose `with_lock` does not exclude `add` lets the adder's first add return
/// during the rendezvous (`overlapped`) and, since the remover writes back the items it
/// was given, loses item 0: in every run. Errors as [`run_slots`]: the first worker
/// that fails, panics or crashes, or a stall; every worker is killed before this
/// returns.
pub fn run_shm_list<L: ShmList>(
    worker: &'static ShmListWorker<L>,
    scenario: &ShmListScenario,
) -> Result<ShmListOutcome, TaskError> {
    assert!(scenario.k >= 3, "the gated remove needs k >= 3");
    let task = worker.task();
    let owner = QuietDrop(Some(guarded("create()", || L::create(scenario.capacity))?));
    let list = owner.0.as_ref().expect("just set");
    let token = guarded("token()", || Ok(list.token()))?;
    let probe_shm = SharedMemory::create(std::mem::size_of::<Probe>())
        .map_err(|e| TaskError::harness("creating the probe region", Some(e)))?;
    // SAFETY: the region was made for a Probe; zero-filled is valid.
    let probe = unsafe { Probe::of(&probe_shm) };

    let mut roles = vec![ListRole::Remover, ListRole::Adder];
    if scenario.snapshots > 0 {
        roles.push(ListRole::Snapshotter);
    }
    let mut workers: Vec<Option<Worker>> = Vec::with_capacity(roles.len());
    for &role in &roles {
        let job = ListJob::Work {
            token: token.clone(),
            probe: probe_shm.token().to_owned(),
            role,
            k: scenario.k,
            snapshots: scenario.snapshots,
        };
        let args = serde_json::to_vec(&job).expect("a job always serializes");
        // On error, dropping `workers` kills those already started.
        workers.push(Some(worker::spawn(task, &args)?));
    }

    // As in `run_slots`: starting is bounded by `startup`, then the run fails only
    // after a whole stall window without an event.
    let startup = startup_limit(scenario.stall);
    let spawned_at = Instant::now();
    let mut events = probe.events.load(Ordering::SeqCst);
    let mut moved_at = Instant::now();
    let mut calls = Vec::new();
    let decode = |bytes: &[u8]| -> Result<Vec<ListCall>, TaskError> {
        serde_json::from_slice(bytes).map_err(|e| {
            TaskError::harness("decoding a worker's calls", Some(e.into())).with_task(task.name())
        })
    };
    while workers.iter().any(Option::is_some) {
        for slot in workers.iter_mut() {
            if slot.as_ref().is_some_and(Worker::has_exited) {
                let w = slot.take().expect("checked above");
                calls.extend(decode(&w.finish(Instant::now()).result?)?);
            }
        }
        let now_events = probe.events.load(Ordering::SeqCst);
        let starting = (probe.attached.load(Ordering::SeqCst) as usize) < roles.len();
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
    let read = ListJob::Read {
        token,
        probe: probe_shm.token().to_owned(),
    };
    let read = serde_json::to_vec(&read).expect("a job always serializes");
    let bytes = worker::spawn(task, &read)?
        .wait_until(Instant::now() + startup)
        .map_err(|e| match e.kind() {
            TaskErrorKind::TimedOut => TaskError::stalled(startup).with_task(task.name()),
            _ => e,
        })?;
    heartbeat::beat();
    calls.extend(decode(&bytes)?);
    Ok(ShmListOutcome {
        calls,
        overlapped: probe.overlapped.load(Ordering::SeqCst) == 1,
    })
}

/// Drops the student's slots under `catch_unwind`, after every worker is gone (locals
/// drop in reverse order, so the workers go first on every path).
struct QuietDrop<S>(Option<S>);

impl<S> Drop for QuietDrop<S> {
    fn drop(&mut self) {
        let slots = self.0.take();
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(slots)));
    }
}
