//! Wrong process pools (E2): each is the reference [`Pool`] behind a wrapper that
//! adds one defect a student could write, `Flawed<BUG>`, so the defect is the only
//! difference. The suite must reject each (see the kill matrix). Most are E2's; the
//! last two are rejected by E3's (`cpu_bound`), whose results are large and whose
//! maps are split into sub-ranges.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use racecourse_impl::process::job::Outcomes;
use racecourse_impl::process::process_pool::{Pending, Pool};
use racecourse_spec::job::{Job, JobError, Wire};
use racecourse_spec::process_pool::{AsyncResult, Callbacks, PoolError, ProcessPool};

/// `map` gives the results in the order the items completed.
pub const COMPLETION_ORDER: u8 = 1;
/// `map` splits its input in two and returns the second half's results first.
pub const REVERSED_CHUNKS: u8 = 2;
/// `new(n)` starts one worker whatever `n`.
pub const ONE_WORKER: u8 = 3;
/// `new(n)` starts `n + 1` workers.
pub const EXTRA_WORKER: u8 = 4;
/// Every call gets a fresh worker process of its own (no reuse, no bound).
pub const WORKER_PER_TASK: u8 = 5;
/// `apply` runs the job in the caller's process.
pub const RUNS_IN_CALLER: u8 = 6;
/// The error callback is never called.
pub const SKIPS_ERROR_CALLBACK: u8 = 7;
/// A call whose worker died never completes.
pub const DEAD_WORKER_HANGS: u8 = 8;
/// A dead worker is not replaced: once `n` have died, nothing runs any more.
pub const NOT_REPLACED: u8 = 9;
/// `close` is remembered but work is still accepted.
pub const ACCEPTS_AFTER_CLOSE: u8 = 10;
/// `join` returns at once.
pub const JOIN_AT_ONCE: u8 = 11;
/// `terminate` waits for the running jobs instead of killing the workers.
pub const TERMINATE_WAITS: u8 = 12;
/// Dropping the pool leaves its workers running.
pub const LEAKS_ON_DROP: u8 = 13;
/// `new(0)` gives a pool (of one worker).
pub const ZERO_ACCEPTED: u8 = 14;
/// Each result comes back in a message of its own, read with one `read` into a
/// buffer of 64 KiB (a pipe's capacity): a longer reply is cut, and decoding it fails.
pub const TRUNCATED_REPLIES: u8 = 15;
/// `map` cuts its input into `n` chunks of `len / n` items, one per worker, and
/// forgets the `len % n` items left over.
pub const DROPS_REMAINDER: u8 = 16;

/// What TRUNCATED_REPLIES reads of a reply at most.
const READ_BUFFER: usize = 64 * 1024;

/// TRUNCATED_REPLIES: `result` as the worker sent it (a batch of one outcome), cut at
/// [`READ_BUFFER`] bytes and decoded again, as the reference decodes a reply.
fn through_one_read<R: Wire>(result: R) -> Result<R, JobError> {
    let reply = racecourse_impl::process::job::encode(&Outcomes::new(vec![Ok(result)]));
    let read = &reply[..reply.len().min(READ_BUFFER)];
    let mut outcomes = racecourse_impl::process::job::decode_outcomes::<R>(read)?;
    outcomes.pop().unwrap_or_else(|| {
        Err(JobError::Lost(
            "the worker sent a number of results other than one".into(),
        ))
    })
}

/// The reference pool with the defect `BUG` (one of the constants above).
#[derive(Debug)]
pub struct Flawed<const BUG: u8> {
    inner: Option<Pool>,
    processes: usize,
    closed: AtomicBool,
    crashes: Arc<AtomicUsize>,
    /// WORKER_PER_TASK: the one-worker pools of every call, kept alive.
    extra: Mutex<Vec<Pool>>,
}

/// Polls for a result, waiting at most the given time (`None`: until it is ready).
type Poll<T> = Box<dyn FnMut(Option<Duration>) -> Option<Result<T, PoolError>> + Send>;

/// A pending result computed by a poll function (`None`: block until ready).
pub struct Deferred<T> {
    poll: Poll<T>,
    taken: bool,
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("taken", &self.taken)
            .finish()
    }
}

impl<T: Send + 'static> Deferred<T> {
    fn ready_now(outcome: Result<T, PoolError>) -> Self {
        let mut outcome = Some(outcome);
        Deferred {
            poll: Box::new(move |_| Some(outcome.take().unwrap_or(Err(PoolError::Taken)))),
            taken: false,
        }
    }

    fn of(mut pending: Pending<T>) -> Self {
        Deferred {
            poll: Box::new(move |timeout| loop {
                match pending.get_timeout(timeout.unwrap_or(Duration::from_secs(1))) {
                    Err(PoolError::Timeout(_)) if timeout.is_none() => continue,
                    Err(PoolError::Timeout(_)) => return None,
                    outcome => return Some(outcome),
                }
            }),
            taken: false,
        }
    }

    fn map<U: Send + 'static>(
        mut self,
        mut f: impl FnMut(Result<T, PoolError>) -> Option<Result<U, PoolError>> + Send + 'static,
    ) -> Deferred<U> {
        Deferred {
            poll: Box::new(move |timeout| (self.poll)(timeout).and_then(&mut f)),
            taken: false,
        }
    }
}

impl<T: Send + 'static> AsyncResult<T> for Deferred<T> {
    fn get(mut self) -> Result<T, PoolError> {
        loop {
            if let Some(outcome) = (self.poll)(None) {
                return outcome;
            }
            // DEAD_WORKER_HANGS: a result that never comes; wait for the end of the
            // process like a handler blocked on a dead pipe.
            std::thread::park();
        }
    }

    fn get_timeout(&mut self, timeout: Duration) -> Result<T, PoolError> {
        if self.taken {
            return Err(PoolError::Taken);
        }
        match (self.poll)(Some(timeout)) {
            Some(outcome) => {
                self.taken = true;
                outcome
            }
            None => Err(PoolError::Timeout(timeout)),
        }
    }

    fn ready(&self) -> bool {
        // Only the checks' get_timeout is used on mutants.
        false
    }
}

impl<const BUG: u8> Flawed<BUG> {
    fn pool(&self) -> &Pool {
        self.inner.as_ref().expect("the pool lives until dropped")
    }

    fn hang_if_crashed<T: Send + 'static>(&self, deferred: Deferred<T>) -> Deferred<T> {
        let crashes = Arc::clone(&self.crashes);
        let n = self.processes;
        let mut hung = false;
        deferred.map(move |outcome| {
            let crashed = matches!(
                &outcome,
                Err(PoolError::Job {
                    error: JobError::Crashed(_),
                    ..
                })
            );
            if crashed {
                crashes.fetch_add(1, Ordering::SeqCst);
            }
            match BUG {
                DEAD_WORKER_HANGS if crashed => hung = true,
                NOT_REPLACED if crashes.load(Ordering::SeqCst) > n && !crashed => hung = true,
                _ => {}
            }
            (!hung).then_some(outcome)
        })
    }

    fn accepting(&self) -> Result<(), PoolError> {
        if self.closed.load(Ordering::SeqCst) && BUG != ACCEPTS_AFTER_CLOSE {
            return Err(PoolError::Closed);
        }
        Ok(())
    }
}

impl<const BUG: u8> ProcessPool for Flawed<BUG> {
    type Async<T: Send + 'static> = Deferred<T>;

    fn new(processes: usize) -> Result<Self, PoolError> {
        let workers = match BUG {
            ONE_WORKER => 1,
            EXTRA_WORKER => processes + 1,
            ZERO_ACCEPTED => processes.max(1),
            WORKER_PER_TASK => processes,
            _ => processes,
        };
        if processes == 0 && BUG != ZERO_ACCEPTED {
            return Err(PoolError::NoWorkers);
        }
        Ok(Flawed {
            inner: Some(Pool::new(workers)?),
            processes,
            closed: AtomicBool::new(false),
            crashes: Arc::new(AtomicUsize::new(0)),
            extra: Mutex::new(Vec::new()),
        })
    }

    fn apply_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
        mut callbacks: Callbacks<R>,
    ) -> Result<Deferred<R>, PoolError> {
        self.accepting()?;
        if BUG == SKIPS_ERROR_CALLBACK {
            callbacks.on_error = None;
        }
        let deferred = match BUG {
            RUNS_IN_CALLER => {
                let outcome = job.call(arg).map_err(|m| PoolError::Job {
                    index: 0,
                    error: JobError::Failed(m),
                });
                callbacks.fire(&outcome);
                Deferred::ready_now(outcome)
            }
            WORKER_PER_TASK => {
                let pool = Pool::new(1)?;
                let pending = pool.apply_async(job, arg, callbacks)?;
                self.extra
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(pool);
                Deferred::of(pending)
            }
            TRUNCATED_REPLIES => {
                let mut callbacks = Some(callbacks);
                Deferred::of(self.pool().apply_async(job, arg, Callbacks::none())?).map(
                    move |outcome| {
                        let outcome = outcome.and_then(|r| {
                            through_one_read(r).map_err(|error| PoolError::Job { index: 0, error })
                        });
                        if let Some(callbacks) = callbacks.take() {
                            callbacks.fire(&outcome);
                        }
                        Some(outcome)
                    },
                )
            }
            _ => Deferred::of(self.pool().apply_async(job, arg, callbacks)?),
        };
        Ok(self.hang_if_crashed(deferred))
    }

    fn map_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        mut args: Vec<A>,
        mut callbacks: Callbacks<Vec<R>>,
    ) -> Result<Deferred<Vec<R>>, PoolError> {
        self.accepting()?;
        if BUG == SKIPS_ERROR_CALLBACK {
            callbacks.on_error = None;
        }
        let deferred = match BUG {
            COMPLETION_ORDER | WORKER_PER_TASK => {
                let done = Arc::new(Mutex::new(Vec::new()));
                let mut each = Vec::new();
                for arg in args {
                    let done = Arc::clone(&done);
                    let on_done = Callbacks::none().on_success(move |r: &R| {
                        let copy: R = postcard::from_bytes(&postcard::to_stdvec(r).unwrap())
                            .expect("a round trip");
                        done.lock().unwrap_or_else(|p| p.into_inner()).push(copy);
                    });
                    each.push(self.apply_async(job, arg, on_done)?);
                }
                let mut failed = None;
                let mut callbacks = Some(callbacks);
                Deferred::ready_now(Ok(())).map(move |_| {
                    for (index, handle) in each.iter_mut().enumerate() {
                        loop {
                            match handle.get_timeout(Duration::from_millis(10)) {
                                Err(PoolError::Timeout(_)) => continue,
                                Err(PoolError::Job { error, .. }) => {
                                    failed.get_or_insert(PoolError::Job { index, error });
                                }
                                _ => {}
                            }
                            break;
                        }
                    }
                    let outcome = match failed.take() {
                        Some(e) => Err(e),
                        None => Ok(std::mem::take(
                            &mut *done.lock().unwrap_or_else(|p| p.into_inner()),
                        )),
                    };
                    if let Some(callbacks) = callbacks.take() {
                        callbacks.fire(&outcome);
                    }
                    Some(outcome)
                })
            }
            REVERSED_CHUNKS if args.len() > 1 => {
                let second = args.split_off(args.len() / 2);
                let first = Deferred::of(self.pool().map_async(job, args, Callbacks::none())?);
                let mut second =
                    Deferred::of(self.pool().map_async(job, second, Callbacks::none())?);
                let mut callbacks = Some(callbacks);
                first.map(move |first| {
                    let outcome =
                        second
                            .get_timeout(Duration::from_secs(3600))
                            .and_then(|mut all| {
                                all.extend(first?);
                                Ok(all)
                            });
                    if let Some(callbacks) = callbacks.take() {
                        callbacks.fire(&outcome);
                    }
                    Some(outcome)
                })
            }
            TRUNCATED_REPLIES => {
                let mut callbacks = Some(callbacks);
                Deferred::of(self.pool().map_async(job, args, Callbacks::none())?).map(
                    move |outcome| {
                        let outcome = outcome.and_then(|all| {
                            all.into_iter()
                                .enumerate()
                                .map(|(index, r)| {
                                    through_one_read(r)
                                        .map_err(|error| PoolError::Job { index, error })
                                })
                                .collect()
                        });
                        if let Some(callbacks) = callbacks.take() {
                            callbacks.fire(&outcome);
                        }
                        Some(outcome)
                    },
                )
            }
            DROPS_REMAINDER => {
                args.truncate(args.len() / self.processes * self.processes);
                Deferred::of(self.pool().map_async(job, args, callbacks)?)
            }
            _ => Deferred::of(self.pool().map_async(job, args, callbacks)?),
        };
        Ok(self.hang_if_crashed(deferred))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if BUG != ACCEPTS_AFTER_CLOSE {
            self.pool().close();
        }
    }

    fn join(&self) -> Result<(), PoolError> {
        if !self.closed.load(Ordering::SeqCst) {
            return Err(PoolError::StillRunning);
        }
        if BUG == JOIN_AT_ONCE {
            return Ok(());
        }
        self.pool().close();
        self.pool().join()
    }

    fn terminate(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if BUG == TERMINATE_WAITS {
            self.pool().close();
            let _ = self.pool().join();
        } else {
            self.pool().terminate();
        }
        for pool in self.extra.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            pool.terminate();
        }
    }
}

impl<const BUG: u8> Drop for Flawed<BUG> {
    fn drop(&mut self) {
        if BUG == LEAKS_ON_DROP {
            // Its handler threads and worker processes live on, unreaped.
            std::mem::forget(self.inner.take());
        }
    }
}
