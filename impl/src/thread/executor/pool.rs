use std::collections::VecDeque;
use std::time::{Duration, Instant};

use racecourse_spec::executor::{outcome_of, Executor, Future, Shutdown, Task, TaskError};
use rt::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What the workers and the futures share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when a task is queued or the pool shuts down: idle workers wait here.
    work: Condvar,
    /// Signalled when a task finishes: futures, `as_completed` and `shutdown` wait here.
    finished: Condvar,
}

/// Everything behind the pool's one lock.
struct State {
    /// Tasks not yet started, with the slot of each.
    queue: VecDeque<(usize, Task)>,
    /// Per submitted task, its outcome once it finished: its own slot, never shared.
    outcomes: Vec<Option<Result<u64, TaskError>>>,
    /// Whether `shutdown` was called.
    shut: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A task runs outside the lock, so no panic can poison it.
        self.state.lock().unwrap()
    }
}

/// A pool of `max_workers` threads, all started by `new`, taking tasks from one queue
/// in submission order.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Mutex<Vec<rt::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// One worker: takes the next task, runs it outside the lock (a panic caught and kept
/// as the task's error), files its outcome, until the pool is shut down and the queue
/// is empty.
fn work(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if let Some((slot, task)) = state.queue.pop_front() {
            drop(state);
            let outcome = outcome_of(task);
            state = shared.lock();
            state.outcomes[slot] = Some(outcome);
            shared.finished.notify_all();
        } else if state.shut {
            return;
        } else {
            state = shared.work.wait(state).unwrap();
        }
    }
}

impl Executor for Pool {
    type Future = Slot;

    fn new(max_workers: usize) -> Self {
        assert!(max_workers >= 1, "an executor needs at least one worker");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                outcomes: Vec::new(),
                shut: false,
            }),
            work: Condvar::new(),
            finished: Condvar::new(),
        });
        let workers = (0..max_workers)
            .map(|_| {
                let shared = Arc::clone(&shared);
                rt::thread::spawn(move || work(&shared))
            })
            .collect();
        Pool {
            shared,
            workers: Mutex::new(workers),
        }
    }

    fn submit(&self, task: Task) -> Result<Slot, Shutdown> {
        let mut state = self.shared.lock();
        if state.shut {
            return Err(Shutdown);
        }
        let slot = state.outcomes.len();
        state.outcomes.push(None);
        state.queue.push_back((slot, task));
        drop(state);
        self.shared.work.notify_one();
        Ok(Slot {
            shared: Arc::clone(&self.shared),
            slot,
        })
    }

    fn as_completed(futures: Vec<Slot>) -> impl Iterator<Item = Slot> {
        AsCompleted { pending: futures }
    }

    fn shutdown(&self, wait: bool) {
        self.shared.lock().shut = true;
        self.shared.work.notify_all();
        if wait {
            let workers = std::mem::take(&mut *self.workers.lock().unwrap());
            for worker in workers {
                // A worker catches its tasks' panics: it cannot have panicked itself.
                worker.join().expect("a worker panicked outside its task");
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

/// The future of one task: its index in the pool's outcomes.
pub struct Slot {
    shared: Arc<Shared>,
    slot: usize,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("slot", &self.slot).finish()
    }
}

impl Future for Slot {
    fn result(&self) -> Result<u64, TaskError> {
        let mut state = self.shared.lock();
        loop {
            if let Some(outcome) = &state.outcomes[self.slot] {
                return outcome.clone();
            }
            state = self.shared.finished.wait(state).unwrap();
        }
    }

    fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(outcome) = &state.outcomes[self.slot] {
                return outcome.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TaskError::Timeout);
            }
            state = self.shared.finished.wait_timeout(state, left).unwrap().0;
        }
    }

    fn done(&self) -> bool {
        self.shared.lock().outcomes[self.slot].is_some()
    }
}

/// `as_completed`: yields a done future whenever one is pending, else waits for the
/// next task to finish.
struct AsCompleted {
    pending: Vec<Slot>,
}

impl Iterator for AsCompleted {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        let shared = Arc::clone(&self.pending.first()?.shared);
        assert!(
            self.pending.iter().all(|f| Arc::ptr_eq(&f.shared, &shared)),
            "as_completed takes the futures of one executor: call it once per executor"
        );
        let mut state = shared.lock();
        loop {
            if let Some(i) = self
                .pending
                .iter()
                .position(|f| state.outcomes[f.slot].is_some())
            {
                return Some(self.pending.remove(i));
            }
            state = shared.finished.wait(state).unwrap();
        }
    }
}
