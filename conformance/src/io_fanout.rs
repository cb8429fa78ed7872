//! E1 I/O fan-out suite: N resources fetched over real sockets by W workers.
//!
//! Properties (see `EXERCISES.md`, E1 "I/O fan-out"):
//! - `every_input`: a result for every input, in input order, each input fetched once;
//! - `failure_isolated`: a failing fetch is an error for its own input only;
//! - `in_flight`: `min(W, N)` fetches are in flight at once, never more than W, and
//!   none on the calling thread.
//!
//! Each round starts a TCP listener on 127.0.0.1 (port 0) with a thread per
//! connection and a line protocol: the harness's [`Fetch`] sends `GET <resource>`, the
//! server answers `OK <body>` or `ERR <message>`, or closes the connection without a
//! word. The server is the rendezvous that makes every verdict deterministic, never the
//! clock:
//! - it holds every reply until `min(W, N)` requests are waiting at once (so a
//!   fan-out that does not keep W fetches in flight stalls, and is found as one);
//! - for `every_input`, it then lets the held fetches return one at a time, the last
//!   input first (or the first input first, in a second round), and lets the next go
//!   only once something shows the worker of the previous one has dealt with its
//!   result: a new request, a fetching thread that ended, or every input requested. So
//!   a fan-out that returns results in completion order, or grouped by worker, is
//!   wrong in every run;
//! - the harness's `Fetch` counts the fetches in flight and notes the thread that
//!   calls it: more than W at once, or a fetch on the calling thread, is reported when
//!   it happens, and the server stops holding anything, so it never becomes a stall.
//!
//! Real threads and real sockets only: no model checker. Every round's server ends
//! with the round (held replies released, listener closed); a trial whose fan-out
//! stalls is abandoned and ends with the isolated child process that runs the check.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};

use proptest::strategy::{BoxedStrategy, Just, Strategy};
use racecourse_spec::io_fanout::{FanOut, Fetch, Fetched};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::{std_rt, Finding, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "io_fanout";

// Real sockets: checked on std threads only, each verdict decided by the server's
// rendezvous.
properties! { $ __io_fanout_table;
    /// A result for every input, in input order, each input fetched exactly once, while
    /// the fetches return in an order the server forces (the last input first, then the
    /// first input first).
    EveryInput => every_input [std],
    /// A failing fetch (an error reply, a connection closed without one) is an error for
    /// its own input only: every other input gets its body.
    FailureIsolated => failure_isolated [std],
    /// With W workers and N >= W slow fetches, W fetches are in flight at once (an
    /// in-flight counter, held by the server until they are), never more than W, and
    /// none on the calling thread.
    InFlight => in_flight [std],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E1",
    title: "I/O fan-out: N resources fetched over a local socket by W workers",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "fan_out",
        bound: "racecourse_spec::io_fanout::FanOut",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

/// The resource fetched for input `i`: distinct, and never equal to `i`, so a fan-out
/// that confuses an input's position with its resource is caught.
pub fn resource(i: usize) -> usize {
    100 + 7 * i
}

/// The body the server sends for `resource`.
pub fn body(resource: usize) -> String {
    format!("the body of resource {resource}")
}

/// How a failing resource fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answers `ERR <message>`.
    ErrorReply,
    /// The server closes the connection without answering.
    Closed,
}

/// In what order the server lets held fetches return once `min(W, N)` are in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// All at once, and every later fetch unheld.
    AllAtOnce,
    /// One at a time, the held fetch of the last input first.
    LastFirst,
    /// One at a time, the held fetch of the first input first.
    FirstFirst,
}

/// One scenario of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The property the scenario checks.
    pub property: Property,
    /// The workers `fetch_all` is given.
    pub workers: usize,
    /// The inputs.
    pub inputs: usize,
}

impl Scenario {
    /// The rounds of one trial: the release orders, each a fresh server.
    fn rounds(self) -> &'static [Release] {
        match self.property {
            Property::EveryInput => &[Release::LastFirst, Release::FirstFirst],
            _ => &[Release::AllAtOnce],
        }
    }

    /// How input `i` fails, if it does: in `failure_isolated`, the second input gets an
    /// error reply and the last but one a closed connection.
    fn failure(self, i: usize) -> Option<Failure> {
        if self.property != Property::FailureIsolated {
            None
        } else if i == 1 {
            Some(Failure::ErrorReply)
        } else if i + 2 == self.inputs {
            Some(Failure::Closed)
        } else {
            None
        }
    }

    /// The fetches that must be in flight at once.
    fn target(self) -> usize {
        self.workers.min(self.inputs)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, n, t) = (self.workers, self.inputs, self.target());
        let inputs: Vec<String> = (0..n).map(|i| resource(i).to_string()).collect();
        write!(
            f,
            "fetch_all(resources [{}], workers {w}); the server holds every reply until {t} requests wait at once",
            inputs.join(", ")
        )?;
        match self.property {
            Property::EveryInput => write!(
                f,
                ", then lets them return one at a time, the last input first (then, in a second round, the first input first)"
            ),
            Property::FailureIsolated => write!(
                f,
                "; resource {} fails with an error reply, resource {} with a connection closed without a reply",
                resource(1),
                resource(n - 2)
            ),
            Property::InFlight => Ok(()),
        }
    }
}

impl Property {
    /// Scenarios drawn by proptest (fixed seed, shrunk on failure).
    fn scenarios(self) -> BoxedStrategy<Scenario> {
        let property = self;
        let shape: BoxedStrategy<(usize, usize)> = match self {
            // One input more than workers: the held fetches are every input but one.
            Property::EveryInput => (2..=3usize).prop_map(|w| (w, w + 1)).boxed(),
            // Two failures among at least four inputs.
            Property::FailureIsolated => (2..=3usize).prop_map(|w| (w, w + 2)).boxed(),
            Property::InFlight => (2..=4usize).prop_flat_map(|w| (Just(w), w..=w + 2)).boxed(),
        };
        shape
            .prop_map(move |(workers, inputs)| Scenario {
                property,
                workers,
                inputs,
            })
            .boxed()
    }
}

/// Where the server is in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Holding every request until `target` wait at once.
    Gathering,
    /// Letting held fetches return one at a time (see [`Release`]).
    OneAtATime,
    /// Holding nothing.
    Open,
}

/// What the server and the harness's `Fetch` share in one round.
#[derive(Debug)]
struct State {
    scenario: Scenario,
    release: Release,
    /// The thread that called `fetch_all`.
    caller: ThreadId,
    /// Input position of each resource.
    position: HashMap<usize, usize>,
    phase: Phase,
    /// Requests received, per input.
    requests: Vec<u32>,
    /// Inputs whose request waits at the server for its reply.
    held: BTreeSet<usize>,
    /// Inputs whose reply may go (one at a time: one entry).
    released: BTreeSet<usize>,
    /// One at a time: the input let go that has not returned from `fetch` yet.
    out: Option<usize>,
    /// One at a time: the input let go returned, and the next waits for a sign that
    /// its worker dealt with the result.
    awaiting_sign: bool,
    /// Fetches inside the harness's `fetch` now, and the most at once.
    inside: usize,
    most_inside: usize,
    /// What `in_flight` reports: more than W at once, a fetch on the calling thread.
    in_flight_violation: Option<Violation>,
    /// What `every_input` reports besides the results: an input fetched twice, a
    /// resource not asked for.
    fetch_violation: Option<Violation>,
    /// Set when the round ends: every held reply goes, the listener stops.
    closing: bool,
}

impl State {
    fn all_requested(&self) -> bool {
        self.requests.iter().all(|&r| r > 0)
    }

    /// Stops holding anything.
    fn open(&mut self) {
        self.phase = Phase::Open;
    }

    /// One at a time: lets the next held fetch go, or opens when none is held.
    fn release_next(&mut self) {
        let next = match self.release {
            Release::LastFirst => self.held.iter().next_back(),
            _ => self.held.iter().next(),
        };
        match next.copied() {
            Some(p) => {
                self.released.insert(p);
                self.out = Some(p);
                self.awaiting_sign = false;
            }
            None => self.open(),
        }
    }

    /// A sign that the worker of the fetch that returned last dealt with its result:
    /// the next may go.
    fn sign(&mut self) {
        if self.phase == Phase::OneAtATime && self.awaiting_sign {
            if self.all_requested() {
                self.open();
            } else {
                self.release_next();
            }
        }
    }

    fn may_reply(&self, p: usize) -> bool {
        self.closing || self.phase == Phase::Open || self.released.contains(&p)
    }
}

/// The state of one round and the condition variable server threads wait on.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    progress: Progress,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The harness's `fetch` was entered on the current thread for `resource`.
    fn enter(self: &Arc<Self>, resource: usize) {
        let me = std::thread::current().id();
        let mut s = self.lock();
        s.inside += 1;
        s.most_inside = s.most_inside.max(s.inside);
        let w = s.scenario.workers;
        if me == s.caller && s.in_flight_violation.is_none() {
            s.in_flight_violation = Some(Violation::new(
                "every fetch on a thread that fetch_all starts, never on the calling thread",
                format!("fetch({resource}) ran on the thread that called fetch_all: the fetches ran one after another, not concurrently (start worker threads, and fetch on them)"),
            ));
            s.open();
        } else if s.inside > w && s.in_flight_violation.is_none() {
            s.in_flight_violation = Some(Violation::new(
                format!("at most {w} fetches in flight at once (workers = {w})"),
                format!(
                    "{} fetches were in flight at once when fetch({resource}) started: more than the {w} workers allowed",
                    s.inside
                ),
            ));
            s.open();
        }
        drop(s);
        self.changed.notify_all();
        watch_thread_end(self);
    }

    /// The harness's `fetch` for `resource` returns.
    fn leave(&self, resource: usize) {
        let mut s = self.lock();
        s.inside -= 1;
        let p = s.position.get(&resource).copied();
        if s.phase == Phase::OneAtATime && p.is_some() && s.out == p {
            s.out = None;
            s.awaiting_sign = true;
            // Nothing is left to request: no sign may ever come, and none is needed.
            if s.all_requested() {
                s.open();
            }
        }
        drop(s);
        self.changed.notify_all();
        self.progress.tick();
    }

    /// A thread that called the harness's `fetch` ended.
    fn thread_ended(&self) {
        let mut s = self.lock();
        s.sign();
        drop(s);
        self.changed.notify_all();
    }

    /// The server received a request for `resource`; waits until it may answer, and
    /// says how.
    fn serve(&self, resource: usize) -> Reply {
        let mut s = self.lock();
        let Some(&p) = s.position.get(&resource) else {
            if s.fetch_violation.is_none() {
                s.fetch_violation = Some(Violation::new(
                    "only the resources given to fetch_all to be fetched",
                    format!("resource {resource} was fetched, which is not among the inputs"),
                ));
            }
            s.open();
            drop(s);
            self.changed.notify_all();
            return Reply::Error(format!("resource {resource} is not served here"));
        };
        s.requests[p] += 1;
        if s.requests[p] > 1 && s.fetch_violation.is_none() {
            s.fetch_violation = Some(Violation::new(
                "each input fetched exactly once",
                format!(
                    "resource {resource} (input {p}) was fetched {} times",
                    s.requests[p]
                ),
            ));
            s.open();
        }
        s.held.insert(p);
        // A new request: a sign for the fetch that returned last.
        s.sign();
        if s.phase == Phase::Gathering && s.held.len() >= s.scenario.target() {
            match s.release {
                Release::AllAtOnce => s.open(),
                _ => {
                    s.phase = Phase::OneAtATime;
                    s.release_next();
                }
            }
        }
        self.changed.notify_all();
        self.progress.tick();
        let mut s = self
            .changed
            .wait_while(s, |s| !s.may_reply(p))
            .unwrap_or_else(|e| e.into_inner());
        s.held.remove(&p);
        match s.scenario.failure(p) {
            None => Reply::Body(body(resource)),
            Some(Failure::ErrorReply) => {
                Reply::Error(format!("resource {resource} is not available"))
            }
            Some(Failure::Closed) => Reply::Close,
        }
    }
}

/// What the server answers.
enum Reply {
    Body(String),
    Error(String),
    Close,
}

thread_local! {
    /// Tells the round whose `fetch` this thread called when the thread ends.
    static THREAD_END: RefCell<Option<EndGuard>> = const { RefCell::new(None) };
}

/// Dropped when its thread ends (thread-local destructors run then).
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.thread_ended();
    }
}

/// Arranges for `shared` to hear when the current thread ends.
fn watch_thread_end(shared: &Arc<Shared>) {
    // A thread being torn down has no thread-locals left: nothing to watch then.
    let _ = THREAD_END.try_with(|guard| {
        let mut guard = guard.borrow_mut();
        if !guard.as_ref().is_some_and(|g| Arc::ptr_eq(&g.0, shared)) {
            *guard = Some(EndGuard(Arc::clone(shared)));
        }
    });
}

/// The harness's fetch: one connection per fetch to the round's server.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// The longest reply line read (bodies are short).
const MAX_REPLY: u64 = 4096;

impl Client {
    fn request(&self, resource: usize) -> Fetched {
        let stream = TcpStream::connect(self.addr)
            .map_err(|e| format!("could not connect to the server: {e}"))?;
        (&stream)
            .write_all(format!("GET {resource}\n").as_bytes())
            .map_err(|e| format!("could not send the request: {e}"))?;
        let mut line = String::new();
        BufReader::new((&stream).take(MAX_REPLY))
            .read_line(&mut line)
            .map_err(|e| format!("could not read the reply: {e}"))?;
        let line = line.trim_end_matches('\n');
        if let Some(body) = line.strip_prefix("OK ") {
            Ok(body.to_string())
        } else if let Some(message) = line.strip_prefix("ERR ") {
            Err(format!("the server answered: {message}"))
        } else if line.is_empty() {
            Err(format!(
                "the server closed the connection without replying to GET {resource}"
            ))
        } else {
            Err(format!("the server sent an unreadable reply: {line:?}"))
        }
    }
}

impl Fetch for Client {
    fn fetch(&self, resource: usize) -> Fetched {
        self.shared.enter(resource);
        let outcome = self.request(resource);
        self.shared.leave(resource);
        outcome
    }
}

/// The round's server: a listener, an accepting thread, a thread per connection.
struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepting: Option<JoinHandle<()>>,
}

impl Server {
    fn start(shared: Arc<Shared>) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let accepting = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("io-fanout-server".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if shared.lock().closing {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let shared = Arc::clone(&shared);
                        let _ = std::thread::Builder::new()
                            .name("io-fanout-connection".into())
                            .spawn(move || answer(&shared, stream));
                    }
                })?
        };
        Ok(Server {
            addr,
            shared,
            accepting: Some(accepting),
        })
    }

    /// Ends the round: every held reply goes, the listener closes.
    fn close(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        // Wakes the accepting thread, which sees `closing`. Should the connection
        // fail, the thread is left to end with the process rather than waited for.
        let woken = TcpStream::connect(self.addr).is_ok();
        if let Some(h) = self.accepting.take() {
            if woken {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

/// Serves one connection: one request line (bounded), one reply.
fn answer(shared: &Shared, stream: TcpStream) {
    let mut line = String::new();
    if BufReader::new((&stream).take(64))
        .read_line(&mut line)
        .is_err()
    {
        return;
    }
    let Some(resource) = line
        .trim_end()
        .strip_prefix("GET ")
        .and_then(|r| r.parse::<usize>().ok())
    else {
        let _ = (&stream).write_all(b"ERR bad request\n");
        return;
    };
    let reply = match shared.serve(resource) {
        Reply::Body(body) => format!("OK {body}\n"),
        Reply::Error(message) => format!("ERR {message}\n"),
        Reply::Close => return,
    };
    let _ = (&stream).write_all(reply.as_bytes());
}

/// What one round saw.
struct Round {
    results: Vec<Fetched>,
    state: Seen,
}

/// What the server and the harness's `Fetch` noted in a round.
struct Seen {
    requests: Vec<u32>,
    most_inside: usize,
    in_flight_violation: Option<Violation>,
    fetch_violation: Option<Violation>,
}

/// Runs one round of `scenario` on `F`: a fresh server, `fetch_all` on the current
/// thread, the server closed.
fn round<F: FanOut>(
    scenario: Scenario,
    release: Release,
    progress: &Progress,
) -> Result<Round, Violation> {
    let inputs: Vec<usize> = (0..scenario.inputs).map(resource).collect();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            scenario,
            release,
            caller: std::thread::current().id(),
            position: inputs.iter().enumerate().map(|(i, &r)| (r, i)).collect(),
            phase: Phase::Gathering,
            requests: vec![0; scenario.inputs],
            held: BTreeSet::new(),
            released: BTreeSet::new(),
            out: None,
            awaiting_sign: false,
            inside: 0,
            most_inside: 0,
            in_flight_violation: None,
            fetch_violation: None,
            closing: false,
        }),
        changed: Condvar::new(),
        progress: progress.clone(),
    });
    let mut server = Server::start(Arc::clone(&shared)).map_err(|e| {
        Violation::new(
            "the check's server to start on 127.0.0.1",
            format!("it could not: {e} (not the implementation's fault: rerun)"),
        )
    })?;
    let client = Arc::new(Client {
        addr: server.addr,
        shared: Arc::clone(&shared),
    });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        F::fetch_all(client, inputs, scenario.workers)
    }));
    server.close();
    progress.tick();
    let results = outcome.map_err(|payload| crate::runner::panicked("fetch_all", payload))?;
    let s = shared.lock();
    let state = Seen {
        requests: s.requests.clone(),
        most_inside: s.most_inside,
        in_flight_violation: s.in_flight_violation.clone(),
        fetch_violation: s.fetch_violation.clone(),
    };
    drop(s);
    Ok(Round { results, state })
}

/// Judges one round of `scenario`.
fn judge(scenario: Scenario, release: Release, round: Round) -> Result<(), Violation> {
    let Round { results, state } = round;
    let n = scenario.inputs;
    match scenario.property {
        Property::InFlight => {
            if let Some(v) = state.in_flight_violation {
                return Err(v);
            }
            let t = scenario.target();
            if state.most_inside < t {
                return Err(Violation::new(
                    format!("{t} fetches in flight at once"),
                    format!("at most {} were in flight at once", state.most_inside),
                ));
            }
            Ok(())
        }
        Property::EveryInput => {
            if let Some(v) = state.fetch_violation {
                return Err(v);
            }
            if results.len() != n {
                return Err(Violation::new(
                    format!("one result per input ({n} inputs)"),
                    format!("fetch_all returned {} results", results.len()),
                ));
            }
            if let Some(p) = state.requests.iter().position(|&r| r == 0) {
                return Err(Violation::new(
                    "every input fetched",
                    format!("resource {} (input {p}) was never fetched", resource(p)),
                ));
            }
            let order = match release {
                Release::LastFirst => "the last input's fetch returned first",
                _ => "the first input's fetch returned first, then the others one at a time",
            };
            for (i, got) in results.iter().enumerate() {
                let want = body(resource(i));
                match got {
                    Ok(b) if *b == want => {}
                    Ok(b) => {
                        let whose = (0..n).find(|&j| body(resource(j)) == *b);
                        let seen = match whose {
                            Some(j) => format!(
                                "result {i} is the body of resource {} (input {j}), not of resource {} ({order}): results must be in input order, not in the order fetches return",
                                resource(j),
                                resource(i)
                            ),
                            None => format!("result {i} is Ok({b:?}), not the body of resource {}", resource(i)),
                        };
                        return Err(Violation::new(
                            "result i to be the outcome of fetching input i",
                            seen,
                        ));
                    }
                    Err(e) => {
                        return Err(Violation::new(
                            "result i to be the outcome of fetching input i",
                            format!(
                            "result {i} is Err({e:?}), but resource {} was served without error",
                            resource(i)
                        ),
                        ))
                    }
                }
            }
            Ok(())
        }
        Property::FailureIsolated => {
            let failing: Vec<String> = (0..n)
                .filter(|&i| scenario.failure(i).is_some())
                .map(|i| resource(i).to_string())
                .collect();
            let failing = failing.join(" and ");
            if results.len() != n {
                return Err(Violation::new(
                    format!("one result per input ({n} inputs), failures included"),
                    format!(
                        "fetch_all returned {} results while resources {failing} failed: a failing fetch must leave an Err in its place",
                        results.len()
                    ),
                ));
            }
            for (i, got) in results.iter().enumerate() {
                match (scenario.failure(i), got) {
                    (None, Ok(b)) if *b == body(resource(i)) => {}
                    (None, Ok(b)) => {
                        return Err(Violation::new(
                            "every input that did not fail to get its own body",
                            format!(
                                "result {i} is Ok({b:?}), not the body of resource {}",
                                resource(i)
                            ),
                        ))
                    }
                    (None, Err(e)) => {
                        return Err(Violation::new(
                            "a failing fetch to be an error for its own input only",
                            format!(
                                "result {i} is Err({e:?}), but resource {} was served without error (only {failing} failed)",
                                resource(i)
                            ),
                        ))
                    }
                    (Some(_), Err(_)) => {}
                    (Some(how), Ok(b)) => {
                        let how = match how {
                            Failure::ErrorReply => "answered with an error",
                            Failure::Closed => "closed the connection without a reply",
                        };
                        return Err(Violation::new(
                            "a failing fetch to leave an Err in its input's place",
                            format!(
                                "result {i} is Ok({b:?}), but the server {how} for resource {}",
                                resource(i)
                            ),
                        ));
                    }
                }
            }
            Ok(())
        }
    }
}

/// Runs one trial of `scenario` on `F`: each of its rounds, judged.
fn trial<F: FanOut>(scenario: Scenario, progress: &Progress) -> Result<(), Violation> {
    for &release in scenario.rounds() {
        if progress.should_stop() {
            break;
        }
        let round = round::<F>(scenario, release, progress)?;
        judge(scenario, release, round)?;
    }
    Ok(())
}

/// Checks `property` of `F` on std threads and real sockets: 3 drawn scenarios, 4
/// trials each, within the std time budget.
pub fn check_std<F: FanOut>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    crate::runner::drawn(property.scenarios(), 3, |scenario| {
        std_rt::explore(&budget, 4, move |progress| trial::<F>(scenario, progress))
    })
}

/// The fan-outs (reference, must-pass, mutants), on std threads.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    use crate::must_pass::io_fanout as must;
    use crate::mutants::io_fanout as m;
    use racecourse_impl::thread::io_fanout::on_std as reference;
    if runtime != Runtime::Std {
        return Vec::new();
    }
    vec![
        Implementation {
            exercise: NAME,
            name: "pool",
            role: Role::Reference,
            check: |p| check_std::<reference::Pool>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "balanced_chunks",
            role: Role::MustPass,
            check: |p| check_std::<must::BalancedChunks>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "thread_per_input",
            role: Role::MustPass,
            check: |p| check_std::<must::ThreadPerInput>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "completion_order",
            role: Role::Mutant {
                must_fail: &["every_input"],
            },
            check: |p| check_std::<m::CompletionOrder>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "grouped_by_worker",
            role: Role::Mutant {
                must_fail: &["every_input"],
            },
            check: |p| check_std::<m::GroupedByWorker>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "drops_remainder",
            role: Role::Mutant {
                must_fail: &["every_input"],
            },
            check: |p| check_std::<m::DropsRemainder>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "errors_dropped",
            role: Role::Mutant {
                must_fail: &["failure_isolated"],
            },
            check: |p| check_std::<m::ErrorsDropped>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "one_error_fails_all",
            role: Role::Mutant {
                must_fail: &["failure_isolated"],
            },
            check: |p| check_std::<m::OneErrorFailsAll>(Property::named(p)),
        },
        Implementation {
            exercise: NAME,
            name: "on_calling_thread",
            role: Role::Mutant {
                must_fail: &["in_flight"],
            },
            check: |p| check_std::<m::OnCallingThread>(Property::named(p)),
        },
    ]
}

/// Generates the E1 I/O fan-out tests for one or more implementations, named
/// `io_fanout::<property>::std::<name>`:
///
/// ```ignore
/// racecourse::io_fanout! {
///     mine => my_crate::io_fanout { fan_out: Pool },
/// }
/// ```
///
/// The exercise runs on std threads only (real sockets); the module still comes from
/// `racecourse_spec::runtimes!`, like every thread exercise. `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! io_fanout {
    (not_attempted) => {
        $crate::__not_attempted!(io_fanout);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { fan_out: $ty:ident }),+ $(,)?) => {
        $crate::__io_fanout_table! { io_fanout [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::io_fanout!(runtimes: [std], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_say_what_runs() {
        let s = Scenario {
            property: Property::FailureIsolated,
            workers: 2,
            inputs: 4,
        };
        assert_eq!(
            s.to_string(),
            "fetch_all(resources [100, 107, 114, 121], workers 2); the server holds every reply until 2 requests wait at once; resource 107 fails with an error reply, resource 114 with a connection closed without a reply"
        );
    }

    #[test]
    fn the_reference_passes_every_property() {
        for p in Property::ALL {
            check_std::<racecourse_impl::thread::io_fanout::on_std::Pool>(p).unwrap_or_else(
                |(found, scenario)| panic!("{p:?}: {}\n{scenario}", found.violation),
            );
        }
    }
}
