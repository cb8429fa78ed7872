//! E5 Manager suite (processes): a student's [`Manager`] started by the checking
//! process, with proxies in the checking process and in child processes it starts
//! (spawn start method), running the suite's scripts.
//!
//! Properties (see `EXERCISES.md`, E5 "Manager", and the contract in
//! `racecourse_spec::manager`):
//! - `all_appended`: the course's example: 6 child processes each append
//!   `Order i completed` through a proxy of their own; the parent's proxy then sees
//!   all 6, each once, in any order;
//! - `concurrent_clients`: 6 children connect, and only once all are connected (a
//!   counter in shared memory) does any of them call; each appends, waits until all
//!   have, and reads the whole list;
//! - `visible_to_others`: what a child writes (list and dict) the parent reads after a
//!   rendezvous, and what the parent writes then the child reads;
//! - `dict`: 3 children insert in turn (a turn counter in shared memory) into one key
//!   and keys of their own; the parent reads the last child's value, each child's own
//!   key, and `None` for a key never inserted;
//! - `manager_died`: the server is killed (`SIGKILL`) while the parent and a child
//!   hold proxies; every later call, and a new `connect`, returns `Gone`;
//! - `no_fd_leak`: the server holds no socket or pipe of the parent's; after
//!   `shutdown` the parent holds no new socket and the server is reaped.
//!
//! ## Deciding without clocks
//! Every rendezvous is a counter in shared memory ([`Board`]); none waits for time to
//! pass. A call that never returns is decided by evidence: after the server is gone
//! (seen a zombie in `/proc`: its sockets are closed by then), a call that keeps
//! trying burns CPU time, and [`HELD`] of it on the calling thread is proof (a correct
//! call sees the end of file and returns within microseconds). Anything else stuck (no
//! counter moved, no child process used CPU time, for [`STALL`]) is a stall: the only
//! verdict that takes a window, and none of the mutants needs it. A server that
//! serves one client at a time and leaves the others waiting fails `concurrent_clients`
//! that way.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use racecourse_impl::process::job::{finish_one, spawn_one};
use racecourse_impl::process::worker::Worker;
use racecourse_spec::job::{Job, JobError};
use racecourse_spec::manager::{Manager, ManagerError, ManagerHandle, Proxy};
use serde::{Deserialize, Serialize};

use crate::pipe::{no_evidence, watched, Board, SLOW};
use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::watch::{children, sched, HELD};
use crate::runner::{Finding, Found, Runtime};

#[doc(hidden)]
pub use racecourse_impl::job as __job;
#[doc(hidden)]
pub use racecourse_spec::manager::ManagerHandle as __ManagerHandle;

/// The exercise's name in test names and reports.
pub const NAME: &str = "manager";

/// A check fails as stalled once nothing at all happened for this long: no counter
/// moved, no child process used CPU time, no step returned (the Pipe's watcher's).
pub use crate::pipe::STALL;

/// Child processes in `all_appended` and `concurrent_clients` (the course's six).
pub const CLIENTS: u32 = 6;

/// Child processes in `dict`, inserting in turn.
pub const WRITERS: u32 = 3;

/// How much CPU time a child may burn after the server is gone before its call counts
/// as retrying instead of returning `Gone` (a correct child makes one call and exits).
pub const CHILD_HELD: Duration = Duration::from_millis(200);

properties! { $ __manager_table;
    /// 6 child processes each append "Order i completed" through a proxy of their own:
    /// the parent's proxy sees all 6, each once, in any order.
    AllAppended => all_appended [process],
    /// 6 children connect, none calls before all are connected, then each appends
    /// and reads the whole list: every connected proxy is served at once.
    ConcurrentClients => concurrent_clients [process],
    /// A child's writes (list and dict) are read by the parent's proxy after a
    /// rendezvous, and the parent's by the child's.
    VisibleToOthers => visible_to_others [process],
    /// 3 children insert in turn into one key and keys of their own: the last insert
    /// wins, every own key is there, a key never inserted is `None`.
    Dict => dict [process],
    /// After the server is killed (SIGKILL), every call of the parent's and a child's
    /// proxy, and a new connect, returns `Gone`: never a hang, a retry or a cached
    /// answer.
    ManagerDied => manager_died [process],
    /// The server holds no socket or pipe of the parent's; after `shutdown` the parent
    /// holds no new socket and the server is reaped (`/proc`).
    NoFdLeak => no_fd_leak [process],
}

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E5, processes",
    title: "a manager: a server process owning a list and a dict, proxies in other processes",
    properties: &Property::INFO,
    slots: &[Slot {
        name: "manager",
        bound: "racecourse_spec::manager::Manager",
    }],
    implementations,
    snapshots: crate::registry::no_snapshots,
};

// ---------------------------------------------------------------------------------
// The board ([`crate::pipe::Board`]): counters in shared memory. Slot 4 is the
// parent's thread id (`watched`), 15 the changes.

/// Children connected (`concurrent_clients`).
const CONNECTED: usize = 0;
/// Children whose append returned (`concurrent_clients`).
const APPENDED: usize = 1;
/// Children done with their script.
const DONE: usize = 2;
/// Children whose script failed.
const FAILED: usize = 3;
/// Set by the parent: give up (another process failed).
const ABORT: usize = 8;
/// The child wrote (`visible_to_others`), or holds its proxy (`manager_died`).
const C_WROTE: usize = 5;
/// The parent wrote (`visible_to_others`), or the server is dead (`manager_died`).
const P_WROTE: usize = 6;
/// Whose turn it is to insert (`dict`).
const TURN: usize = 7;

// ---------------------------------------------------------------------------------
// The child's side.

/// What the suite's child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Script {
    /// `all_appended`: connect, append `Order <index> completed`, return.
    Append {
        /// The child's index.
        index: u32,
    },
    /// `concurrent_clients`: connect, wait until all are connected, append, wait
    /// until all have appended, read the list.
    Concurrent {
        /// The board's token.
        board: String,
        /// The child's index.
        index: u32,
    },
    /// `visible_to_others`: write, signal, wait for the parent's writes, read them.
    Visible {
        /// The board's token.
        board: String,
    },
    /// `dict`: at its turn, insert into the shared key and its own.
    Insert {
        /// The board's token.
        board: String,
        /// The child's index (its turn).
        index: u32,
    },
    /// `manager_died`: connect, append, signal, wait until the server is dead, call.
    AfterDeath {
        /// The board's token.
        board: String,
    },
}

/// The `i`th order of the course's example.
pub fn order(i: u32) -> Vec<u8> {
    format!("Order {i} completed").into_bytes()
}

/// The parent of this process, gone? (the child's give-up check).
fn parent_gone(parent: u32) -> impl Fn() -> Option<String> {
    move || {
        (std::os::unix::process::parent_id() != parent)
            .then(|| "the parent process is gone".to_string())
    }
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn show_all(items: &[Vec<u8>]) -> String {
    let shown: Vec<String> = items.iter().map(|i| show(i)).collect();
    format!("[{}]", shown.join(", "))
}

/// Why `items` is not exactly the orders `0..n`, each once in any order, if it is not.
fn not_all_orders(items: &[Vec<u8>], n: u32) -> Option<String> {
    let mut got = items.to_vec();
    got.sort();
    let mut want: Vec<Vec<u8>> = (0..n).map(order).collect();
    want.sort();
    (got != want).then(|| {
        let missing: Vec<Vec<u8>> = want.iter().filter(|w| !got.contains(w)).cloned().collect();
        format!(
            "the list holds {} ({} items); it should hold the {n} orders, each once: missing {}",
            show_all(items),
            items.len(),
            show_all(&missing)
        )
    })
}

/// The child's side of every check: runs `script` with proxies of `M`.
pub fn child_main<M: Manager>((handle, script): (ManagerHandle, Script)) -> Result<String, String> {
    let parent = std::os::unix::process::parent_id();
    let connect = || M::connect(&handle).map_err(|e| format!("connect failed: {e}"));
    match script {
        Script::Append { index } => {
            let mut proxy = connect()?;
            proxy
                .append(&order(index))
                .map_err(|e| format!("append failed: {e}"))?;
            Ok("appended".into())
        }
        Script::Concurrent { board, index } => {
            let board = Board::attach(&board)?;
            let outcome = (|| {
                let mut proxy = connect()?;
                board.add(CONNECTED);
                let aborted = || {
                    parent_gone(parent)().or_else(|| {
                        (board.get(ABORT) != 0).then(|| "aborted: another child failed".into())
                    })
                };
                board.wait(SLOW, || board.get(CONNECTED) >= CLIENTS, aborted)?;
                proxy.append(&order(index)).map_err(|e| {
                    format!("in child {index}: its append, all {CLIENTS} children connected, failed: {e}")
                })?;
                board.add(APPENDED);
                board.wait(SLOW, || board.get(APPENDED) >= CLIENTS, aborted)?;
                let items = proxy
                    .items()
                    .map_err(|e| format!("in child {index}: items failed: {e}"))?;
                if let Some(why) = not_all_orders(&items, CLIENTS) {
                    return Err(format!(
                        "in child {index}, once all {CLIENTS} appends returned: {why}"
                    ));
                }
                Ok("all there".to_string())
            })();
            board.add(if outcome.is_ok() { DONE } else { FAILED });
            outcome
        }
        Script::Visible { board } => {
            let board = Board::attach(&board)?;
            let mut proxy = connect()?;
            proxy
                .append(b"written by the child")
                .map_err(|e| format!("the child's append failed: {e}"))?;
            proxy
                .insert(b"child key", b"child value")
                .map_err(|e| format!("the child's insert failed: {e}"))?;
            board.set(C_WROTE, 1);
            board.wait(SLOW, || board.get(P_WROTE) != 0, parent_gone(parent))?;
            let items = proxy
                .items()
                .map_err(|e| format!("the child's items failed: {e}"))?;
            if !items.iter().any(|i| i == b"written by the parent") {
                return Err(format!(
                    "in the child, after the parent's append returned, the child's proxy reads the list {}: the parent's item is missing",
                    show_all(&items)
                ));
            }
            let value = proxy
                .get(b"parent key")
                .map_err(|e| format!("the child's get failed: {e}"))?;
            if value.as_deref() != Some(b"parent value") {
                return Err(format!(
                    "in the child, after the parent's insert returned, get(\"parent key\") gave {:?}, not \"parent value\"",
                    value.as_deref().map(show)
                ));
            }
            Ok("saw the parent's writes".into())
        }
        Script::Insert { board, index } => {
            let board = Board::attach(&board)?;
            let mut proxy = connect()?;
            board.wait(SLOW, || board.get(TURN) >= index, parent_gone(parent))?;
            proxy
                .insert(b"shared", format!("from child {index}").as_bytes())
                .map_err(|e| format!("child {index}'s insert failed: {e}"))?;
            proxy
                .insert(
                    format!("own {index}").as_bytes(),
                    index.to_string().as_bytes(),
                )
                .map_err(|e| format!("child {index}'s insert failed: {e}"))?;
            board.set(TURN, index + 1);
            Ok("inserted".into())
        }
        Script::AfterDeath { board } => {
            let board = Board::attach(&board)?;
            let mut proxy = connect()?;
            proxy
                .append(b"before")
                .map_err(|e| format!("the child's append before the kill failed: {e}"))?;
            board.set(C_WROTE, 1);
            board.wait(SLOW, || board.get(P_WROTE) != 0, parent_gone(parent))?;
            match proxy.append(b"after") {
                Err(ManagerError::Gone) => Ok("gone".into()),
                other => Err(format!(
                    "in the child, an append after the server was killed gave {other:?}, not Err(Gone)"
                )),
            }
        }
    }
}

/// The child job for the manager type `M`; declare one with `__register_worker!`.
pub struct ManagerWorker<M> {
    job: &'static Job<(ManagerHandle, Script), String>,
    _manager: std::marker::PhantomData<fn() -> M>,
}

impl<M> ManagerWorker<M> {
    #[doc(hidden)]
    pub const fn __new(job: &'static Job<(ManagerHandle, Script), String>) -> Self {
        ManagerWorker {
            job,
            _manager: std::marker::PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for ManagerWorker<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<M>())
    }
}

/// Declares the child job of a manager type: `__register_worker!(static NAME: Type)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __register_manager {
    ($vis:vis static $name:ident : $ty:ty $(;)?) => {
        $vis static $name: $crate::manager::ManagerWorker<$ty> = {
            $crate::manager::__job!(static $name: fn(($crate::manager::__ManagerHandle, $crate::manager::Script)) -> ::std::string::String = $crate::manager::child_main::<$ty>);
            $crate::manager::ManagerWorker::__new(&$name)
        };
    };
}

#[doc(hidden)]
pub use crate::__register_manager as __register_worker;

// ---------------------------------------------------------------------------------
// The parent's side: each step that calls the implementation on a thread of its own,
// watched.

/// Starts the manager (on this thread: the server must be spawned by a thread that
/// outlives it).
fn start<M: Manager>(what: &str) -> Result<M, Violation> {
    M::start().map_err(|e| Violation::new(what, format!("Manager::start failed: {e}")))
}

/// Starts a child running `script` (on this thread, for the same reason).
fn spawn<M: Manager>(
    worker: &'static ManagerWorker<M>,
    handle: &ManagerHandle,
    script: Script,
    what: &str,
) -> Result<Worker, Violation> {
    spawn_one(worker.job, &(handle.clone(), script))
        .map_err(|e| Violation::new(what, format!("starting a child process failed: {e}")))
}

/// How long `join` is willing to wait: for ever (the watcher decides).
const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

/// Joins `child` (watched), expecting its script to succeed.
fn join_ok(child: Worker, what: &str, board: Option<&Arc<Board>>) -> Result<String, Violation> {
    match watched(what, board, &mut no_evidence, move || {
        finish_one::<String>(child, FOREVER)
    })? {
        Ok(said) => Ok(said),
        Err(JobError::Failed(why)) => Err(Violation::new(what, why)),
        Err(e) => Err(Violation::new(what, format!("the child's job failed: {e}"))),
    }
}

/// Connects a proxy in this process (watched).
fn connect<M: Manager>(handle: &ManagerHandle, what: &str) -> Result<M::Proxy, Violation> {
    let handle = handle.clone();
    watched(what, None, &mut no_evidence, move || M::connect(&handle))?
        .map_err(|e| Violation::new(what, format!("the parent's connect failed: {e}")))
}

/// Runs `call` on the parent's proxy (watched), giving the proxy back.
fn call<P: Proxy, T: Send + 'static>(
    proxy: P,
    what: &str,
    board: Option<&Arc<Board>>,
    call: impl FnOnce(&mut P) -> T + Send + 'static,
) -> Result<(P, T), Violation> {
    watched(what, board, &mut no_evidence, move || {
        let mut proxy = proxy;
        let got = call(&mut proxy);
        (proxy, got)
    })
}

/// Shuts the manager down (watched) and checks that its process is reaped.
fn shutdown<M: Manager>(manager: M, what: &str) -> Result<(), Violation> {
    let pid = manager.pid();
    watched(what, None, &mut no_evidence, move || manager.shutdown())?
        .map_err(|e| Violation::new(what, format!("shutdown failed: {e}")))?;
    reaped(pid, what)
}

/// Fails if process `pid` is still a child of this process (alive or a zombie).
fn reaped(pid: u32, what: &str) -> Result<(), Violation> {
    match children().into_iter().find(|c| c.pid == pid) {
        None => Ok(()),
        Some(c) => Err(Violation::new(
            what,
            format!(
                "the server process {pid} is still a child of the parent ({}) after shutdown returned (or the manager was dropped): it should be stopped and reaped",
                if c.state == 'Z' { "a zombie, never reaped" } else { "still running" }
            ),
        )),
    }
}

fn all_appended<M: Manager>(worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what =
        "6 children each append \"Order i completed\": the parent's proxy sees all 6, each once";
    let manager = start::<M>(what)?;
    let handle = manager.handle();
    let kids = (0..CLIENTS)
        .map(|index| spawn(worker, &handle, Script::Append { index }, what))
        .collect::<Result<Vec<_>, _>>()?;
    for kid in kids {
        join_ok(kid, what, None)?;
    }
    let proxy = connect::<M>(&handle, what)?;
    let (proxy, items) = call(proxy, what, None, |p| p.items())?;
    let items =
        items.map_err(|e| Violation::new(what, format!("the parent's items failed: {e}")))?;
    if let Some(why) = not_all_orders(&items, CLIENTS) {
        return Err(Violation::new(
            what,
            format!("once the 6 children's appends returned and they exited, {why}"),
        ));
    }
    drop(proxy);
    shutdown(manager, what)
}

fn concurrent_clients<M: Manager>(worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what = "6 children connected at once, each appending once all are connected, to be served and read all 6";
    let board = Arc::new(Board::create()?);
    let manager = start::<M>(what)?;
    let handle = manager.handle();
    let kids = (0..CLIENTS)
        .map(|index| {
            let script = Script::Concurrent {
                board: board.token().to_owned(),
                index,
            };
            spawn(worker, &handle, script, what)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pids: Vec<u32> = kids.iter().map(Worker::id).collect();
    let shared = Arc::clone(&board);
    let ended = watched(what, Some(&board), &mut no_evidence, move || {
        shared.wait(
            SLOW,
            || shared.get(DONE) >= CLIENTS || shared.get(FAILED) > 0,
            || {
                // A child that died without counting itself ends the wait too.
                let alive = pids
                    .iter()
                    .filter(|&&pid| {
                        children()
                            .iter()
                            .any(|c| c.pid == pid && !matches!(c.state, 'Z' | 'X'))
                    })
                    .count() as u32;
                (alive + shared.get(DONE) + shared.get(FAILED) < CLIENTS)
                    .then(|| "a child ended without finishing".to_string())
            },
        )
    })?;
    let failed = board.get(FAILED) > 0 || ended.is_err();
    board.set(ABORT, 1);
    let mut found = Vec::new();
    for kid in kids {
        if let Err(v) = join_ok(kid, what, Some(&board)) {
            found.push(v);
        }
    }
    // The children told to give up say so; the one that failed says why.
    if let Some(i) = found.iter().position(|v| !v.seen.starts_with("aborted")) {
        return Err(found.swap_remove(i));
    }
    if let Some(v) = found.pop() {
        return Err(v);
    }
    if failed {
        return Err(Violation::new(what, "a child ended without finishing"));
    }
    shutdown(manager, what)
}

fn visible_to_others<M: Manager>(worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what =
        "what one process writes through its proxy to be read by another's, after a rendezvous";
    let board = Arc::new(Board::create()?);
    let manager = start::<M>(what)?;
    let handle = manager.handle();
    let proxy = connect::<M>(&handle, what)?;
    let kid = spawn(
        worker,
        &handle,
        Script::Visible {
            board: board.token().to_owned(),
        },
        what,
    )?;
    let pid = kid.id();
    let shared = Arc::clone(&board);
    watched(what, Some(&board), &mut no_evidence, move || {
        shared.wait(SLOW, || shared.get(C_WROTE) != 0, child_gone(pid))
    })?
    .map_err(|why| Violation::new(what, format!("the child did not write: {why}")))?;
    let (proxy, read) = call(proxy, what, Some(&board), |p| {
        p.items()
            .and_then(|items| Ok((items, p.get(b"child key")?)))
    })?;
    let (items, value) =
        read.map_err(|e| Violation::new(what, format!("the parent's read failed: {e}")))?;
    if !items.iter().any(|i| i == b"written by the child") {
        return Err(Violation::new(
            what,
            format!(
                "after the child's append returned, the parent's proxy reads the list {}: the child's item is missing",
                show_all(&items)
            ),
        ));
    }
    if value.as_deref() != Some(b"child value") {
        return Err(Violation::new(
            what,
            format!(
                "after the child's insert returned, the parent's get(\"child key\") gave {:?}, not \"child value\"",
                value.as_deref().map(show)
            ),
        ));
    }
    let (proxy, wrote) = call(proxy, what, Some(&board), |p| {
        p.append(b"written by the parent")
            .and_then(|()| p.insert(b"parent key", b"parent value"))
    })?;
    wrote.map_err(|e| Violation::new(what, format!("the parent's write failed: {e}")))?;
    board.set(P_WROTE, 1);
    join_ok(kid, what, Some(&board))?;
    drop(proxy);
    shutdown(manager, what)
}

fn dict<M: Manager>(worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what = "3 children inserting in turn: the last insert of a key wins, every key is there, a key never inserted is None";
    let board = Arc::new(Board::create()?);
    let manager = start::<M>(what)?;
    let handle = manager.handle();
    let kids = (0..WRITERS)
        .map(|index| {
            let script = Script::Insert {
                board: board.token().to_owned(),
                index,
            };
            spawn(worker, &handle, script, what)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for kid in kids {
        join_ok(kid, what, Some(&board))?;
    }
    let proxy = connect::<M>(&handle, what)?;
    let (proxy, read) = call(proxy, what, None, |p| {
        let shared = p.get(b"shared")?;
        let own = (0..WRITERS)
            .map(|i| p.get(format!("own {i}").as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let never = p.get(b"never inserted")?;
        Ok::<_, ManagerError>((shared, own, never))
    })?;
    let (shared, own, never) =
        read.map_err(|e| Violation::new(what, format!("the parent's get failed: {e}")))?;
    let last = format!("from child {}", WRITERS - 1);
    if shared.as_deref() != Some(last.as_bytes()) {
        return Err(Violation::new(
            what,
            format!(
                "children 0, 1, 2 inserted \"shared\" in that order (each after the previous one's insert returned); get(\"shared\") gave {:?}, not {last:?}",
                shared.as_deref().map(show)
            ),
        ));
    }
    for (i, value) in own.iter().enumerate() {
        if value.as_deref() != Some(i.to_string().as_bytes()) {
            return Err(Violation::new(
                what,
                format!(
                    "child {i} inserted \"own {i}\" = \"{i}\"; get gave {:?}",
                    value.as_deref().map(show)
                ),
            ));
        }
    }
    if let Some(value) = never {
        return Err(Violation::new(
            what,
            format!(
                "get of a key never inserted gave Some({}), not None",
                show(&value)
            ),
        ));
    }
    drop(proxy);
    shutdown(manager, what)
}

/// The parent's wait for a child's counters: gives up if the child is gone.
fn child_gone(pid: u32) -> impl Fn() -> Option<String> {
    move || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let state = stat
            .as_deref()
            .and_then(|s| s.rsplit_once(") "))
            .and_then(|(_, rest)| rest.chars().next());
        match state {
            None | Some('Z') | Some('X') => Some("the child process ended".to_string()),
            _ => None,
        }
    }
}

/// A process's state letter and CPU time (user + system), from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> Option<Duration> {
    children().into_iter().find(|c| c.pid == pid).map(|c| c.cpu)
}

/// Waits until process `pid` (a child of this one, killed) is a zombie or gone: its
/// files are closed by then. Not a verdict: a killed process always dies.
fn wait_dead(pid: u32) {
    while children()
        .iter()
        .any(|c| c.pid == pid && !matches!(c.state, 'Z' | 'X'))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Evidence that a call made after the server's death keeps trying: the calling
/// thread burnt [`HELD`] of CPU time since, or the child `kid` [`CHILD_HELD`].
fn still_trying(what: &str, kid: Option<u32>) -> impl FnMut(libc::pid_t) -> Option<Violation> {
    let what = what.to_owned();
    let mut start = None;
    let mut kid_start = None;
    move |tid| {
        if let Some((_, cpu)) = sched(tid) {
            let since = cpu.saturating_sub(*start.get_or_insert(cpu));
            if since >= HELD {
                return Some(Violation::new(
                    &what,
                    format!(
                        "the parent's call is still running after the server died: it burnt {since:?} of CPU time since, trying again instead of returning Gone"
                    ),
                ));
            }
        }
        let cpu = process_cpu(kid?)?;
        let since = cpu.saturating_sub(*kid_start.get_or_insert(cpu));
        (since >= CHILD_HELD).then(|| {
            Violation::new(
                &what,
                format!(
                    "the child's call is still running after the server died: the child burnt {since:?} of CPU time since, trying again instead of returning Gone"
                ),
            )
        })
    }
}

fn manager_died<M: Manager>(worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what = "every proxy call and connect after the server was killed (SIGKILL) to return Gone, promptly";
    let board = Arc::new(Board::create()?);
    let manager = start::<M>(what)?;
    let handle = manager.handle();
    let server = manager.pid();
    let proxy = connect::<M>(&handle, what)?;
    let (proxy, appended) = call(proxy, what, None, |p| p.append(b"before"))?;
    appended.map_err(|e| {
        Violation::new(
            what,
            format!("the parent's append before the kill failed: {e}"),
        )
    })?;
    let kid = spawn(
        worker,
        &handle,
        Script::AfterDeath {
            board: board.token().to_owned(),
        },
        what,
    )?;
    let pid = kid.id();
    let shared = Arc::clone(&board);
    watched(what, Some(&board), &mut no_evidence, move || {
        shared.wait(SLOW, || shared.get(C_WROTE) != 0, child_gone(pid))
    })?
    .map_err(|why| Violation::new(what, format!("the child did not connect: {why}")))?;
    // SAFETY: kill sends a signal to the server process, our child (not reaped yet,
    // so its pid is not reused); it touches no memory.
    if unsafe { libc::kill(server as libc::pid_t, libc::SIGKILL) } == -1 {
        return Err(Violation::new(
            what,
            format!(
                "killing the server process {server}: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    wait_dead(server);
    board.set(P_WROTE, 1);
    let mut evidence = still_trying(what, Some(pid));
    let (_proxy, after) = watched(what, Some(&board), &mut evidence, move || {
        let mut proxy = proxy;
        let calls = [
            ("append", proxy.append(b"after").map(|_| String::new())),
            ("len", proxy.len().map(|n| n.to_string())),
            ("items", proxy.items().map(|i| show_all(&i))),
            ("get", proxy.get(b"k").map(|v| format!("{v:?}"))),
        ];
        let fresh = M::connect(&handle).and_then(|mut p| p.len().map(|n| n.to_string()));
        (proxy, (calls, fresh))
    })?;
    let (calls, fresh) = after;
    for (name, outcome) in calls {
        if outcome != Err(ManagerError::Gone) {
            return Err(Violation::new(
                what,
                format!(
                    "after the server was killed, the parent's {name} gave {outcome:?}, not Err(Gone)"
                ),
            ));
        }
    }
    if fresh != Err(ManagerError::Gone) {
        return Err(Violation::new(
            what,
            format!(
                "after the server was killed, a new connect and len gave {fresh:?}, not Err(Gone)"
            ),
        ));
    }
    let mut evidence = still_trying(what, Some(pid));
    let said = watched(what, Some(&board), &mut evidence, move || {
        finish_one::<String>(kid, FOREVER)
    })?;
    match said {
        Ok(_) => {}
        Err(JobError::Failed(why)) => return Err(Violation::new(what, why)),
        Err(e) => return Err(Violation::new(what, format!("the child's job failed: {e}"))),
    }
    drop(manager);
    reaped(server, what)
}

/// The sockets and pipes process `pid` holds (`self` for this one), as their
/// `/proc/<pid>/fd` links (`socket:[inode]`), by fd number; fds 0 to 2 aside.
fn sockets_and_pipes(pid: &str) -> Vec<(i32, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            let link = std::fs::read_link(e.path()).ok()?;
            let link = link.to_string_lossy().into_owned();
            (fd > 2 && (link.starts_with("socket:") || link.starts_with("pipe:")))
                .then_some((fd, link))
        })
        .collect()
}

/// This process's fds that are not close-on-exec: every child inherits them whatever
/// the manager does (from the test runner, say), so they are no leak of its own.
fn ambient() -> BTreeSet<String> {
    sockets_and_pipes("self")
        .into_iter()
        .filter(|&(fd, _)| {
            // SAFETY: F_GETFD reads the fd's flags only; a closed fd gives -1.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            flags != -1 && flags & libc::FD_CLOEXEC == 0
        })
        .map(|(_, link)| link)
        .collect()
}

fn no_fd_leak<M: Manager>(_worker: &'static ManagerWorker<M>) -> Result<(), Violation> {
    let what = "the server to hold no socket or pipe of the parent's, and the parent no new socket after shutdown";
    let ambient = ambient();
    let before: BTreeSet<String> = sockets_and_pipes("self")
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let manager = start::<M>(what)?;
    let server = manager.pid();
    // One call answered: the server runs its own program (its fd table is no longer
    // the parent's copy from before exec).
    let proxy = connect::<M>(&manager.handle(), what)?;
    let (proxy, len) = call(proxy, what, None, |p| p.len())?;
    len.map_err(|e| Violation::new(what, format!("the parent's len failed: {e}")))?;
    let mine: BTreeSet<String> = sockets_and_pipes("self")
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let shared: Vec<String> = sockets_and_pipes(&server.to_string())
        .into_iter()
        .filter(|(_, link)| mine.contains(link) && !ambient.contains(link))
        .map(|(fd, link)| format!("fd {fd} ({link})"))
        .collect();
    if !shared.is_empty() {
        return Err(Violation::new(
            what,
            format!(
                "the server process holds {}, which the parent holds too: a socket or pipe of the parent's inherited, or the server's listening socket kept by the parent",
                shared.join(", ")
            ),
        ));
    }
    drop(proxy);
    shutdown(manager, what)?;
    let left: Vec<String> = sockets_and_pipes("self")
        .into_iter()
        .filter(|(_, link)| !before.contains(link))
        .map(|(fd, link)| format!("fd {fd} ({link})"))
        .collect();
    if !left.is_empty() {
        return Err(Violation::new(
            what,
            format!(
                "after shutdown, with every proxy dropped, the parent still holds {}: something of the manager was never closed",
                left.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Checks `property` of the manager type run by `worker`, in real processes.
pub fn check<M: Manager>(
    worker: &'static ManagerWorker<M>,
    property: Property,
) -> Result<(), Finding> {
    let outcome = match property {
        Property::AllAppended => all_appended(worker),
        Property::ConcurrentClients => concurrent_clients(worker),
        Property::VisibleToOthers => visible_to_others(worker),
        Property::Dict => dict(worker),
        Property::ManagerDied => manager_died(worker),
        Property::NoFdLeak => no_fd_leak(worker),
    };
    outcome.map_err(|violation| {
        (
            Found {
                violation,
                schedule: "a real server process and child processes (spawn start method); they pace each other with counters in shared memory".to_string(),
                replay_env: Vec::new(),
            },
            format!("property {}", property.name()),
        )
    })
}

crate::__register_manager!(static THREADED: racecourse_impl::process::manager::ThreadedManager);
crate::__register_manager!(static POLL_LOOP: crate::must_pass::manager::PollManager);
crate::__register_manager!(static CACHING: crate::mutants::manager::Flawed<{ crate::mutants::manager::CACHING }>);
crate::__register_manager!(static ONE_CLIENT: crate::mutants::manager::Flawed<{ crate::mutants::manager::ONE_CLIENT }>);
crate::__register_manager!(static RETRIES: crate::mutants::manager::Flawed<{ crate::mutants::manager::RETRIES }>);
crate::__register_manager!(static KEEPS_LISTENER: crate::mutants::manager::Flawed<{ crate::mutants::manager::KEEPS_LISTENER }>);
crate::__register_manager!(static FIRST_WRITE_WINS: crate::mutants::manager::Flawed<{ crate::mutants::manager::FIRST_WRITE_WINS }>);

/// The manager's implementations (reference, must-pass, mutants), on real processes.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    if runtime != Runtime::Process {
        return Vec::new();
    }
    let implementation = |name, role, check| Implementation {
        exercise: NAME,
        name,
        role,
        check,
    };
    let mutant = |must_fail| Role::Mutant { must_fail };
    vec![
        implementation("thread_per_client", Role::Reference, |p| {
            check(&THREADED, Property::named(p))
        }),
        implementation("poll_loop", Role::MustPass, |p| {
            check(&POLL_LOOP, Property::named(p))
        }),
        implementation(
            "caching",
            mutant(&[
                "all_appended",
                "concurrent_clients",
                "visible_to_others",
                "dict",
                "manager_died",
            ]),
            |p| check(&CACHING, Property::named(p)),
        ),
        implementation("one_client", mutant(&["concurrent_clients"]), |p| {
            check(&ONE_CLIENT, Property::named(p))
        }),
        implementation("retries", mutant(&["manager_died"]), |p| {
            check(&RETRIES, Property::named(p))
        }),
        implementation("keeps_listener", mutant(&["no_fd_leak"]), |p| {
            check(&KEEPS_LISTENER, Property::named(p))
        }),
        implementation("first_write_wins", mutant(&["dict"]), |p| {
            check(&FIRST_WRITE_WINS, Property::named(p))
        }),
    ]
}

/// Generates the manager tests (real processes), named
/// `manager::<property>::process::<name>`:
///
/// ```ignore
/// racecourse::manager! {
///     mine => my_crate::manager { manager: MyManager },
/// }
/// ```
///
/// The type must implement [`Manager`]; the macro registers the child job that runs
/// its proxies in re-executed processes. `not_attempted` generates one ignored test
/// saying so.
#[macro_export]
macro_rules! manager {
    (not_attempted) => {
        $crate::__not_attempted!(manager);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { manager: $ty:ident }),+ $(,)?) => {
        $crate::__manager_table! { manager [$($rt)*] [$($name [$($seg)::+] [$ty]),+] }
    };
    ($($impls:tt)+) => {
        $crate::manager!(runtimes: [process], $($impls)+);
    };
}
