//! The E2 reference: [`Pool`], a process pool on [`Server`]s.
//!
//! # Design
//! One *handler* thread per worker process. A handler starts its server, then takes
//! chunks of work from the pool's queue one at a time, sends each to its server and
//! waits for the reply or the server's death ([`Server::run`]). Handlers own their
//! servers for the servers' whole lives, which is what `PR_SET_PDEATHSIG` needs (the
//! kernel ties a child's death signal to the thread that started it).
//!
//! - **Chunks.** `map_async` splits its input into chunks of
//!   `ceil(len / (4 * processes))` items, Python's default `chunksize`: up to
//!   `4 * processes` items every item is its own chunk (so all run at once); beyond,
//!   16 chunks for 4 workers, so one round trip carries many items (100 000 squares
//!   in 16 messages). Each chunk owns its items (moved out of the caller's `Vec`)
//!   and is serialized by the handler that runs it, straight into the request it
//!   writes: the caller only splits, the handlers serialize in parallel, and the
//!   first chunk goes out before the last is encoded.
//! - **Compact replies.** A chunk whose items all succeeded comes back as a plain
//!   list of values ([`Outcomes::All`]) and is kept as one piece; the call
//!   concatenates its pieces in input order once the last arrives.
//! - **Results in input order.** Each call gathers its items' outcomes by index
//!   (`Gather`); the call completes at its first failure or once every item
//!   succeeded, and its callbacks fire (on the handler thread) just before its
//!   result becomes ready.
//! - **A dead worker.** The handler reaps it; the chunk it was running fails with the
//!   cause (`JobError::Crashed`) if it was one item; a chunk of several is put back
//!   at the front of the queue as single items, so that only the item whose run
//!   kills a worker fails (items are run again: a job is expected to be a function
//!   of its argument). The handler starts a replacement and goes on.
//! - **close / join / terminate / drop.** `close` lets handlers drain the queue,
//!   then end their servers (end of requests, then reap). `terminate` kills every
//!   server through its pidfd (no pid can be reused under it), fails the calls not
//!   finished, and joins the handlers, which reap. `Drop` terminates.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use racecourse_spec::job::{Job, JobError, Wire};
use racecourse_spec::process_pool::{AsyncResult, Callbacks, PoolError, ProcessPool};

use super::job::{decode_batch, encode_into, task_of, Outcomes};
use super::serve::{Reply, ServeError, Server};
use super::worker::Task;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking callback must not wedge the pool: the data stays consistent
    // (every update is a single assignment or push).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Items per chunk for `len` items on `processes` workers (Python's default).
pub fn chunk_size(len: usize, processes: usize) -> usize {
    len.div_ceil(4 * processes.max(1)).max(1)
}

/// A chunk's arguments, not yet serialized (the type is erased so that chunks of
/// every call share one queue).
trait Items: Send {
    fn len(&self) -> usize;
    /// Appends the wire format of the items (a `Vec<A>`) to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// One chunk per item, to run them again one by one.
    fn split(self: Box<Self>) -> Vec<Box<dyn Items>>;
}

impl<A: Wire> Items for Vec<A> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        encode_into(self.as_slice(), out);
    }

    fn split(self: Box<Self>) -> Vec<Box<dyn Items>> {
        self.into_iter()
            .map(|item| Box::new(vec![item]) as Box<dyn Items>)
            .collect()
    }
}

/// Where a chunk's outcomes go.
trait Sink: Send + Sync {
    /// The outcomes of the `count` items from `first` on (serialized), or one error
    /// for them all.
    fn deliver(&self, first: usize, count: usize, outcomes: Result<Vec<u8>, JobError>);
    /// The pool was terminated before the call finished.
    fn cancel(&self);
}

struct Chunk {
    task: &'static Task,
    items: Box<dyn Items>,
    /// The index of the first item in the call's input.
    first: usize,
    sink: Arc<dyn Sink>,
}

impl Chunk {
    fn deliver(&self, outcomes: Result<Vec<u8>, JobError>) {
        self.sink.deliver(self.first, self.items.len(), outcomes);
    }
}

/// The shared state of a pool and its handlers.
struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

struct State {
    queue: VecDeque<Chunk>,
    closed: bool,
    terminated: bool,
    /// A pidfd (duplicated) per live server, for `terminate`.
    live: Vec<(u32, OwnedFd)>,
    /// Handler threads that have not finished (their servers reaped), for `join`.
    handlers: usize,
    /// The handler threads, so that `join` from a callback does not wait for itself.
    handler_ids: Vec<thread::ThreadId>,
}

impl Shared {
    fn next(&self) -> Option<Chunk> {
        let mut state = lock(&self.state);
        loop {
            if state.terminated {
                return None;
            }
            if let Some(chunk) = state.queue.pop_front() {
                return Some(chunk);
            }
            if state.closed {
                return None;
            }
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn push(&self, chunks: impl IntoIterator<Item = Chunk>) -> Result<(), PoolError> {
        let mut state = lock(&self.state);
        if state.terminated {
            return Err(PoolError::Terminated);
        }
        if state.closed {
            return Err(PoolError::Closed);
        }
        state.queue.extend(chunks);
        drop(state);
        self.work.notify_all();
        Ok(())
    }

    /// Registers a started server for `terminate` (or kills it at once if the pool
    /// was terminated meanwhile).
    fn started(&self, server: &Server) {
        let mut state = lock(&self.state);
        match server.pidfd() {
            Ok(fd) if !state.terminated => state.live.push((server.pid(), fd)),
            _ => server.kill(),
        }
    }

    fn ended(&self, pid: u32) {
        lock(&self.state).live.retain(|(p, _)| *p != pid);
    }

    fn terminated(&self) -> bool {
        lock(&self.state).terminated
    }

    /// Waits until every handler has finished, its server reaped.
    fn wait_handlers(&self) {
        let mut state = lock(&self.state);
        while state.handlers > 0 {
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Counts a handler out when it ends, by return or by panic.
struct HandlerAlive(Arc<Shared>);

impl Drop for HandlerAlive {
    fn drop(&mut self) {
        lock(&self.0.state).handlers -= 1;
        self.0.work.notify_all();
    }
}

/// A process pool of a fixed number of worker processes (see the module docs).
#[derive(Debug)]
pub struct Pool {
    shared: Arc<Shared>,
    processes: usize,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Shared")
            .field("queued", &state.queue.len())
            .field("closed", &state.closed)
            .field("terminated", &state.terminated)
            .field("live", &state.live.len())
            .finish()
    }
}

impl Pool {
    /// The number of worker processes.
    pub fn processes(&self) -> usize {
        self.processes
    }

    fn submit<A: Wire, R: Wire, T: Send + 'static>(
        &self,
        job: &'static Job<A, R>,
        args: Vec<A>,
        callbacks: Callbacks<T>,
        finish: fn(Vec<R>) -> T,
    ) -> Result<Pending<T>, PoolError> {
        let task = task_of(job);
        let slot = Arc::new(Slot::default());
        let gather = Arc::new(Gather {
            state: Mutex::new(GatherState {
                pieces: Vec::new(),
                remaining: args.len(),
                total: args.len(),
                done: false,
                callbacks: Some(callbacks),
            }),
            slot: Arc::clone(&slot),
            finish,
        });
        if args.is_empty() {
            {
                let state = lock(&self.shared.state);
                if state.terminated {
                    return Err(PoolError::Terminated);
                }
                if state.closed {
                    return Err(PoolError::Closed);
                }
            }
            gather.complete(Ok(finish(Vec::new())));
            return Ok(Pending(slot));
        }
        let len = args.len();
        let size = chunk_size(len, self.processes);
        let sink: Arc<dyn Sink> = gather;
        let mut items = args.into_iter();
        let chunks = (0..len).step_by(size).map(|first| Chunk {
            task,
            items: Box::new(items.by_ref().take(size).collect::<Vec<A>>()),
            first,
            sink: Arc::clone(&sink),
        });
        self.shared.push(chunks)?;
        Ok(Pending(slot))
    }

    /// Joins the handler threads; a concurrent caller (which finds the handles
    /// taken) waits until every handler has finished all the same. A callback that
    /// calls it on a handler thread does not wait for itself.
    fn join_handlers(&self) {
        let handlers = std::mem::take(&mut *lock(&self.handlers));
        let me = thread::current().id();
        for handler in handlers {
            if handler.thread().id() != me {
                let _ = handler.join();
            }
        }
        if !lock(&self.shared.state).handler_ids.contains(&me) {
            self.shared.wait_handlers();
        }
    }
}

/// One handler thread: starts its server and runs chunks on it until the pool ends.
fn handler(shared: Arc<Shared>, started: Option<mpsc::Sender<Result<(), PoolError>>>) {
    lock(&shared.state).handler_ids.push(thread::current().id());
    let _alive = HandlerAlive(Arc::clone(&shared));
    let mut server = match Server::start() {
        Ok(server) => {
            shared.started(&server);
            if let Some(started) = started {
                let _ = started.send(Ok(()));
            }
            Some(server)
        }
        Err(e) => {
            if let Some(started) = started {
                let _ = started.send(Err(PoolError::Start(e.to_string())));
            }
            return;
        }
    };
    while let Some(chunk) = shared.next() {
        let running = match server.as_mut() {
            Some(running) => running,
            None => match Server::start() {
                Ok(started) => {
                    shared.started(&started);
                    server.insert(started)
                }
                Err(e) => {
                    chunk.deliver(Err(JobError::Lost(format!(
                        "starting a worker process: {e}"
                    ))));
                    continue;
                }
            },
        };
        match running.run_with(chunk.task, |out| chunk.items.encode(out)) {
            Ok(Reply::Returned(bytes)) => chunk.deliver(Ok(bytes)),
            Ok(Reply::Failed(message) | Reply::Panicked(message)) => {
                chunk.deliver(Err(JobError::Lost(message)))
            }
            Err(ServeError::Died(death)) => {
                shared.ended(running.pid());
                server = None;
                if shared.terminated() {
                    chunk.sink.cancel();
                } else if chunk.items.len() > 1 {
                    // Run the items again one by one, so that only the one that kills
                    // a worker fails.
                    let Chunk {
                        task,
                        items,
                        first,
                        sink,
                    } = chunk;
                    let mut state = lock(&shared.state);
                    for (i, item) in items.split().into_iter().enumerate().rev() {
                        state.queue.push_front(Chunk {
                            task,
                            items: item,
                            first: first + i,
                            sink: Arc::clone(&sink),
                        });
                    }
                    drop(state);
                    shared.work.notify_all();
                } else {
                    chunk.deliver(Err(JobError::Crashed(death)));
                }
            }
            Err(ServeError::Io(e)) => {
                shared.ended(running.pid());
                server = None;
                chunk.deliver(Err(JobError::Lost(e.to_string())));
            }
        }
    }
    if let Some(server) = server {
        shared.ended(server.pid());
        let _ = if shared.terminated() {
            server.terminate()
        } else {
            server.shutdown()
        };
    }
}

impl ProcessPool for Pool {
    type Async<T: Send + 'static> = Pending<T>;

    fn new(processes: usize) -> Result<Self, PoolError> {
        if processes == 0 {
            return Err(PoolError::NoWorkers);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                terminated: false,
                live: Vec::new(),
                handlers: processes,
                handler_ids: Vec::new(),
            }),
            work: Condvar::new(),
        });
        let (started, reports) = mpsc::channel();
        let mut handlers = Vec::with_capacity(processes);
        for i in 0..processes {
            let for_handler = Arc::clone(&shared);
            let report = started.clone();
            let spawned = thread::Builder::new()
                .name(format!("pool-handler-{i}"))
                .spawn(move || handler(for_handler, Some(report)));
            match spawned {
                Ok(handle) => handlers.push(handle),
                Err(e) => {
                    lock(&shared.state).handlers -= 1;
                    let _ = started.send(Err(PoolError::Start(e.to_string())));
                }
            }
        }
        drop(started);
        let pool = Pool {
            shared,
            processes,
            handlers: Mutex::new(handlers),
        };
        for _ in 0..processes {
            match reports.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e), // dropping the pool terminates the others
                Err(_) => return Err(PoolError::Start("a handler thread ended".into())),
            }
        }
        Ok(pool)
    }

    fn apply_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        arg: A,
        callbacks: Callbacks<R>,
    ) -> Result<Pending<R>, PoolError> {
        self.submit(job, vec![arg], callbacks, |mut one| {
            one.pop().expect("one item, one result")
        })
    }

    fn map_async<A: Wire, R: Wire>(
        &self,
        job: &'static Job<A, R>,
        args: Vec<A>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<Pending<Vec<R>>, PoolError> {
        self.submit(job, args, callbacks, |all| all)
    }

    fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
    }

    fn join(&self) -> Result<(), PoolError> {
        {
            let state = lock(&self.shared.state);
            if !state.closed && !state.terminated {
                return Err(PoolError::StillRunning);
            }
        }
        self.join_handlers();
        Ok(())
    }

    fn terminate(&self) {
        let cancelled: Vec<Chunk> = {
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
        for chunk in cancelled {
            chunk.sink.cancel();
        }
        self.join_handlers();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The outcome of one call, gathered by item index.
struct Gather<R, T> {
    state: Mutex<GatherState<R, T>>,
    slot: Arc<Slot<T>>,
    finish: fn(Vec<R>) -> T,
}

struct GatherState<R, T> {
    /// The values of the chunks that succeeded, by the index of their first item.
    pieces: Vec<(usize, Vec<R>)>,
    /// Items without a value yet.
    remaining: usize,
    total: usize,
    done: bool,
    callbacks: Option<Callbacks<T>>,
}

impl<R, T> Gather<R, T> {
    /// Fires the callbacks, then makes the result ready. A callback that panics
    /// neither loses the result nor the handler thread: the panic is reported on
    /// stderr (Python's pool would hang here).
    fn complete(&self, outcome: Result<T, PoolError>) {
        let callbacks = lock(&self.state).callbacks.take();
        if let Some(callbacks) = callbacks {
            let fired =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callbacks.fire(&outcome)));
            if let Err(panic) = fired {
                eprintln!(
                    "racecourse pool: a callback panicked ({}); the call's result is kept, \
                     and the pool goes on",
                    super::worker::panic_message(&*panic)
                );
            }
        }
        self.slot.set(outcome);
    }
}

impl<R: Wire, T: Send + 'static> Sink for Gather<R, T> {
    fn deliver(&self, first: usize, count: usize, outcomes: Result<Vec<u8>, JobError>) {
        let outcomes = outcomes.and_then(|bytes| decode_batch::<R>(&bytes));
        let outcomes = match outcomes {
            Ok(outcomes) if outcomes.len() != count => Err(JobError::Lost(format!(
                "a worker sent {} results for a chunk of {count} items",
                outcomes.len()
            ))),
            outcomes => outcomes,
        };
        let values = match outcomes {
            Ok(Outcomes::All(values)) => Ok(values),
            Ok(Outcomes::Each(each)) => {
                let mut values = Vec::with_capacity(each.len());
                let mut failure = None;
                for (i, outcome) in each.into_iter().enumerate() {
                    match outcome {
                        Ok(value) => values.push(value),
                        Err(error) => {
                            failure = Some((first + i, error));
                            break;
                        }
                    }
                }
                failure.map_or(Ok(values), Err)
            }
            Err(error) => Err((first, error)),
        };
        let mut state = lock(&self.state);
        if state.done {
            return;
        }
        let outcome = match values {
            Err((index, error)) => Err(PoolError::Job { index, error }),
            Ok(values) => {
                state.remaining -= values.len();
                state.pieces.push((first, values));
                if state.remaining > 0 {
                    return;
                }
                let mut pieces = std::mem::take(&mut state.pieces);
                pieces.sort_unstable_by_key(|(first, _)| *first);
                let all = if pieces.len() == 1 {
                    pieces.pop().map(|(_, values)| values).unwrap_or_default()
                } else {
                    let mut all = Vec::with_capacity(state.total);
                    for (_, values) in pieces {
                        all.extend(values);
                    }
                    all
                };
                Ok((self.finish)(all))
            }
        };
        state.done = true;
        drop(state);
        self.complete(outcome);
    }

    fn cancel(&self) {
        let mut state = lock(&self.state);
        if state.done {
            return;
        }
        state.done = true;
        state.callbacks = None;
        drop(state);
        self.slot.set(Err(PoolError::Terminated));
    }
}

/// Where a call's result waits for its owner.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
}

enum SlotState<T> {
    Pending,
    Ready(Result<T, PoolError>),
    Taken,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(SlotState::Pending),
            ready: Condvar::new(),
        }
    }
}

impl<T> Slot<T> {
    fn set(&self, outcome: Result<T, PoolError>) {
        *lock(&self.state) = SlotState::Ready(outcome);
        self.ready.notify_all();
    }

    fn take(&self, deadline: Option<Instant>) -> Result<T, PoolError> {
        let mut state = lock(&self.state);
        loop {
            match std::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Ready(outcome) => return outcome,
                SlotState::Taken => return Err(PoolError::Taken),
                SlotState::Pending => *state = SlotState::Pending,
            }
            match deadline {
                None => {
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(PoolError::Timeout(Duration::ZERO));
                    }
                    state = self
                        .ready
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

/// The pending result of a [`Pool`] call.
pub struct Pending<T>(Arc<Slot<T>>);

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("ready", &self.ready_now())
            .finish()
    }
}

impl<T> Pending<T> {
    fn ready_now(&self) -> bool {
        matches!(*lock(&self.0.state), SlotState::Ready(_))
    }
}

impl<T: Send + 'static> AsyncResult<T> for Pending<T> {
    fn get(self) -> Result<T, PoolError> {
        self.0.take(None)
    }

    fn get_timeout(&mut self, timeout: Duration) -> Result<T, PoolError> {
        match self.0.take(Some(Instant::now() + timeout)) {
            Err(PoolError::Timeout(_)) => Err(PoolError::Timeout(timeout)),
            outcome => outcome,
        }
    }

    fn ready(&self) -> bool {
        self.ready_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::job::encode;

    type Squares = Vec<u64>;

    fn gather(total: usize) -> (Gather<u64, Squares>, Arc<Slot<Squares>>) {
        let slot = Arc::new(Slot::default());
        let gather = Gather {
            state: Mutex::new(GatherState {
                pieces: Vec::new(),
                remaining: total,
                total,
                done: false,
                callbacks: Some(Callbacks::none()),
            }),
            slot: Arc::clone(&slot),
            finish: |all| all,
        };
        (gather, slot)
    }

    /// The call's outcome, which `deliver` sets before it returns: taken without
    /// waiting, so that a regression fails (`Timeout`) instead of hanging.
    fn outcome(slot: &Slot<Vec<u64>>) -> Result<Vec<u64>, PoolError> {
        slot.take(Some(Instant::now()))
    }

    #[test]
    fn chunks_arriving_out_of_order_are_joined_in_input_order() {
        let (gather, slot) = gather(5);
        gather.deliver(3, 2, Ok(encode(&Outcomes::All(vec![30u64, 40]))));
        assert!(matches!(*lock(&slot.state), SlotState::Pending));
        gather.deliver(0, 3, Ok(encode(&Outcomes::All(vec![0u64, 10, 20]))));
        assert_eq!(outcome(&slot), Ok(vec![0, 10, 20, 30, 40]));
    }

    #[test]
    fn a_failed_item_fails_the_call_with_its_index() {
        let (gather, slot) = gather(3);
        let each: Vec<Result<u64, JobError>> = vec![Ok(1), Err(JobError::Failed("no".into()))];
        gather.deliver(1, 2, Ok(encode(&Outcomes::Each(each))));
        assert_eq!(
            outcome(&slot),
            Err(PoolError::Job {
                index: 2,
                error: JobError::Failed("no".into())
            })
        );
    }

    #[test]
    fn a_reply_with_the_wrong_number_of_results_fails_the_call() {
        let (gather, slot) = gather(3);
        gather.deliver(0, 3, Ok(encode(&Outcomes::All(vec![1u64, 2]))));
        match outcome(&slot) {
            Err(PoolError::Job {
                index: 0,
                error: JobError::Lost(message),
            }) => assert!(
                message.contains("2 results for a chunk of 3 items"),
                "{message}"
            ),
            other => panic!("expected a lost chunk, got {other:?}"),
        }
    }
}
