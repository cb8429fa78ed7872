//! E7 executors that are correct but unusual: every property must accept them, every
//! run.

racecourse_spec::runtimes! {
    use std::collections::VecDeque;
    use std::time::{Duration, Instant};

    use racecourse_spec::executor::{outcome_of, Executor, Future, Shutdown, Task, TaskError};
    use rt::sync::{Arc, Condvar, Mutex};


    /// One task's own slot, with its own condition variable.
    struct Cell {
        outcome: Mutex<Option<Result<u64, TaskError>>>,
        filled: Condvar,
    }

    /// What the pool's threads share: tasks waiting, how many threads may still start
    /// one, and a count of finished tasks that `as_completed` and `shutdown` wait on.
    struct Gate {
        state: Mutex<GateState>,
        changed: Condvar,
    }

    struct GateState {
        /// Tasks a thread may still start (`max_workers` minus those running).
        permits: usize,
        /// Tasks submitted and not yet finished.
        unfinished: usize,
        shut: bool,
    }

    /// A thread per task, each waiting for one of `max_workers` permits before it runs
    /// its task; every future its own cell. No worker threads at all.
    pub struct Permits {
        gate: Arc<Gate>,
        threads: Mutex<Vec<rt::thread::JoinHandle<()>>>,
    }

    impl std::fmt::Debug for Permits {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Permits").finish_non_exhaustive()
        }
    }

    /// The future of a [`Permits`] task.
    pub struct OwnCell {
        cell: Arc<Cell>,
        gate: Arc<Gate>,
    }

    impl std::fmt::Debug for OwnCell {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OwnCell").finish_non_exhaustive()
        }
    }

    impl Executor for Permits {
        type Future = OwnCell;

        fn new(max_workers: usize) -> Self {
            Permits {
                gate: Arc::new(Gate {
                    state: Mutex::new(GateState { permits: max_workers, unfinished: 0, shut: false }),
                    changed: Condvar::new(),
                }),
                threads: Mutex::new(Vec::new()),
            }
        }

        fn submit(&self, task: Task) -> Result<OwnCell, Shutdown> {
            {
                let mut state = self.gate.state.lock().unwrap();
                if state.shut {
                    return Err(Shutdown);
                }
                state.unfinished += 1;
            }
            let cell = Arc::new(Cell { outcome: Mutex::new(None), filled: Condvar::new() });
            let thread = {
                let cell = Arc::clone(&cell);
                let gate = Arc::clone(&self.gate);
                rt::thread::spawn(move || {
                    let mut state = gate.state.lock().unwrap();
                    while state.permits == 0 {
                        state = gate.changed.wait(state).unwrap();
                    }
                    state.permits -= 1;
                    drop(state);
                    let outcome = outcome_of(task);
                    *cell.outcome.lock().unwrap() = Some(outcome);
                    cell.filled.notify_all();
                    let mut state = gate.state.lock().unwrap();
                    state.permits += 1;
                    state.unfinished -= 1;
                    gate.changed.notify_all();
                })
            };
            self.threads.lock().unwrap().push(thread);
            Ok(OwnCell { cell, gate: Arc::clone(&self.gate) })
        }

        fn as_completed(futures: Vec<OwnCell>) -> impl Iterator<Item = OwnCell> {
            let mut pending = futures;
            std::iter::from_fn(move || {
                let gate = Arc::clone(&pending.first()?.gate);
                let mut state = gate.state.lock().unwrap();
                loop {
                    if let Some(i) = pending.iter().position(|f| f.done()) {
                        return Some(pending.remove(i));
                    }
                    // A task files its outcome before it gives its permit back, under
                    // the gate's lock: a wake-up here always finds it filed.
                    state = gate.changed.wait(state).unwrap();
                }
            })
        }

        fn shutdown(&self, wait: bool) {
            self.gate.state.lock().unwrap().shut = true;
            if wait {
                let threads = std::mem::take(&mut *self.threads.lock().unwrap());
                for t in threads {
                    t.join().expect("a task thread panicked outside its task");
                }
            }
        }
    }

    impl Drop for Permits {
        fn drop(&mut self) {
            self.shutdown(true);
        }
    }

    impl Future for OwnCell {
        fn result(&self) -> Result<u64, TaskError> {
            let mut outcome = self.cell.outcome.lock().unwrap();
            loop {
                if let Some(o) = &*outcome {
                    return o.clone();
                }
                outcome = self.cell.filled.wait(outcome).unwrap();
            }
        }

        fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError> {
            let deadline = Instant::now() + timeout;
            let mut outcome = self.cell.outcome.lock().unwrap();
            loop {
                if let Some(o) = &*outcome {
                    return o.clone();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(TaskError::Timeout);
                }
                outcome = self.cell.filled.wait_timeout(outcome, left).unwrap().0;
            }
        }

        fn done(&self) -> bool {
            self.cell.outcome.lock().unwrap().is_some()
        }
    }

    /// Python's own way: no thread until work arrives; `submit` starts a worker while
    /// there are fewer than `max_workers` and not enough idle. Workers take the newest
    /// task first: the order tasks start in is no promise.
    pub struct Lazy {
        shared: Arc<LazyShared>,
        max_workers: usize,
        workers: Mutex<Vec<rt::thread::JoinHandle<()>>>,
    }

    impl std::fmt::Debug for Lazy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Lazy").field("max_workers", &self.max_workers).finish_non_exhaustive()
        }
    }

    struct LazyShared {
        state: Mutex<LazyState>,
        work: Condvar,
        finished: Condvar,
    }

    struct LazyState {
        queue: VecDeque<(usize, Task)>,
        outcomes: Vec<Option<Result<u64, TaskError>>>,
        idle: usize,
        shut: bool,
    }

    /// The future of a [`Lazy`] task.
    pub struct LazySlot {
        shared: Arc<LazyShared>,
        slot: usize,
    }

    impl std::fmt::Debug for LazySlot {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("LazySlot").field("slot", &self.slot).finish()
        }
    }

    fn lazy_worker(shared: &LazyShared) {
        let mut state = shared.state.lock().unwrap();
        loop {
            if let Some((slot, task)) = state.queue.pop_back() {
                drop(state);
                let outcome = outcome_of(task);
                state = shared.state.lock().unwrap();
                state.outcomes[slot] = Some(outcome);
                shared.finished.notify_all();
            } else if state.shut {
                return;
            } else {
                state.idle += 1;
                state = shared.work.wait(state).unwrap();
                state.idle -= 1;
            }
        }
    }

    impl Executor for Lazy {
        type Future = LazySlot;

        fn new(max_workers: usize) -> Self {
            Lazy {
                shared: Arc::new(LazyShared {
                    state: Mutex::new(LazyState {
                        queue: VecDeque::new(),
                        outcomes: Vec::new(),
                        idle: 0,
                        shut: false,
                    }),
                    work: Condvar::new(),
                    finished: Condvar::new(),
                }),
                max_workers,
                workers: Mutex::new(Vec::new()),
            }
        }

        fn submit(&self, task: Task) -> Result<LazySlot, Shutdown> {
            let mut state = self.shared.state.lock().unwrap();
            if state.shut {
                return Err(Shutdown);
            }
            let slot = state.outcomes.len();
            state.outcomes.push(None);
            state.queue.push_back((slot, task));
            // Idle workers may all be claimed by tasks already queued: start one more
            // while the queue outnumbers them.
            let start = state.queue.len() > state.idle;
            drop(state);
            let mut workers = self.workers.lock().unwrap();
            if start && workers.len() < self.max_workers {
                let shared = Arc::clone(&self.shared);
                workers.push(rt::thread::spawn(move || lazy_worker(&shared)));
            }
            drop(workers);
            self.shared.work.notify_one();
            Ok(LazySlot { shared: Arc::clone(&self.shared), slot })
        }

        fn as_completed(futures: Vec<LazySlot>) -> impl Iterator<Item = LazySlot> {
            let mut pending = futures;
            std::iter::from_fn(move || {
                let shared = Arc::clone(&pending.first()?.shared);
                let mut state = shared.state.lock().unwrap();
                loop {
                    if let Some(i) = pending.iter().position(|f| state.outcomes[f.slot].is_some()) {
                        return Some(pending.remove(i));
                    }
                    state = shared.finished.wait(state).unwrap();
                }
            })
        }

        fn shutdown(&self, wait: bool) {
            self.shared.state.lock().unwrap().shut = true;
            self.shared.work.notify_all();
            if wait {
                let workers = std::mem::take(&mut *self.workers.lock().unwrap());
                for w in workers {
                    w.join().expect("a worker panicked outside its task");
                }
            }
        }
    }

    impl Drop for Lazy {
        fn drop(&mut self) {
            self.shutdown(true);
        }
    }

    impl Future for LazySlot {
        fn result(&self) -> Result<u64, TaskError> {
            let mut state = self.shared.state.lock().unwrap();
            loop {
                if let Some(o) = &state.outcomes[self.slot] {
                    return o.clone();
                }
                state = self.shared.finished.wait(state).unwrap();
            }
        }

        fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError> {
            let deadline = Instant::now() + timeout;
            let mut state = self.shared.state.lock().unwrap();
            loop {
                if let Some(o) = &state.outcomes[self.slot] {
                    return o.clone();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(TaskError::Timeout);
                }
                state = self.shared.finished.wait_timeout(state, left).unwrap().0;
            }
        }

        fn done(&self) -> bool {
            self.shared.state.lock().unwrap().outcomes[self.slot].is_some()
        }
    }
}
