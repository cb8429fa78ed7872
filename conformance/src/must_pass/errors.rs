//! E6 error handling that is correct in an unusual way.

racecourse_spec::runtimes! {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

    use racecourse_spec::errors::{Handling, Hook, Report, Work};
    use racecourse_spec::executor::{panic_message, Executor, Shutdown, Task, TaskError};
    use rt::sync::{Arc, Condvar, Mutex};

    /// The process-wide excepthook, as Python's `threading.excepthook` is: a static,
    /// not a field.
    static EXCEPTHOOK: std::sync::Mutex<Option<std::sync::Arc<Hook>>> = std::sync::Mutex::new(None);

    /// A mutex-guarded list and a condition variable, where a queue would do.
    struct Mailbox<T> {
        items: Mutex<Vec<T>>,
        arrived: Condvar,
    }

    impl<T> Mailbox<T> {
        fn new() -> Arc<Self> {
            Arc::new(Mailbox { items: Mutex::new(Vec::new()), arrived: Condvar::new() })
        }

        fn put(&self, item: T) {
            self.items.lock().unwrap().push(item);
            self.arrived.notify_all();
        }

        /// Waits until `n` items arrived and takes them.
        fn take(&self, n: usize) -> Vec<T> {
            let mut items = self.arrived.wait_while(self.items.lock().unwrap(), |items| items.len() < n).unwrap();
            std::mem::take(&mut *items)
        }
    }

    /// Every worker posts exactly one message (its error, or `None`) to a mailbox the
    /// caller reads until it has one per task; `apply_async` posts the task's outcome
    /// to a watcher thread that calls the error callback; the excepthook is a static.
    #[derive(Debug, Default)]
    pub struct MailboxAndWatcher;

    fn outcome_of(task: Task) -> Result<u64, TaskError> {
        catch_unwind(AssertUnwindSafe(task))
            .map_err(|payload| TaskError::Panicked(panic_message(&*payload)))
            .and_then(|outcome| outcome.map_err(TaskError::Failed))
    }

    impl Handling for MailboxAndWatcher {
        fn new() -> Self {
            MailboxAndWatcher
        }

        fn caught_in_worker(&self, task: Task, report: Report) {
            rt::thread::spawn(move || match outcome_of(task) {
                Ok(_) => drop(report),
                Err(error) => report(error),
            })
            .join()
            .expect("the worker caught its task's panic");
        }

        fn through_queue(&self, tasks: Vec<Task>) -> Vec<(usize, TaskError)> {
            let n = tasks.len();
            let mailbox = Mailbox::new();
            let workers: Vec<_> = tasks
                .into_iter()
                .enumerate()
                .map(|(i, task)| {
                    let mailbox = Arc::clone(&mailbox);
                    rt::thread::spawn(move || mailbox.put(outcome_of(task).err().map(|e| (i, e))))
                })
                .collect();
            // Every message first, then the joins.
            let errors = mailbox.take(n).into_iter().flatten().collect();
            for worker in workers {
                worker.join().expect("a worker caught its task's panic");
            }
            errors
        }

        fn apply_async<E: Executor>(&self, pool: &E, task: Task, on_error: Report) -> Result<E::Future, Shutdown> {
            let outcome = Mailbox::new();
            let posted = Arc::clone(&outcome);
            let future = pool.submit(Box::new(move || {
                match catch_unwind(AssertUnwindSafe(task)) {
                    Ok(value) => {
                        posted.put(value.clone().map_err(TaskError::Failed));
                        value
                    }
                    Err(payload) => {
                        posted.put(Err(TaskError::Panicked(panic_message(&*payload))));
                        resume_unwind(payload)
                    }
                }
            }))?;
            // The watcher: waits for the outcome, then calls or drops the callback.
            drop(rt::thread::spawn(move || {
                if let Some(Err(error)) = outcome.take(1).pop() {
                    on_error(error);
                }
            }));
            Ok(future)
        }

        fn set_excepthook(&self, hook: Hook) {
            *EXCEPTHOOK.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::sync::Arc::new(hook));
        }

        fn spawn_detached(&self, work: Work) {
            drop(rt::thread::spawn(move || {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(work)) {
                    let message = panic_message(&*payload);
                    let hook = EXCEPTHOOK.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    match hook {
                        Some(hook) => hook(message),
                        None => eprintln!("exception in a detached thread: {message}"),
                    }
                }
            }));
        }
    }
}
