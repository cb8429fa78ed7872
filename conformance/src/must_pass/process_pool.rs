//! E2 process pools that are correct in an unusual way. Real processes only.
//!
//! [`Lazy`] differs from the reference pool where a student's would: it starts no
//! worker in `new` (a worker thread, and its process, appear only when work is queued
//! that no idle worker can take), it sends every item as a chunk of its own (no
//! batching), and each call's result travels through a `std::sync::mpsc` channel of
//! its own instead of a slot with a condition variable; a call whose sender is gone
//! without a result was cancelled by `terminate`.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use racecourse_impl::process::job::{decode_outcomes, encode, task_of};
use racecourse_impl::process::serve::{Reply, ServeError, Server};
use racecourse_impl::process::worker::Task;
use racecourse_spec::job::{Job, JobError, Wire};
use racecourse_spec::process_pool::{AsyncResult, Callbacks, PoolError, ProcessPool};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Callbacks run outside every lock and under `catch_unwind`: nothing panics while
    // holding one, and if something did, each update is a single step.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A pool of at most `n` worker processes, started on demand (see the module docs).
///
/// - **Lazy workers.** `new` checks `n` and starts nothing. Each submission queues its
///   items one by one and starts `min(n - workers, queued - idle)` worker threads,
///   where `idle` counts the threads waiting for work: afterwards every queued item
///   has a thread that is free to take it (an idle one or a new one), up to `n`
///   threads, so a map of at most `n` items on an idle pool runs them all at once. A
///   thread starts its server when it takes its first item and owns it to the end
///   (the server's death signal is tied to that thread); no more than `n` threads
///   ever exist, each with at most one live server, so no more than `n` workers.
/// - **One item per request.** An item's request is the one-element batch
///   `encode(&[arg])`; a worker that dies can only have been running that item, which
///   fails with `JobError::Crashed(death)`; the thread reaps the dead server and
///   starts a new one for its next item.
/// - **A channel per call.** Items deliver into their call's gathering state; the
///   first failure or the last success completes the call: the callbacks fire, then
///   the result is sent. Items of a completed call still queued are skipped.
/// - **close / join / terminate.** Threads drain the queue after `close`, then shut
///   their servers down (end of requests, reaped) and leave; `join` waits until every
///   thread has left. `terminate` kills the live servers through their pidfds,
///   drops the queued items (their calls' senders go: `Terminated`), and waits for
///   the threads, which reap. `Drop` terminates.
#[derive(Debug)]
pub struct Lazy {
    shared: Arc<Shared>,
    processes: usize,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Items were queued, or the pool was closed or terminated.
    work: Condvar,
    /// A worker thread left.
    left: Condvar,
}

struct State {
    queue: VecDeque<Item>,
    /// Worker threads waiting in `next`.
    idle: usize,
    /// Worker threads not yet left.
    threads: Vec<ThreadId>,
    handles: Vec<JoinHandle<()>>,
    /// A pidfd (duplicated) per live server, for `terminate`.
    live: Vec<(u32, OwnedFd)>,
    closed: bool,
    terminated: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("queued", &self.queue.len())
            .field("idle", &self.idle)
            .field("threads", &self.threads.len())
            .field("live", &self.live.len())
            .field("closed", &self.closed)
            .field("terminated", &self.terminated)
            .finish()
    }
}

impl State {
    fn refuses(&self) -> Option<PoolError> {
        if self.terminated {
            Some(PoolError::Terminated)
        } else if self.closed {
            Some(PoolError::Closed)
        } else {
            None
        }
    }
}

/// One argument of one call, ready to send.
struct Item {
    task: &'static Task,
    /// `encode(&[arg])`: a batch of one.
    batch: Vec<u8>,
    index: usize,
    call: Arc<dyn Deliver>,
}

/// Where an item's outcome goes.
trait Deliver: Send + Sync {
    /// The serialized outcomes of the batch of item `index`, or why it has none.
    fn deliver(&self, index: usize, outcome: Result<Vec<u8>, JobError>);
    /// Whether the call already has its result (its other items need not run).
    fn done(&self) -> bool;
}

impl Shared {
    /// The next item for a worker thread; `None` once it should leave.
    fn next(&self) -> Option<Item> {
        let mut state = lock(&self.state);
        loop {
            if state.terminated {
                return None;
            }
            if let Some(item) = state.queue.pop_front() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }

    /// Records a started server's pidfd for `terminate`; `false` if the pool was
    /// terminated meanwhile (the caller must kill it).
    fn started(&self, server: &Server, pidfd: OwnedFd) -> bool {
        let mut state = lock(&self.state);
        if state.terminated {
            return false;
        }
        state.live.push((server.pid(), pidfd));
        true
    }

    fn ended(&self, pid: u32) {
        lock(&self.state).live.retain(|(p, _)| *p != pid);
    }

    fn terminated(&self) -> bool {
        lock(&self.state).terminated
    }

    /// Waits until every worker thread but the caller has left, then joins them.
    fn wait_threads(&self) {
        let me = thread::current().id();
        let mut state = lock(&self.state);
        while state.threads.iter().any(|id| *id != me) {
            state = self
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let handles = std::mem::take(&mut state.handles);
        drop(state);
        for handle in handles {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

/// Marks its worker thread as left when dropped (also if the thread unwinds).
struct Leaving<'a>(&'a Shared);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        let me = thread::current().id();
        lock(&self.0.state).threads.retain(|id| *id != me);
        self.0.left.notify_all();
    }
}

/// A worker thread: takes items one at a time, starting a server for them when it
/// has none, until the pool is closed and drained, or terminated.
fn worker(shared: Arc<Shared>) {
    let _leaving = Leaving(&shared);
    let mut server: Option<Server> = None;
    while let Some(item) = shared.next() {
        if item.call.done() {
            continue;
        }
        let running = match server.as_mut() {
            Some(running) => running,
            None => match Server::start().and_then(|s| s.pidfd().map(|fd| (s, fd))) {
                Ok((started, pidfd)) => {
                    let keep = shared.started(&started, pidfd);
                    let started = server.insert(started);
                    if !keep {
                        started.kill();
                        break; // terminated: the item is dropped, its call cancelled
                    }
                    started
                }
                Err(e) => {
                    // A server without a pidfd (dropped here: killed and reaped) could
                    // not be reached by terminate.
                    item.call.deliver(
                        item.index,
                        Err(JobError::Lost(format!("starting a worker process: {e}"))),
                    );
                    continue;
                }
            },
        };
        let pid = running.pid();
        match running.run(item.task, &item.batch) {
            Ok(Reply::Returned(bytes)) => item.call.deliver(item.index, Ok(bytes)),
            Ok(Reply::Failed(message) | Reply::Panicked(message)) => {
                item.call.deliver(item.index, Err(JobError::Lost(message)))
            }
            Err(error) => {
                // Died: reaped already. Io: dropping the server kills and reaps it, on
                // this thread.
                server = None;
                shared.ended(pid);
                match error {
                    _ if shared.terminated() => {} // the item is dropped: Terminated
                    ServeError::Died(death) => {
                        item.call.deliver(item.index, Err(JobError::Crashed(death)))
                    }
                    ServeError::Io(e) => item
                        .call
                        .deliver(item.index, Err(JobError::Lost(e.to_string()))),
                }
            }
        }
    }
    if let Some(server) = server {
        let pid = server.pid();
        let _ = if shared.terminated() {
            server.terminate()
        } else {
            server.shutdown()
        };
        shared.ended(pid);
    }
}

impl Lazy {
    /// Queues a call's items and starts the worker threads they need.
    fn submit<A: Wire, R: Wire, T: Send + 'static>(
        &self,
        job: &'static Job<A, R>,
        args: &[A],
        callbacks: Callbacks<T>,
        finish: fn(Vec<R>) -> T,
    ) -> Result<Mailbox<T>, PoolError> {
        let task = task_of(job);
        let (sender, inbox) = mpsc::channel();
        let call = Arc::new(Call {
            state: Mutex::new(Gathering {
                parts: (0..args.len()).map(|_| None).collect(),
                remaining: args.len(),
                callbacks: Some(callbacks),
                sender: Some(sender),
            }),
            finish,
        });
        let items: Vec<Item> = args
            .iter()
            .enumerate()
            .map(|(index, arg)| Item {
                task,
                batch: encode(std::slice::from_ref(arg)),
                index,
                call: Arc::clone(&call) as Arc<dyn Deliver>,
            })
            .collect();
        let mut state = lock(&self.shared.state);
        if let Some(refused) = state.refuses() {
            return Err(refused);
        }
        if items.is_empty() {
            drop(state);
            call.complete(Ok(finish(Vec::new())));
            return Ok(Mailbox::new(inbox));
        }
        let count = items.len();
        state.queue.extend(items);
        let wanted = state.queue.len().saturating_sub(state.idle);
        let room = self.processes.saturating_sub(state.threads.len());
        for _ in 0..wanted.min(room) {
            let shared = Arc::clone(&self.shared);
            let spawned = thread::Builder::new()
                .name(format!("lazy-worker-{}", state.threads.len()))
                .spawn(move || worker(shared));
            match spawned {
                Ok(handle) => {
                    state.threads.push(handle.thread().id());
                    state.handles.push(handle);
                }
                Err(e) if state.threads.is_empty() => {
                    // Nobody would ever take these items: take them back.
                    let keep = state.queue.len() - count;
                    state.queue.truncate(keep);
                    return Err(PoolError::Start(format!("starting a worker thread: {e}")));
                }
                Err(_) => break, // the threads there are will get to the items
            }
        }
        drop(state);
        self.shared.work.notify_all();
        Ok(Mailbox::new(inbox))
    }
}

impl ProcessPool for Lazy {
    type Async<T: Send + 'static> = Mailbox<T>;

    fn new(processes: usize) -> Result<Self, PoolError> {
        if processes == 0 {
            return Err(PoolError::NoWorkers);
        }
        Ok(Lazy {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    idle: 0,
                    threads: Vec::new(),
                    handles: Vec::new(),
                    live: Vec::new(),
                    closed: false,
                    terminated: false,
                }),
                work: Condvar::new(),
                left: Condvar::new(),
            }),
            processes,
        })
    }

    fn apply_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
        callbacks: Callbacks<R>,
    ) -> Result<Mailbox<R>, PoolError> {
        self.submit(job, std::slice::from_ref(&arg), callbacks, |mut one| {
            one.pop().expect("one item, one result")
        })
    }

    fn map_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        args: Vec<A>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<Mailbox<Vec<R>>, PoolError> {
        self.submit(job, &args, callbacks, |all| all)
    }

    fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
    }

    fn join(&self) -> Result<(), PoolError> {
        if lock(&self.shared.state).refuses().is_none() {
            return Err(PoolError::StillRunning);
        }
        self.shared.wait_threads();
        Ok(())
    }

    fn terminate(&self) {
        let dropped: Vec<Item> = {
            let mut state = lock(&self.shared.state);
            state.terminated = true;
            for (_, pidfd) in &state.live {
                // SAFETY: pidfd_send_signal takes an fd we own, a signal number and no
                // siginfo; a pidfd names one process, so no reused pid can be hit.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
            state.queue.drain(..).collect()
        };
        self.shared.work.notify_all();
        // Outside the lock: dropping the last item of a call drops its callbacks.
        drop(dropped);
        self.shared.wait_threads();
    }
}

impl Drop for Lazy {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A call's items' results, gathered by index.
struct Call<R, T> {
    state: Mutex<Gathering<R, T>>,
    finish: fn(Vec<R>) -> T,
}

struct Gathering<R, T> {
    parts: Vec<Option<R>>,
    remaining: usize,
    callbacks: Option<Callbacks<T>>,
    /// Taken when the call completes; dropped unsent if the call is cancelled.
    sender: Option<Sender<Result<T, PoolError>>>,
}

impl<R, T> Call<R, T> {
    /// Fires the callbacks, then sends the result. Called once: whoever takes the
    /// sender (under the lock) completes the call.
    fn complete(&self, outcome: Result<T, PoolError>) {
        let (callbacks, sender) = {
            let mut state = lock(&self.state);
            (state.callbacks.take(), state.sender.take())
        };
        let Some(sender) = sender else { return };
        if let Some(callbacks) = callbacks {
            // A panicking callback must not take the worker thread (and its server)
            // down with it; the result is sent all the same.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| callbacks.fire(&outcome)));
        }
        let _ = sender.send(outcome); // the caller may have dropped its mailbox
    }
}

impl<R: Wire, T: Send + 'static> Deliver for Call<R, T> {
    fn deliver(&self, index: usize, outcome: Result<Vec<u8>, JobError>) {
        let outcome = outcome
            .and_then(|bytes| decode_outcomes::<R>(&bytes))
            .and_then(|mut outcomes| match (outcomes.pop(), outcomes.is_empty()) {
                (Some(outcome), true) => outcome,
                _ => Err(JobError::Lost(
                    "the worker sent a number of results other than one".into(),
                )),
            });
        let mut state = lock(&self.state);
        if state.sender.is_none() {
            return;
        }
        let result = match outcome {
            Err(error) => Err(PoolError::Job { index, error }),
            Ok(value) => {
                if let Some(part) = state.parts.get_mut(index) {
                    if part.replace(value).is_none() {
                        state.remaining -= 1;
                    }
                }
                if state.remaining > 0 {
                    return;
                }
                let parts = std::mem::take(&mut state.parts);
                Ok((self.finish)(
                    parts.into_iter().map(|p| p.expect("all done")).collect(),
                ))
            }
        };
        drop(state);
        self.complete(result);
    }

    fn done(&self) -> bool {
        lock(&self.state).sender.is_none()
    }
}

/// The pending result of a [`Lazy`] call: the receiving end of its channel.
pub struct Mailbox<T> {
    inbox: Receiver<Result<T, PoolError>>,
    /// A result `ready` received before anyone asked for it.
    early: Mutex<Option<Result<T, PoolError>>>,
    taken: bool,
}

impl<T> std::fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("taken", &self.taken)
            .finish_non_exhaustive()
    }
}

/// What a channel that closed without a result means: the call's items were dropped
/// by `terminate`.
fn cancelled<T>(_: impl Sized) -> Result<T, PoolError> {
    Err(PoolError::Terminated)
}

impl<T> Mailbox<T> {
    fn new(inbox: Receiver<Result<T, PoolError>>) -> Self {
        Mailbox {
            inbox,
            early: Mutex::new(None),
            taken: false,
        }
    }

    fn early(&self) -> Option<Result<T, PoolError>> {
        lock(&self.early).take()
    }
}

impl<T: Send + 'static> AsyncResult<T> for Mailbox<T> {
    fn get(mut self) -> Result<T, PoolError> {
        if self.taken {
            return Err(PoolError::Taken);
        }
        self.taken = true;
        match self.early() {
            Some(outcome) => outcome,
            None => self.inbox.recv().unwrap_or_else(cancelled),
        }
    }

    fn get_timeout(&mut self, timeout: Duration) -> Result<T, PoolError> {
        if self.taken {
            return Err(PoolError::Taken);
        }
        let outcome = match self.early() {
            Some(outcome) => outcome,
            None => match self.inbox.recv_timeout(timeout) {
                Ok(outcome) => outcome,
                Err(RecvTimeoutError::Timeout) => return Err(PoolError::Timeout(timeout)),
                Err(RecvTimeoutError::Disconnected) => cancelled(()),
            },
        };
        self.taken = true;
        outcome
    }

    fn ready(&self) -> bool {
        if self.taken {
            return false;
        }
        let mut early = lock(&self.early);
        if early.is_none() {
            *early = match self.inbox.try_recv() {
                Ok(outcome) => Some(outcome),
                Err(TryRecvError::Disconnected) => Some(cancelled(())),
                Err(TryRecvError::Empty) => None,
            };
        }
        early.is_some()
    }
}
