//! E6 errors mutants. The executor mutants wrap a correct pool and spoil one thing;
//! the handling mutants wrap a correct handling and replace one technique.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use racecourse_spec::executor::{Executor, Future, Shutdown, Task, TaskError};

/// A pool whose panics lose their message: the worker re-raises every panic as one
/// fixed panic ("the task panicked"), as a student who catches and re-raises a
/// generic exception does.
#[derive(Debug)]
pub struct LostPanicMessage<P>(P);

impl<P: Executor> Executor for LostPanicMessage<P> {
    type Future = P::Future;

    fn new(max_workers: usize) -> Self {
        LostPanicMessage(P::new(max_workers))
    }

    fn submit(&self, task: Task) -> Result<P::Future, Shutdown> {
        self.0.submit(Box::new(move || {
            match catch_unwind(AssertUnwindSafe(task)) {
                Ok(outcome) => outcome,
                // The bug: the payload, and with it the message, is thrown away.
                Err(_) => std::panic::panic_any("the task panicked"),
            }
        }))
    }

    fn as_completed(futures: Vec<P::Future>) -> impl Iterator<Item = P::Future> {
        P::as_completed(futures)
    }

    fn shutdown(&self, wait: bool) {
        self.0.shutdown(wait)
    }
}

/// A pool that keeps the last error: a task that succeeds after another task failed
/// is reported with that error (a worker's `error` variable that is never reset).
#[derive(Debug)]
pub struct StickyError<P> {
    pool: P,
    last_error: Arc<Mutex<Option<String>>>,
}

impl<P: Executor> Executor for StickyError<P> {
    type Future = P::Future;

    fn new(max_workers: usize) -> Self {
        StickyError {
            pool: P::new(max_workers),
            last_error: Arc::new(Mutex::new(None)),
        }
    }

    fn submit(&self, task: Task) -> Result<P::Future, Shutdown> {
        let last_error = Arc::clone(&self.last_error);
        self.pool.submit(Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(task));
            let mut last = last_error.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Ok(Ok(value)) => match last.clone() {
                    // The bug: the error of an earlier task stands for this one's value.
                    Some(error) => Err(error),
                    None => Ok(value),
                },
                Ok(Err(message)) => {
                    *last = Some(message.clone());
                    Err(message)
                }
                Err(payload) => {
                    *last = Some(racecourse_spec::executor::panic_message(&*payload));
                    drop(last);
                    resume_unwind(payload)
                }
            }
        }))
    }

    fn as_completed(futures: Vec<P::Future>) -> impl Iterator<Item = P::Future> {
        P::as_completed(futures)
    }

    fn shutdown(&self, wait: bool) {
        self.pool.shutdown(wait)
    }
}

/// A pool whose `result_timeout` cancels the task when it times out (a student who
/// calls `future.cancel()` in the `except TimeoutError`): the future then holds a
/// cancellation, whatever the task gives.
#[derive(Debug)]
pub struct CancelsOnTimeout<P>(P);

/// The future of [`CancelsOnTimeout`].
#[derive(Debug)]
pub struct Cancellable<F> {
    inner: F,
    cancelled: AtomicBool,
}

impl<F: Future> Future for Cancellable<F> {
    fn result(&self) -> Result<u64, TaskError> {
        let outcome = self.inner.result();
        if self.cancelled.load(Ordering::SeqCst) {
            Err(TaskError::Failed("cancelled after a timeout".to_string()))
        } else {
            outcome
        }
    }

    fn result_timeout(&self, timeout: Duration) -> Result<u64, TaskError> {
        let outcome = self.inner.result_timeout(timeout);
        if outcome == Err(TaskError::Timeout) {
            // The bug: a timeout is taken for the end of the task.
            self.cancelled.store(true, Ordering::SeqCst);
        }
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(TaskError::Timeout);
        }
        outcome
    }

    fn done(&self) -> bool {
        self.inner.done()
    }
}

impl<P: Executor> Executor for CancelsOnTimeout<P>
where
    P::Future: std::fmt::Debug,
{
    type Future = Cancellable<P::Future>;

    fn new(max_workers: usize) -> Self {
        CancelsOnTimeout(P::new(max_workers))
    }

    fn submit(&self, task: Task) -> Result<Self::Future, Shutdown> {
        Ok(Cancellable {
            inner: self.0.submit(task)?,
            cancelled: AtomicBool::new(false),
        })
    }

    fn as_completed(futures: Vec<Self::Future>) -> impl Iterator<Item = Self::Future> {
        // The order of `as_completed` is not this mutant's bug: keep it, and forget
        // which were cancelled (no property asks).
        let inner: Vec<P::Future> = futures.into_iter().map(|f| f.inner).collect();
        P::as_completed(inner).map(|inner| Cancellable {
            inner,
            cancelled: AtomicBool::new(false),
        })
    }

    fn shutdown(&self, wait: bool) {
        self.0.shutdown(wait)
    }
}

racecourse_spec::runtimes! {
    use racecourse_spec::errors::{Handling, Hook, Report, Work};
    use racecourse_spec::executor::{Executor, Shutdown, Task};

    /// Delegates every technique but the ones a mutant replaces.
    macro_rules! delegate {
        (caught_in_worker) => {
            fn caught_in_worker(&self, task: Task, report: Report) {
                self.0.caught_in_worker(task, report)
            }
        };
        (through_queue) => {
            fn through_queue(&self, tasks: Vec<Task>) -> Vec<(usize, racecourse_spec::executor::TaskError)> {
                self.0.through_queue(tasks)
            }
        };
        (apply_async) => {
            fn apply_async<E: Executor>(&self, pool: &E, task: Task, on_error: Report) -> Result<E::Future, Shutdown> {
                self.0.apply_async(pool, task, on_error)
            }
        };
        (hook) => {
            fn set_excepthook(&self, hook: Hook) {
                self.0.set_excepthook(hook)
            }
            fn spawn_detached(&self, work: Work) {
                self.0.spawn_detached(work)
            }
        };
    }

    /// Runs `task` here, its error or panic caught.
    fn outcome_of(task: Task) -> Result<u64, racecourse_spec::executor::TaskError> {
        use racecourse_spec::executor::{panic_message, TaskError};
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(task)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(TaskError::Failed(message)),
            Err(payload) => Err(TaskError::Panicked(panic_message(&*payload))),
        }
    }

    /// `caught_in_worker` catches the error in the worker and only prints it there (the
    /// seeds' `print(f"Error: {e}")`): the reporter never hears of it.
    #[derive(Debug)]
    pub struct Swallowed<H>(H);

    impl<H: Handling> Handling for Swallowed<H> {
        fn new() -> Self {
            Swallowed(H::new())
        }
        fn caught_in_worker(&self, task: Task, report: Report) {
            let worker = rt::thread::spawn(move || {
                if let Err(error) = outcome_of(task) {
                    // The bug: printed, not reported.
                    eprintln!("the error in the worker: {error}");
                    drop(report);
                }
            });
            worker.join().expect("the worker caught its task's panic");
        }
        delegate!(through_queue);
        delegate!(apply_async);
        delegate!(hook);
    }

    /// `caught_in_worker` runs the task on the caller's thread, inside a `catch_unwind`:
    /// the error is caught, but not in a worker.
    #[derive(Debug)]
    pub struct OnCaller<H>(H);

    impl<H: Handling> Handling for OnCaller<H> {
        fn new() -> Self {
            OnCaller(H::new())
        }
        fn caught_in_worker(&self, task: Task, report: Report) {
            if let Err(error) = outcome_of(task) {
                report(error);
            }
        }
        delegate!(through_queue);
        delegate!(apply_async);
        delegate!(hook);
    }

    /// `through_queue` reads the queue once after the joins, the seeds' `if not
    /// q.empty(): error = q.get()`: with two failing tasks, one error is lost.
    #[derive(Debug)]
    pub struct FirstErrorOnly<H>(H);

    impl<H: Handling> Handling for FirstErrorOnly<H> {
        fn new() -> Self {
            FirstErrorOnly(H::new())
        }
        fn through_queue(&self, tasks: Vec<Task>) -> Vec<(usize, racecourse_spec::executor::TaskError)> {
            let queue = rt::sync::Arc::new(rt::sync::Mutex::new(std::collections::VecDeque::new()));
            let workers: Vec<_> = tasks
                .into_iter()
                .enumerate()
                .map(|(i, task)| {
                    let queue = rt::sync::Arc::clone(&queue);
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
            // The bug: `if`, where a loop belongs.
            let first = queue.lock().unwrap().pop_front();
            first.into_iter().collect()
        }
        delegate!(caught_in_worker);
        delegate!(apply_async);
        delegate!(hook);
    }

    /// `apply_async` hands every task's outcome to the error callback, the value of a
    /// task that succeeded included (the same function given as `callback` and
    /// `error_callback`).
    #[derive(Debug)]
    pub struct CallbackForEveryTask<H>(H);

    impl<H: Handling> Handling for CallbackForEveryTask<H> {
        fn new() -> Self {
            CallbackForEveryTask(H::new())
        }
        fn apply_async<E: Executor>(&self, pool: &E, task: Task, on_error: Report) -> Result<E::Future, Shutdown> {
            use racecourse_spec::executor::TaskError;
            pool.submit(Box::new(move || {
                let outcome = task();
                match &outcome {
                    Ok(value) => on_error(TaskError::Failed(format!("result: {value}"))),
                    Err(message) => on_error(TaskError::Failed(message.clone())),
                }
                outcome
            }))
        }
        delegate!(caught_in_worker);
        delegate!(through_queue);
        delegate!(hook);
    }

    /// `spawn_detached` starts a plain thread: the hook is installed but never called,
    /// and the panic escapes the thread (an uncaught panic: a crash under shuttle).
    #[derive(Debug)]
    pub struct Unhooked<H>(H);

    impl<H: Handling> Handling for Unhooked<H> {
        fn new() -> Self {
            Unhooked(H::new())
        }
        fn set_excepthook(&self, hook: Hook) {
            self.0.set_excepthook(hook)
        }
        fn spawn_detached(&self, work: Work) {
            drop(rt::thread::spawn(work));
        }
        delegate!(caught_in_worker);
        delegate!(through_queue);
        delegate!(apply_async);
    }
}
