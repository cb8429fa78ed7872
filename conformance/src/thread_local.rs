//! E5 thread-local storage suite: one value per thread.
//!
//! Properties (see `EXERCISES.md`, E5 "Thread-local storage"):
//! - `isolated`: a value set in one thread is invisible to every other thread, and
//!   each thread starts from the initial value;
//! - `per_instance`: two storages are independent (one `thread_local!` static shared by
//!   every storage is not).
//!
//! Every thread checks its own reads as it goes and reports the first wrong one.

use racecourse_spec::thread_local::ThreadLocal;

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "thread_local";

properties! { $ __thread_local_table;
    /// A value set in one thread is invisible to every other thread, and each thread
    /// starts from the initial value.
    Isolated => isolated [std shuttle loom],
    /// Two storages are independent: in one thread, setting one leaves the other's
    /// value as it was.
    PerInstance => per_instance [std shuttle loom],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5",
    title: "thread-local storage",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "storage",
        bound: "racecourse_spec::thread_local::ThreadLocal",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The initial value of every storage in the scenarios (not 0, so that a storage that
/// starts from a default is seen).
pub const INITIAL: u32 = 7;

/// The value thread `thread` sets in round `round`: the thread is legible in it
/// (thread 0, the one that creates the storage, sets 1000, 1001, ..; thread 2 sets
/// 200, 201, ..).
fn value(thread: usize, round: usize) -> u32 {
    let base = if thread == 0 { 1000 } else { 100 * thread };
    (base + round) as u32
}

/// Which thread set `v`, for messages.
fn setter(v: u32) -> String {
    match v {
        INITIAL => "the initial value".to_string(),
        1000.. => "a value set by thread 0".to_string(),
        100..=999 => format!("a value set by thread {}", v / 100),
        _ => "a value no thread set".to_string(),
    }
}

/// How many threads set values, and how many times each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Threads started besides thread 0, which creates the storage.
    pub threads: usize,
    /// Values each thread sets (and reads back).
    pub rounds: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a storage with initial value {INITIAL}; thread 0 reads it, sets it and starts {} thread(s); each thread reads it, then sets and reads back {} value(s), yielding in between",
            self.threads, self.rounds
        )
    }
}

/// The scenario of `per_instance`, in words.
pub const PER_INSTANCE_SCENARIO: &str =
    "in thread 1: a = new(7), b = new(8); a.set(1), b.set(2), a.get(), b.get(), a.set(3), b.get()";

racecourse_spec::runtimes! {
    use crate::runner::Progress;

    /// Checks the first read of `thread`, then `rounds` set-and-read-back pairs.
    fn use_storage<T: ThreadLocal>(storage: &T, thread: usize, rounds: usize, progress: &Progress) -> Result<(), Violation> {
        let first = storage.get();
        if first != INITIAL {
            return Err(Violation::new(
                format!("each thread to start from the initial value {INITIAL}"),
                format!("thread {thread} got {first} before setting anything, {}", setter(first)),
            ));
        }
        progress.tick();
        for round in 0..rounds {
            if progress.should_stop() {
                break;
            }
            let mine = value(thread, round);
            storage.set(mine);
            rt::thread::yield_now();
            let got = storage.get();
            if got != mine {
                return Err(Violation::new(
                    "a value set in one thread to be invisible to every other thread",
                    format!("thread {thread} set {mine}, then got {got}, {}", setter(got)),
                ));
            }
            progress.tick();
        }
        Ok(())
    }

    /// Runs `shape` once: thread 0 creates the storage, reads it and sets a value
    /// before starting the others, then uses it alongside them.
    pub fn run_isolation<T: ThreadLocal>(shape: Shape, progress: &Progress) -> Result<(), Violation> {
        let storage = rt::sync::Arc::new(T::new(INITIAL));
        let first = storage.get();
        if first != INITIAL {
            return Err(Violation::new(
                format!("each thread to start from the initial value {INITIAL}"),
                format!("thread 0 got {first} from a new storage"),
            ));
        }
        storage.set(value(0, 0));
        let handles: Vec<_> = (1..=shape.threads)
            .map(|thread| {
                let storage = rt::sync::Arc::clone(&storage);
                let progress = progress.clone();
                rt::thread::spawn(move || use_storage(&*storage, thread, shape.rounds, &progress))
            })
            .collect();
        for round in 0..shape.rounds {
            if progress.should_stop() {
                break;
            }
            let mine = value(0, round);
            storage.set(mine);
            rt::thread::yield_now();
            let got = storage.get();
            if got != mine {
                return Err(Violation::new(
                    "a value set in one thread to be invisible to every other thread",
                    format!("thread 0 set {mine}, then got {got}, {}", setter(got)),
                ));
            }
            progress.tick();
        }
        let mut outcome = Ok(());
        for (i, h) in handles.into_iter().enumerate() {
            let r = h.join().unwrap_or_else(|payload| Err(crate::runner::panicked(format!("in thread {}", i + 1), payload)));
            if outcome.is_ok() {
                outcome = r;
            }
        }
        outcome
    }

    /// Runs the scenario of `per_instance` once, in a thread started for it (a fresh
    /// thread, and shuttle's PCT scheduler wants a test that starts one).
    pub fn run_instances<T: ThreadLocal>() -> Result<(), Violation> {
        rt::thread::spawn(instances::<T>)
            .join()
            .unwrap_or_else(|payload| Err(crate::runner::panicked("in thread 1".to_string(), payload)))
    }

    /// The scenario of `per_instance`, in the calling thread.
    fn instances<T: ThreadLocal>() -> Result<(), Violation> {
        let a = T::new(7);
        let b = T::new(8);
        let expected = "two storages to be independent: setting one leaves the other as it was";
        a.set(1);
        b.set(2);
        let (got_a, got_b) = (a.get(), b.get());
        if (got_a, got_b) != (1, 2) {
            return Err(Violation::new(
                expected,
                format!("after a.set(1) and b.set(2) in one thread, a.get() returned {got_a} and b.get() {got_b}"),
            ));
        }
        a.set(3);
        let got_b = b.get();
        if got_b != 2 {
            return Err(Violation::new(
                expected,
                format!("after a.set(3), b.get() returned {got_b}, not the 2 it was set to"),
            ));
        }
        Ok(())
    }
}

fn scenario(property: Property, shape: Shape) -> String {
    match property {
        Property::Isolated => shape.to_string(),
        Property::PerInstance => PER_INSTANCE_SCENARIO.to_string(),
    }
}

/// Checks `property` of `T` on std threads: 4 threads of 200 values each, 5 trials,
/// within the std time budget.
pub fn check_std<T: ThreadLocal>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    let shape = Shape {
        threads: 4,
        rounds: 200,
    };
    std_rt::explore(&budget, 5, move |progress| match property {
        Property::Isolated => on_std::run_isolation::<T>(shape, progress),
        Property::PerInstance => {
            let r = on_std::run_instances::<T>();
            progress.tick();
            r
        }
    })
    .map_err(|f| (f, scenario(property, shape)))
}

/// Checks `property` of `T` under shuttle: 3 threads of 2 values each, 50 random and
/// 50 PCT iterations (random only for `per_instance`).
pub fn check_shuttle<T: ThreadLocal>(property: Property) -> Result<(), Finding> {
    let shape = Shape {
        threads: 3,
        rounds: 2,
    };
    // `per_instance` runs one thread at a time: shuttle's PCT scheduler refuses a
    // test without concurrency, and has nothing to explore there.
    let budget = shuttle_rt::Budget {
        random: 50,
        pct: if property == Property::PerInstance {
            0
        } else {
            50
        },
        base_seed: 0,
    };
    shuttle_rt::explore(budget, move || match property {
        Property::Isolated => on_shuttle::run_isolation::<T>(shape, &Progress::new()),
        Property::PerInstance => on_shuttle::run_instances::<T>(),
    })
    .map_err(|f| (f, scenario(property, shape)))
}

/// Checks `property` of `T` under loom: thread 0 and one other thread setting one
/// value each, exhaustive.
pub fn check_loom<T: ThreadLocal>(property: Property) -> Result<(), Finding> {
    let shape = Shape {
        threads: 1,
        rounds: 1,
    };
    crate::isolate::note(&scenario(property, shape), None);
    let result: Result<(), Found> =
        loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || match property {
            Property::Isolated => on_loom::run_isolation::<T>(shape, &Progress::new()),
            Property::PerInstance => on_loom::run_instances::<T>(),
        });
    result.map_err(|f| (f, scenario(property, shape)))
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::thread_local::$rt as must;
        use crate::mutants::thread_local::$rt as m;
        use racecourse_impl::thread::thread_local::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "per_thread",
                role: Role::Reference,
                check: |p| $check::<reference::PerThread>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "by_thread_id",
                role: Role::MustPass,
                check: |p| $check::<must::ByThreadId>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "shared_cell",
                role: Role::Mutant {
                    must_fail: &["isolated"],
                },
                check: |p| $check::<m::SharedCell>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "ignores_initial",
                role: Role::Mutant {
                    must_fail: &["isolated"],
                },
                check: |p| $check::<m::IgnoresInitial>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "one_static",
                role: Role::Mutant {
                    must_fail: &["per_instance"],
                },
                check: |p| $check::<m::OneStatic>(Property::named(p)),
            },
        ]
    }};
}

/// The thread-local implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E5 thread-local tests for one or more implementations, named
/// `thread_local::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::thread_local! {
///     mine => my_crate::thread_local { storage: PerThread },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! thread_local {
    (not_attempted) => {
        $crate::__not_attempted!(thread_local);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { storage: $ty:ident }),+ $(,)?) => {
        $crate::__thread_local_table! { thread_local [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::thread_local!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}
