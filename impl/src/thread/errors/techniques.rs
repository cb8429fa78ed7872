use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use racecourse_spec::errors::{Handling, Hook, Report, Work};
use racecourse_spec::executor::{outcome_of, panic_message, Executor, Shutdown, Task, TaskError};
use rt::sync::{Arc, Mutex};

/// The techniques of the course's Q6, one per method; the excepthook is kept in the
/// value, shared with every detached thread it started.
pub struct Techniques {
    hook: Arc<Mutex<Option<std::sync::Arc<Hook>>>>,
}

impl std::fmt::Debug for Techniques {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Techniques").finish_non_exhaustive()
    }
}

impl Handling for Techniques {
    fn new() -> Self {
        Techniques {
            hook: Arc::new(Mutex::new(None)),
        }
    }

    fn caught_in_worker(&self, task: Task, report: Report) {
        let worker = rt::thread::spawn(move || {
            if let Err(error) = outcome_of(task) {
                report(error);
            }
        });
        // The worker catches its task's panic: it cannot have panicked itself.
        worker.join().expect("the worker caught its task's panic");
    }

    fn through_queue(&self, tasks: Vec<Task>) -> Vec<(usize, TaskError)> {
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let workers: Vec<_> = tasks
            .into_iter()
            .enumerate()
            .map(|(i, task)| {
                let queue = Arc::clone(&queue);
                rt::thread::spawn(move || {
                    if let Err(error) = outcome_of(task) {
                        queue.lock().unwrap().push_back((i, error));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker caught its task's panic");
        }
        // Every worker has put what it had: drain the queue, not one item of it.
        let mut errors = Vec::new();
        while let Some(error) = queue.lock().unwrap().pop_front() {
            errors.push(error);
        }
        errors
    }

    fn apply_async<E: Executor>(
        &self,
        pool: &E,
        task: Task,
        on_error: Report,
    ) -> Result<E::Future, Shutdown> {
        pool.submit(Box::new(move || {
            match catch_unwind(AssertUnwindSafe(task)) {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(message)) => {
                    on_error(TaskError::Failed(message.clone()));
                    Err(message)
                }
                Err(payload) => {
                    on_error(TaskError::Panicked(panic_message(&*payload)));
                    // The same panic goes on to the pool, which files it in the future.
                    resume_unwind(payload)
                }
            }
        }))
    }

    fn set_excepthook(&self, hook: Hook) {
        *self.hook.lock().unwrap() = Some(std::sync::Arc::new(hook));
    }

    fn spawn_detached(&self, work: Work) {
        let hook = Arc::clone(&self.hook);
        // Nobody joins this thread: its handle is dropped at once.
        drop(rt::thread::spawn(move || {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(work)) {
                let installed = hook.lock().unwrap().clone();
                match installed {
                    Some(hook) => hook(panic_message(&*payload)),
                    // No hook: Python's default, a line on standard error.
                    None => eprintln!(
                        "exception in a detached thread: {}",
                        panic_message(&*payload)
                    ),
                }
            }
        }));
    }
}
