//! E6 errors suite: errors in concurrent programs, each technique of the course's Q6
//! with a property of its own, and the umbrella property over any failing subset.
//!
//! Properties (see `EXERCISES.md`, E6 "Errors in concurrent programs"):
//! - `caught_in_worker`: the error is caught in the worker and reported from there;
//! - `through_future`: `result()` gives the task's error with its message, a panic as
//!   an error value;
//! - `through_queue`: every error reaches the calling thread through a queue;
//! - `result_timeout`: a timeout while the task runs, its value afterwards (real
//!   threads only: the model checkers have no time);
//! - `error_callback`: the course's pool, tasks 0..9, task 5 fails;
//! - `excepthook`: the hook hears the panic of a thread nobody joins;
//! - `failing_subset`: for drawn tasks and a drawn failing subset F, exactly the tasks
//!   in F report errors, each its own.
//!
//! Every wait of the harness is for something a correct implementation does (a
//! callback called or dropped, a hook called), never for time: a wrong implementation
//! that never does it is a deadlock under the model checkers, a stall on real threads.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prop_oneof;
use proptest::strategy::{BoxedStrategy, Just, Strategy};
use racecourse_spec::errors::Handling;
use racecourse_spec::executor::{Executor, TaskError};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::{Kind, Violation};
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "errors";

// The model checkers have no time: `result_timeout` is checked on real threads only.
// loom explores the three techniques whose scenarios stay within two or three threads.
properties! { $ __errors_table;
    /// An error or a panic of a task run by `caught_in_worker` is caught on the
    /// worker's thread and reported from there, once, with its message, before
    /// `caught_in_worker` returns; a task that succeeds is not reported.
    CaughtInWorker => caught_in_worker [std shuttle loom],
    /// `result()` gives a task's error with its message (`Failed`), a panic as
    /// `Panicked` with the panic's message (an error value, not a crash), and a value
    /// unchanged.
    ThroughFuture => through_future [std shuttle loom],
    /// `through_queue` brings every failing task's error back to the calling thread,
    /// each once with its index, and nothing for the tasks that succeeded.
    ThroughQueue => through_queue [std shuttle loom],
    /// `result_timeout` returns `Timeout` while the task is held at a gate and leaves it
    /// running: once the gate opens, `result()` gives its value (return values only,
    /// never a duration).
    ResultTimeout => result_timeout [std],
    /// The course's pool: tasks 0..9 through `apply_async`, task 5 fails; its error
    /// callback is called once with task 5's error, every other callback is dropped
    /// uncalled, and the other nine give x * 2.
    ErrorCallback => error_callback [std shuttle],
    /// The excepthook hears the panic message of every detached thread (a thread
    /// nobody joins) whose work panics.
    Excepthook => excepthook [std shuttle],
    /// For drawn tasks and a drawn failing subset F, exactly the tasks in F give an
    /// error, each its own (returned or panicked), and every other task its correct
    /// value.
    FailingSubset => failing_subset [std shuttle],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E6",
    title: "errors in concurrent programs",
    properties: &Property::INFO,
    slots: &[
        Slot {
            name: "executor",
            bound: "racecourse_spec::executor::Executor",
        },
        Slot {
            name: "handling",
            bound: "racecourse_spec::errors::Handling",
        },
    ],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The timeout of a `result_timeout` that must time out: short, since only the return
/// value is judged (the task is held at a gate until it has returned).
pub const SHORT: Duration = Duration::from_millis(1);

/// The timeout of a `result_timeout` on a finished task: it must return the value,
/// long before this.
pub const LONG: Duration = Duration::from_secs(600);

/// The course's pool example: tasks `0..TASKS`, task [`FAILING`] fails.
pub const TASKS: u64 = 10;

/// The failing task of the course's pool example.
pub const FAILING: u64 = 5;

/// What one task of a scenario does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Returns `Ok(2 * i + 1)` (task `i`).
    Succeeds,
    /// Returns `Err("task i: division by zero")`.
    Fails,
    /// Panics with `"task i: division by zero"`.
    Panics,
}

/// The value task `i` returns when it succeeds.
pub fn value_of(i: usize) -> u64 {
    2 * i as u64 + 1
}

/// The message of task `i`'s error or panic.
pub fn message_of(i: usize) -> String {
    format!("task {i}: division by zero")
}

impl Act {
    /// What the task `i` doing this gives: its value or its error.
    pub fn expected(self, i: usize) -> Result<u64, TaskError> {
        match self {
            Act::Succeeds => Ok(value_of(i)),
            Act::Fails => Err(TaskError::Failed(message_of(i))),
            Act::Panics => Err(TaskError::Panicked(message_of(i))),
        }
    }

    /// The task `i` doing this.
    pub fn task(self, i: usize) -> racecourse_spec::executor::Task {
        match self {
            Act::Succeeds => Box::new(move || Ok(value_of(i))),
            Act::Fails => Box::new(move || Err(message_of(i))),
            Act::Panics => Box::new(move || panic!("{}", message_of(i))),
        }
    }
}

/// One scenario: tasks (what each does) on a pool of `workers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The property the scenario checks.
    pub property: Property,
    /// What each task does, by index.
    pub acts: Vec<Act>,
    /// The pool's `max_workers` (where a pool is used).
    pub workers: usize,
}

/// `{1 (returns an error), 3 (panics)}`.
fn failing_set(acts: &[Act]) -> String {
    let failing: Vec<String> = acts
        .iter()
        .enumerate()
        .filter_map(|(i, act)| match act {
            Act::Succeeds => None,
            Act::Fails => Some(format!("{i} (returns an error)")),
            Act::Panics => Some(format!("{i} (panics)")),
        })
        .collect();
    format!("{{{}}}", failing.join(", "))
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.acts.len();
        let w = self.workers;
        let failing = failing_set(&self.acts);
        match self.property {
            Property::CaughtInWorker => write!(
                f,
                "caught_in_worker of {n} tasks, each called on a thread of its own at once, failing {failing}"
            ),
            Property::ThroughFuture => write!(
                f,
                "{n} tasks submitted to a pool of {w}, failing {failing}; result() of each"
            ),
            Property::ThroughQueue => write!(f, "through_queue of {n} tasks, failing {failing}"),
            Property::ResultTimeout => write!(
                f,
                "a task held at a gate on a pool of {w}: result_timeout({SHORT:?}), then the gate opens, then result() and result_timeout({LONG:?})"
            ),
            Property::ErrorCallback => write!(
                f,
                "apply_async of tasks 0..{TASKS} (x * 2) on a pool of {w}, task {FAILING} fails, each with its own error callback"
            ),
            Property::Excepthook => write!(
                f,
                "an excepthook installed, then {n} detached threads whose work panics"
            ),
            Property::FailingSubset => write!(
                f,
                "{n} tasks on a pool of {w}, F = {failing}; result() of each"
            ),
        }
    }
}

/// The fixed scenario of a property (all but `failing_subset`, which is drawn).
fn fixed(property: Property, small: bool) -> Scenario {
    use Act::{Fails, Panics, Succeeds};
    let (acts, workers) = match (property, small) {
        (Property::CaughtInWorker, false) => (vec![Fails, Panics, Succeeds], 1),
        (Property::CaughtInWorker, true) => (vec![Fails, Panics], 1),
        (Property::ThroughFuture, false) => (vec![Succeeds, Fails, Panics, Succeeds], 2),
        (Property::ThroughFuture, true) => (vec![Fails, Panics], 1),
        (Property::ThroughQueue, false) => (vec![Fails, Succeeds, Panics], 1),
        (Property::ThroughQueue, true) => (vec![Fails, Panics], 1),
        (Property::ResultTimeout, _) => (vec![Succeeds], 1),
        (Property::ErrorCallback, _) => (Vec::new(), 2),
        (Property::Excepthook, false) => (vec![Panics, Panics, Panics], 1),
        (Property::Excepthook, true) => (vec![Panics, Panics], 1),
        (Property::FailingSubset, _) => (vec![Fails, Succeeds, Panics], 2),
    };
    Scenario {
        property,
        acts,
        workers,
    }
}

/// Drawn scenarios of `failing_subset` (proptest, fixed seed, shrunk on failure): 1 to
/// `max_tasks` tasks, each succeeding, failing or panicking, on 1 to 3 workers.
fn drawn_subsets(max_tasks: usize) -> BoxedStrategy<Scenario> {
    let act = prop_oneof![Just(Act::Succeeds), Just(Act::Fails), Just(Act::Panics)];
    (vec(act, 1..=max_tasks), 1..=3usize)
        .prop_map(|(acts, workers)| Scenario {
            property: Property::FailingSubset,
            acts,
            workers,
        })
        .boxed()
}

/// Compares what tasks gave with what they should have, naming the first difference.
fn judge_outcomes(
    acts: &[Act],
    seen: &[Result<u64, TaskError>],
    how: &str,
) -> Result<(), Violation> {
    for (i, (act, got)) in acts.iter().zip(seen).enumerate() {
        let want = act.expected(i);
        if *got != want {
            let expected = match act {
                Act::Succeeds => format!("task {i}, which succeeds, to give Ok({})", value_of(i)),
                _ => format!("task {i}, which fails, to give its own error {want:?}"),
            };
            let wrong = match (act, got) {
                (Act::Succeeds, Err(_)) => " (a task outside the failing set reported an error: another task's error kept, or a worker that went on failing after one error?)",
                (Act::Panics, Err(TaskError::Panicked(_))) => " (the panic's message was lost: keep the payload's text)",
                (_, Ok(_)) => " (the error was lost)",
                _ => "",
            };
            return Err(Violation::new(
                expected,
                format!("{how} of task {i} gave {got:?}{wrong}"),
            ));
        }
    }
    Ok(())
}

racecourse_spec::runtimes! {
    use std::sync::Mutex as StdMutex;
    use racecourse_spec::executor::Future as _;
    use crate::runner::Progress;

    /// Messages that harness threads leave for the main thread, which waits for a
    /// number of them (a mutex and a condition variable of the runtime, so the model
    /// checkers see the wait).
    struct Mailbox<T> {
        items: rt::sync::Mutex<Vec<T>>,
        arrived: rt::sync::Condvar,
    }

    impl<T> Mailbox<T> {
        fn new() -> rt::sync::Arc<Self> {
            rt::sync::Arc::new(Mailbox { items: rt::sync::Mutex::new(Vec::new()), arrived: rt::sync::Condvar::new() })
        }

        fn put(&self, item: T) {
            self.items.lock().unwrap_or_else(|p| p.into_inner()).push(item);
            self.arrived.notify_all();
        }

        /// Waits until `n` items arrived and takes them.
        fn wait_for(&self, n: usize) -> Vec<T> {
            let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
            while items.len() < n {
                items = self.arrived.wait(items).unwrap_or_else(|p| p.into_inner());
            }
            std::mem::take(&mut *items)
        }
    }

    /// Runs one scenario on executor `E` and handling `H`, and judges it.
    pub fn run<E: Executor, H: Handling>(scenario: &Scenario, progress: &Progress) -> Result<(), Violation> {
        match scenario.property {
            Property::CaughtInWorker => caught_in_worker::<H>(&scenario.acts, progress),
            Property::ThroughFuture | Property::FailingSubset => through_future::<E>(scenario, progress),
            Property::ThroughQueue => through_queue::<H>(&scenario.acts, progress),
            Property::ResultTimeout => result_timeout::<E>(scenario.workers, progress),
            Property::ErrorCallback => error_callback::<E, H>(scenario.workers, progress),
            Property::Excepthook => excepthook::<H>(scenario.acts.len(), progress),
        }
    }

    /// Each task in turn through `caught_in_worker`, with a reporter that notes the
    /// error and the thread it was called on.
    fn caught_in_worker<H: Handling>(acts: &[Act], progress: &Progress) -> Result<(), Violation> {
        let handling = rt::sync::Arc::new(H::new());
        // One caller thread per task, all at once: a sequence of spawn-and-join alone
        // would leave the model checkers one runnable thread at a time.
        let callers: Vec<_> = acts
            .iter()
            .enumerate()
            .map(|(i, &act)| {
                let handling = rt::sync::Arc::clone(&handling);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let result = caught_in_worker_once(&*handling, i, act);
                    progress.tick();
                    result
                })
            })
            .collect();
        let mut first = Ok(());
        for (i, caller) in callers.into_iter().enumerate() {
            let result = caller
                .join()
                .unwrap_or_else(|payload| Err(crate::runner::panicked(format!("in the thread that called caught_in_worker for task {i}"), payload)));
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Task `i` through `caught_in_worker`, called on this thread, with a reporter that
    /// notes the error and whether it was called on this thread.
    fn caught_in_worker_once<H: Handling>(handling: &H, i: usize, act: Act) -> Result<(), Violation> {
        let caller = rt::thread::current().id();
        let reports = std::sync::Arc::new(StdMutex::new(Vec::new()));
        let noted = std::sync::Arc::clone(&reports);
        handling.caught_in_worker(
            act.task(i),
            Box::new(move |error| {
                let on_caller = rt::thread::current().id() == caller;
                noted.lock().unwrap_or_else(|p| p.into_inner()).push((error, on_caller));
            }),
        );
        let reports = std::mem::take(&mut *reports.lock().unwrap_or_else(|p| p.into_inner()));
        match (act.expected(i), reports.as_slice()) {
            (Ok(_), []) => Ok(()),
            (Ok(_), [(error, _), ..]) => Err(Violation::new(
                format!("task {i}, which succeeds, not to be reported"),
                format!("it was reported with {error:?}"),
            )),
            (Err(want), []) => Err(Violation::new(
                format!("task {i}'s error {want:?} to be reported before caught_in_worker returns"),
                "caught_in_worker returned and the reporter was never called: the error was swallowed (catch it and report it)",
            )),
            (Err(want), [(error, on_caller)]) => {
                if *error != want {
                    Err(Violation::new(
                        format!("task {i}'s error to be reported as {want:?}"),
                        format!("it was reported as {error:?}"),
                    ))
                } else if *on_caller {
                    Err(Violation::new(
                        format!("task {i} to run, and its error to be caught, on a worker thread"),
                        "the reporter was called on the thread that called caught_in_worker: the task ran on the caller's thread (spawn a worker and catch the error there)",
                    ))
                } else {
                    Ok(())
                }
            }
            (Err(_), more) => Err(Violation::new(
                format!("task {i}'s error to be reported once"),
                format!("it was reported {} times", more.len()),
            )),
        }
    }

    /// Tasks submitted to a pool; `result()` of each, in order.
    fn through_future<E: Executor>(scenario: &Scenario, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(scenario.workers);
        let futures = scenario
            .acts
            .iter()
            .enumerate()
            .map(|(i, act)| pool.submit(act.task(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Violation::new("submit to accept tasks before shutdown", e.to_string()))?;
        let mut seen = Vec::new();
        for future in &futures {
            seen.push(future.result());
            progress.tick();
        }
        drop(futures);
        pool.shutdown(true);
        judge_outcomes(&scenario.acts, &seen, "result()")
    }

    /// `through_queue` of the tasks: every failing task's error, once.
    fn through_queue<H: Handling>(acts: &[Act], progress: &Progress) -> Result<(), Violation> {
        let handling = H::new();
        let tasks = acts.iter().enumerate().map(|(i, act)| act.task(i)).collect();
        let mut got = handling.through_queue(tasks);
        progress.tick();
        got.sort_by_key(|(i, _)| *i);
        let want: Vec<(usize, TaskError)> = acts
            .iter()
            .enumerate()
            .filter_map(|(i, act)| act.expected(i).err().map(|e| (i, e)))
            .collect();
        if got == want {
            return Ok(());
        }
        let expected = format!("through_queue to return every failing task's error once: {want:?}");
        let missing: Vec<usize> = want.iter().filter(|w| !got.contains(w)).map(|(i, _)| *i).collect();
        let seen = if !missing.is_empty() && got.len() < want.len() {
            format!(
                "it returned {got:?}: the error of task(s) {missing:?} never reached the caller (read the queue until it is empty, once every worker is joined, not once)"
            )
        } else {
            format!("it returned {got:?}")
        };
        Err(Violation::new(expected, seen))
    }

    /// A task held at a gate (a std channel): `result_timeout` while it waits, then the
    /// gate opens and `result()` must give its value. Real threads only.
    fn result_timeout<E: Executor>(workers: usize, progress: &Progress) -> Result<(), Violation> {
        let pool = E::new(workers);
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let future = pool
            .submit(Box::new(move || {
                // The gate opens once the harness has had its timeout.
                let _ = gate.recv();
                Ok(42)
            }))
            .map_err(|e| Violation::new("submit to accept a task before shutdown", e.to_string()))?;
        let early = future.result_timeout(SHORT);
        progress.tick();
        if early != Err(TaskError::Timeout) {
            let _ = open.send(());
            return Err(Violation::new(
                format!("result_timeout({SHORT:?}) to return Err(Timeout) while the task is held at a gate"),
                format!("it returned {early:?} although the task could not have finished"),
            ));
        }
        let _ = open.send(());
        let late = future.result();
        progress.tick();
        if late != Ok(42) {
            return Err(Violation::new(
                "result() to give the task's value (Ok(42)) once it finished after a timeout: a timeout leaves the task running",
                format!("after result_timeout timed out and the task went on, result() returned {late:?} (a timeout must not cancel the task or stand for its outcome)"),
            ));
        }
        let again = future.result_timeout(LONG);
        progress.tick();
        if again != Ok(42) {
            return Err(Violation::new(
                format!("result_timeout({LONG:?}) on a finished task to give its value, Ok(42)"),
                format!("it returned {again:?}"),
            ));
        }
        drop(future);
        pool.shutdown(true);
        Ok(())
    }

    /// Each callback of the course's pool example leaves a note when it is called and
    /// when it is dropped (called or not), so the harness knows when every callback has
    /// had its chance.
    struct Witness {
        x: u64,
        called: Option<TaskError>,
        notes: rt::sync::Arc<Mailbox<(u64, Option<TaskError>)>>,
        progress: Progress,
    }

    impl Drop for Witness {
        fn drop(&mut self) {
            self.notes.put((self.x, self.called.take()));
            self.progress.tick();
        }
    }

    /// The course's `pool.apply_async(task, (x,), error_callback=...)`: tasks 0..10,
    /// x * 2 each, task 5 fails.
    fn error_callback<E: Executor, H: Handling>(workers: usize, progress: &Progress) -> Result<(), Violation> {
        let handling = H::new();
        let pool = E::new(workers);
        let notes = Mailbox::new();
        let mut futures = Vec::new();
        for x in 0..TASKS {
            let witness = Witness { x, called: None, notes: rt::sync::Arc::clone(&notes), progress: progress.clone() };
            let task: racecourse_spec::executor::Task = Box::new(move || {
                if x == FAILING {
                    Err(format!("x == {FAILING} is not allowed"))
                } else {
                    Ok(x * 2)
                }
            });
            let future = handling
                .apply_async(&pool, task, Box::new(move |error| {
                    // The whole witness moves in, and is dropped after the call.
                    let mut witness = witness;
                    witness.called = Some(error);
                }))
                .map_err(|e| Violation::new("apply_async to accept tasks before shutdown", e.to_string()))?;
            futures.push(future);
        }
        for (x, future) in (0..TASKS).zip(&futures) {
            let got = future.result();
            progress.tick();
            let want = if x == FAILING {
                Err(TaskError::Failed(format!("x == {FAILING} is not allowed")))
            } else {
                Ok(x * 2)
            };
            if got != want {
                return Err(Violation::new(
                    format!("the future of task {x} to give {want:?}"),
                    format!("result() gave {got:?}"),
                ));
            }
        }
        let notes: BTreeMap<u64, Option<TaskError>> = notes.wait_for(TASKS as usize).into_iter().collect();
        drop(futures);
        pool.shutdown(true);
        let called: Vec<u64> = notes.iter().filter(|(_, c)| c.is_some()).map(|(x, _)| *x).collect();
        let want = TaskError::Failed(format!("x == {FAILING} is not allowed"));
        match notes.get(&FAILING) {
            Some(Some(error)) if *error == want => {}
            Some(Some(error)) => return Err(Violation::new(
                format!("task {FAILING}'s error callback to be called with its error {want:?}"),
                format!("it was called with {error:?}"),
            )),
            _ => return Err(Violation::new(
                format!("task {FAILING}'s error callback to be called once with its error"),
                "it was dropped without being called: the error was never handed to the callback",
            )),
        }
        if called != [FAILING] {
            return Err(Violation::new(
                format!("the error callback to run once, for task {FAILING} alone"),
                format!("the callbacks of tasks {called:?} were called: an error callback for a task that succeeded"),
            ));
        }
        Ok(())
    }

    /// An excepthook that leaves each message in a mailbox; `threads` detached threads
    /// that panic. Waits for every message.
    fn excepthook<H: Handling>(threads: usize, progress: &Progress) -> Result<(), Violation> {
        let handling = H::new();
        let heard = Mailbox::new();
        {
            let heard = rt::sync::Arc::clone(&heard);
            let progress = progress.clone();
            handling.set_excepthook(Box::new(move |message| {
                heard.put(message);
                progress.tick();
            }));
        }
        for i in 0..threads {
            handling.spawn_detached(Box::new(move || panic!("{}", message_of(i))));
        }
        let mut got = heard.wait_for(threads);
        got.sort();
        let want: Vec<String> = (0..threads).map(message_of).collect();
        if got != want {
            return Err(Violation::new(
                format!("the excepthook to hear each detached thread's panic once: {want:?}"),
                format!("it heard {got:?}"),
            ));
        }
        Ok(())
    }
}

impl Property {
    /// What a deadlock (every thread blocked) means in this property's scenario.
    fn on_deadlock(self) -> Violation {
        let (expected, seen) = match self {
            Property::ErrorCallback => (
                "every error callback to be called or dropped once its task finished",
                "every thread was blocked while the harness waited for the callbacks: a callback was kept, neither called nor dropped",
            ),
            Property::Excepthook => (
                "the excepthook to hear every detached thread's panic",
                "every thread was blocked while the harness waited for the hook: a detached thread's panic never reached it",
            ),
            _ => (
                "every call to return",
                "every thread was blocked: a wait for a task or a worker that never came",
            ),
        };
        Violation::new(expected, seen).of_kind(Kind::Deadlock)
    }
}

/// Checks `property` of executor `E` and handling `H` on std threads: the fixed
/// scenario (4 drawn ones for `failing_subset`), 10 trials each, within the std budget.
pub fn check_std<E: Executor, H: Handling>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    let explore = |scenario: Scenario| {
        std_rt::explore(&budget, 10, move |progress| {
            on_std::run::<E, H>(&scenario, progress)
        })
    };
    match property {
        Property::FailingSubset => crate::runner::drawn(drawn_subsets(6), 4, explore),
        _ => {
            let scenario = fixed(property, false);
            explore(scenario.clone()).map_err(|f| (f, scenario.to_string()))
        }
    }
}

/// Checks `property` of executor `E` and handling `H` under shuttle: the fixed
/// scenario (4 drawn ones of up to 4 tasks for `failing_subset`), 20 random and 20
/// PCT iterations each.
pub fn check_shuttle<E: Executor, H: Handling>(property: Property) -> Result<(), Finding> {
    assert!(
        property != Property::ResultTimeout,
        "result_timeout is checked on real threads only"
    );
    let budget = shuttle_rt::Budget {
        random: 20,
        pct: 20,
        base_seed: 0,
    };
    let explore = |scenario: Scenario| {
        shuttle_rt::explore(budget, move || {
            on_shuttle::run::<E, H>(&scenario, &Progress::new())
        })
        .map_err(|found| found.deadlock_means(property.on_deadlock()))
        .map_err(|found| match (property, found.violation.kind) {
            // shuttle fails a run on any panic that leaves its thread.
            (Property::Excepthook, Kind::Panic) => Found {
                violation: Violation::new(
                    "the excepthook to hear every detached thread's panic, and the panic to go no further",
                    format!(
                        "a detached thread's panic escaped its thread and the hook never heard it ({}): catch the panic in the detached thread and call the hook",
                        found.violation.seen
                    ),
                ),
                ..found
            },
            _ => found,
        })
    };
    match property {
        Property::FailingSubset => crate::runner::drawn(drawn_subsets(4), 4, explore),
        _ => {
            let scenario = fixed(property, false);
            crate::isolate::note(&scenario.to_string(), Some(property.on_deadlock()));
            explore(scenario.clone()).map_err(|f| (f, scenario.to_string()))
        }
    }
}

/// Checks `property` of executor `E` and handling `H` under loom: the small fixed
/// scenario (two tasks; a pool of one worker), exhaustive where it has two threads,
/// preemption-bounded where it has more.
pub fn check_loom<E: Executor, H: Handling>(property: Property) -> Result<(), Finding> {
    assert!(
        property.runtimes().contains(&Runtime::Loom),
        "{} is not checked under loom",
        property.name()
    );
    let scenario = fixed(property, true);
    // loom aborts the process on a deadlock: say first what one would mean.
    crate::isolate::note(&scenario.to_string(), Some(property.on_deadlock()));
    let shown = scenario.to_string();
    let bounds = match property {
        Property::ThroughQueue | Property::CaughtInWorker => loom_rt::Bounds::BOUNDED,
        _ => loom_rt::Bounds::EXHAUSTIVE,
    };
    loom_rt::explore(bounds, move || {
        on_loom::run::<E, H>(&scenario, &Progress::new())
    })
    .map_err(|found| (found.deadlock_means(property.on_deadlock()), shown))
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::errors::$rt as must;
        use crate::mutants::errors as m;
        use crate::mutants::errors::$rt as mh;
        use racecourse_impl::thread::errors::$rt as reference;
        use racecourse_impl::thread::executor::$rt::Pool;
        vec![
            Implementation {
                exercise: NAME,
                name: "techniques",
                role: Role::Reference,
                check: |p| $check::<Pool, reference::Techniques>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "mailbox_and_watcher",
                role: Role::MustPass,
                check: |p| $check::<Pool, must::MailboxAndWatcher>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "swallowed",
                role: Role::Mutant {
                    must_fail: &["caught_in_worker"],
                },
                check: |p| $check::<Pool, mh::Swallowed<reference::Techniques>>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "on_caller",
                role: Role::Mutant {
                    must_fail: &["caught_in_worker"],
                },
                check: |p| $check::<Pool, mh::OnCaller<reference::Techniques>>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "first_error_only",
                role: Role::Mutant {
                    must_fail: &["through_queue"],
                },
                check: |p| {
                    $check::<Pool, mh::FirstErrorOnly<reference::Techniques>>(Property::named(p))
                },
            },
            Implementation {
                exercise: NAME,
                name: "callback_for_every_task",
                role: Role::Mutant {
                    must_fail: &["error_callback"],
                },
                check: |p| {
                    $check::<Pool, mh::CallbackForEveryTask<reference::Techniques>>(
                        Property::named(p),
                    )
                },
            },
            Implementation {
                exercise: NAME,
                name: "unhooked",
                role: Role::Mutant {
                    must_fail: &["excepthook"],
                },
                check: |p| $check::<Pool, mh::Unhooked<reference::Techniques>>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "lost_panic_message",
                role: Role::Mutant {
                    must_fail: &["through_future", "failing_subset"],
                },
                check: |p| {
                    $check::<m::LostPanicMessage<Pool>, reference::Techniques>(Property::named(p))
                },
            },
            Implementation {
                exercise: NAME,
                name: "sticky_error",
                role: Role::Mutant {
                    must_fail: &["failing_subset"],
                },
                check: |p| {
                    $check::<m::StickyError<Pool>, reference::Techniques>(Property::named(p))
                },
            },
            Implementation {
                exercise: NAME,
                name: "cancels_on_timeout",
                role: Role::Mutant {
                    must_fail: &["result_timeout"],
                },
                check: |p| {
                    $check::<m::CancelsOnTimeout<Pool>, reference::Techniques>(Property::named(p))
                },
            },
        ]
    }};
}

/// The implementations (reference, must-pass, mutants) for `runtime`.
///
/// `result_timeout` is checked on std alone, so the std kill matrix holds
/// `cancels_on_timeout`: the task is held at a gate until the timeout has returned, so
/// no race decides it.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E6 errors tests for one or more implementations, named
/// `errors::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::errors! {
///     mine => my_crate::errors { executor: Pool, handling: Techniques },
/// }
/// ```
///
/// The executor is the student's E7 pool (re-export it in the module named here).
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! errors {
    (not_attempted) => {
        $crate::__not_attempted!(errors);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { executor: $exec:ident, handling: $handling:ident }),+ $(,)?) => {
        $crate::__errors_table! { errors [$($rt)*] [$($name [$($seg)::+] [$exec $handling]),+] }
    };
    ($($impls:tt)+) => {
        $crate::errors!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_say_what_runs() {
        let s = fixed(Property::ThroughQueue, false);
        assert_eq!(fixed(Property::CaughtInWorker, true).acts.len(), 2);
        assert_eq!(
            s.to_string(),
            "through_queue of 3 tasks, failing {0 (returns an error), 2 (panics)}"
        );
    }

    #[test]
    fn a_lost_message_is_named() {
        let acts = [Act::Panics];
        let v =
            judge_outcomes(&acts, &[Err(TaskError::Panicked("x".into()))], "result()").unwrap_err();
        assert!(v.seen.contains("message was lost"), "{v}");
    }
}
