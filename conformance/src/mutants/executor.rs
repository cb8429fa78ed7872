//! E7 executor mutants: pools that students write, each wrong in one way.
//!
//! They share one pool, [`Flawed`](on_std::Flawed), with the flaw chosen by a constant:
//! a correct queue-and-workers pool everywhere else, so that each mutant breaks exactly
//! the promise its name says.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;
    use std::time::Duration;

    use racecourse_spec::executor::{outcome_of, Executor, Future, Shutdown, Task, TaskError};
    use rt::sync::{Arc, Condvar, Mutex};

    /// The flaws, one per mutant.
    const SHARED_SLOT: u8 = 1;
    const THREAD_PER_TASK: u8 = 2;
    const IN_SUBMISSION_ORDER: u8 = 3;
    const ACCEPTS_AFTER_SHUTDOWN: u8 = 4;
    const DIES_WITH_PANIC: u8 = 5;
    const ONE_WORKER: u8 = 6;
    const SHUTDOWN_RETURNS_AT_ONCE: u8 = 7;
    const MAP_IN_COMPLETION_ORDER: u8 = 8;
    const LEAKS_WORKERS: u8 = 9;

    /// Seed 000's bug: every future reads one result slot, the last task's to finish.
    /// The program prints `Factorial of 4 is 5040` on every line.
    pub type SharedSlot = Flawed<SHARED_SLOT>;
    /// A new thread for every task: no limit at all on how many run at once.
    pub type ThreadPerTask = Flawed<THREAD_PER_TASK>;
    /// `as_completed` yields the futures in submission order, waiting for each.
    pub type InSubmissionOrder = Flawed<IN_SUBMISSION_ORDER>;
    /// `submit` after `shutdown` is accepted and runs the task.
    pub type AcceptsAfterShutdown = Flawed<ACCEPTS_AFTER_SHUTDOWN>;
    /// A worker whose task panicked files the error and then ends, never replaced: the
    /// pool loses a worker per panic.
    pub type DiesWithPanic = Flawed<DIES_WITH_PANIC>;
    /// One worker, whatever `max_workers` says: tasks that wait for each other never
    /// meet.
    pub type OneWorker = Flawed<ONE_WORKER>;
    /// `shutdown(true)` (and the drop) returns without waiting for queued tasks.
    pub type ShutdownReturnsAtOnce = Flawed<SHUTDOWN_RETURNS_AT_ONCE>;
    /// `map` returns the outcomes in the order the tasks finished.
    pub type MapInCompletionOrder = Flawed<MAP_IN_COMPLETION_ORDER>;
    /// `shutdown(true)` waits for every task, but never tells the workers to stop nor
    /// joins them: they wait for work for ever.
    pub type LeaksWorkers = Flawed<LEAKS_WORKERS>;

    struct State {
        queue: VecDeque<(usize, Task)>,
        outcomes: Vec<Option<Result<u64, TaskError>>>,
        /// The one slot of `SHARED_SLOT`.
        last: Option<Result<u64, TaskError>>,
        /// Slots in the order their tasks finished.
        finished_order: Vec<usize>,
        shut: bool,
    }

    struct Shared {
        state: Mutex<State>,
        work: Condvar,
        finished: Condvar,
    }

    /// A queue-and-workers pool with flaw `BUG`.
    pub struct Flawed<const BUG: u8> {
        shared: Arc<Shared>,
        workers: Mutex<Vec<rt::thread::JoinHandle<()>>>,
    }

    impl<const BUG: u8> std::fmt::Debug for Flawed<BUG> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Flawed").field("bug", &BUG).finish_non_exhaustive()
        }
    }


    fn file(shared: &Shared, slot: usize, outcome: Result<u64, TaskError>) {
        let mut state = shared.state.lock().unwrap();
        state.last = Some(outcome.clone());
        state.outcomes[slot] = Some(outcome);
        state.finished_order.push(slot);
        shared.finished.notify_all();
    }

    fn work<const BUG: u8>(shared: &Shared) {
        let mut state = shared.state.lock().unwrap();
        loop {
            if let Some((slot, task)) = state.queue.pop_front() {
                drop(state);
                let outcome = outcome_of(task);
                let panicked = matches!(outcome, Err(TaskError::Panicked(_)));
                file(shared, slot, outcome);
                if BUG == DIES_WITH_PANIC && panicked {
                    return;
                }
                state = shared.state.lock().unwrap();
            } else if state.shut {
                return;
            } else {
                state = shared.work.wait(state).unwrap();
            }
        }
    }

    impl<const BUG: u8> Executor for Flawed<BUG> {
        type Future = Handle<BUG>;

        fn new(max_workers: usize) -> Self {
            let shared = Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    outcomes: Vec::new(),
                    last: None,
                    finished_order: Vec::new(),
                    shut: false,
                }),
                work: Condvar::new(),
                finished: Condvar::new(),
            });
            let workers = match BUG {
                THREAD_PER_TASK => 0,
                ONE_WORKER => 1,
                _ => max_workers,
            };
            let workers = (0..workers)
                .map(|_| {
                    let shared = Arc::clone(&shared);
                    rt::thread::spawn(move || work::<BUG>(&shared))
                })
                .collect();
            Flawed { shared, workers: Mutex::new(workers) }
        }

        fn submit(&self, task: Task) -> Result<Handle<BUG>, Shutdown> {
            let mut state = self.shared.state.lock().unwrap();
            if state.shut && BUG != ACCEPTS_AFTER_SHUTDOWN {
                return Err(Shutdown);
            }
            let slot = state.outcomes.len();
            state.outcomes.push(None);
            if BUG == THREAD_PER_TASK || state.shut {
                drop(state);
                let shared = Arc::clone(&self.shared);
                let handle = rt::thread::spawn(move || file(&shared, slot, outcome_of(task)));
                self.workers.lock().unwrap().push(handle);
            } else {
                state.queue.push_back((slot, task));
                drop(state);
                self.shared.work.notify_one();
            }
            Ok(Handle { shared: Arc::clone(&self.shared), slot })
        }

        fn map<F>(&self, f: F, inputs: Vec<u64>) -> Result<Vec<Result<u64, TaskError>>, Shutdown>
        where
            F: Fn(u64) -> racecourse_spec::executor::Outcome + Send + Sync + 'static,
        {
            let f = std::sync::Arc::new(f);
            let futures = inputs
                .into_iter()
                .map(|x| {
                    let f = std::sync::Arc::clone(&f);
                    self.submit(Box::new(move || f(x)))
                })
                .collect::<Result<Vec<_>, Shutdown>>()?;
            if BUG == MAP_IN_COMPLETION_ORDER {
                Ok(Self::as_completed(futures).map(|f| f.result()).collect())
            } else {
                Ok(futures.iter().map(|f| f.result()).collect())
            }
        }

        fn as_completed(futures: Vec<Handle<BUG>>) -> impl Iterator<Item = Handle<BUG>> {
            Completed { pending: futures }
        }

        fn shutdown(&self, wait: bool) {
            if BUG == LEAKS_WORKERS {
                let mut state = self.shared.state.lock().unwrap();
                while wait && state.outcomes.iter().any(Option::is_none) {
                    state = self.shared.finished.wait(state).unwrap();
                }
                return;
            }
            self.shared.state.lock().unwrap().shut = true;
            self.shared.work.notify_all();
            if wait && BUG != SHUTDOWN_RETURNS_AT_ONCE {
                let workers = std::mem::take(&mut *self.workers.lock().unwrap());
                for w in workers {
                    let _ = w.join();
                }
            }
        }
    }

    impl<const BUG: u8> Drop for Flawed<BUG> {
        fn drop(&mut self) {
            self.shutdown(true);
        }
    }

    /// One task's future (all of them read one slot under `SHARED_SLOT`).
    pub struct Handle<const BUG: u8> {
        shared: Arc<Shared>,
        slot: usize,
    }

    impl<const BUG: u8> std::fmt::Debug for Handle<BUG> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Handle").field("slot", &self.slot).finish()
        }
    }

    impl<const BUG: u8> Handle<BUG> {
        fn read(&self, state: &State) -> Option<Result<u64, TaskError>> {
            let own = state.outcomes[self.slot].clone();
            if BUG == SHARED_SLOT && own.is_some() {
                state.last.clone()
            } else {
                own
            }
        }
    }

    impl<const BUG: u8> Future for Handle<BUG> {
        fn result(&self) -> Result<u64, TaskError> {
            let mut state = self.shared.state.lock().unwrap();
            loop {
                if let Some(outcome) = self.read(&state) {
                    return outcome;
                }
                state = self.shared.finished.wait(state).unwrap();
            }
        }

        fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError> {
            let state = self.shared.state.lock().unwrap();
            if let Some(outcome) = self.read(&state) {
                return outcome;
            }
            let (state, _) = self.shared.finished.wait_timeout(state, timeout).unwrap();
            self.read(&state).unwrap_or(Err(TaskError::Timeout))
        }

        fn done(&self) -> bool {
            self.shared.state.lock().unwrap().outcomes[self.slot].is_some()
        }
    }

    struct Completed<const BUG: u8> {
        pending: Vec<Handle<BUG>>,
    }

    impl<const BUG: u8> Iterator for Completed<BUG> {
        type Item = Handle<BUG>;

        fn next(&mut self) -> Option<Handle<BUG>> {
            if self.pending.is_empty() {
                return None;
            }
            if BUG == IN_SUBMISSION_ORDER {
                let first = self.pending.remove(0);
                let _ = first.result();
                return Some(first);
            }
            let shared = Arc::clone(&self.pending[0].shared);
            let mut state = shared.state.lock().unwrap();
            loop {
                // The earliest finished first, as Python's as_completed does.
                let next = state
                    .finished_order
                    .iter()
                    .find_map(|s| self.pending.iter().position(|f| f.slot == *s));
                if let Some(i) = next {
                    return Some(self.pending.remove(i));
                }
                state = shared.finished.wait(state).unwrap();
            }
        }
    }
}
