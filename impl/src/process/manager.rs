//! The E5 Manager reference (processes): [`ThreadedManager`], a server process that
//! listens on an abstract Unix socket and serves each connection on a thread of its
//! own, and the pieces every manager here shares: the request and reply types, the
//! frames they travel in, the store ([`Store`]), how a server process is started with
//! its listening socket ([`Server`]) and the client's connection ([`Connection`]).
//!
//! ```
//! use racecourse_impl::process::manager::ThreadedManager;
//! use racecourse_spec::manager::{Manager, ManagerError, Proxy};
//!
//! # fn main() {
//! let manager = ThreadedManager::start().unwrap();
//! let mut a = ThreadedManager::connect(&manager.handle()).unwrap();
//! let mut b = ThreadedManager::connect(&manager.handle()).unwrap();
//! a.append(b"Order 1 completed").unwrap();
//! assert_eq!(b.items().unwrap(), vec![b"Order 1 completed".to_vec()]);
//! assert_eq!(b.insert(b"k", b"v").unwrap(), None);
//! assert_eq!(a.get(b"k").unwrap(), Some(b"v".to_vec()));
//! manager.shutdown().unwrap();
//! assert_eq!(a.len(), Err(ManagerError::Gone));
//! # }
//! ```
//!
//! # The server's socket
//! [`Server::start`] binds a `SOCK_STREAM` socket to a fresh abstract name
//! (`\0racecourse-manager-<pid>-<n>`: nothing in the file system to clean up, and the
//! name is free again once its last holder is gone), listens on it, and starts the
//! server process (a worker of this binary) with that socket passed under its own
//! number ([`worker::spawn_passing`]); then the parent closes its copy. So the
//! listening socket is held by the server alone: when the server returns from
//! `start`'s point of view it is already accepting (connections wait in the backlog),
//! and once the server is gone, `connect` is refused (`ECONNREFUSED`) instead of
//! waiting in a backlog nobody will ever accept from. Every connection is held by one
//! client and the server, so the server's death is the end of file every proxy sees
//! ([`ManagerError::Gone`]).
//!
//! # Frames
//! A request and a reply are each a 4-byte little-endian length and a postcard
//! encoding of [`Request`] or [`Reply`], written with one `write`.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use racecourse_spec::job::{Job, JobError};
use racecourse_spec::manager::{Manager, ManagerError, ManagerHandle, Proxy};
use serde::{Deserialize, Serialize};

use super::job::{encode, finish_one, task_of};
use super::pipe::take_fd;
use super::worker::{self, Worker, WorkerOptions};

/// How long `shutdown` is willing to wait for the server to exit: for ever, in
/// practice (136 years).
const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

/// The prefix of a handle's abstract socket name.
const PREFIX: &str = "racecourse-manager-";

/// The largest frame a peer may announce (64 MiB): more is a corrupt stream.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A proxy's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Append an item to the list.
    Append(Vec<u8>),
    /// The list's length.
    Len,
    /// The list's items.
    Items,
    /// Set a key of the dict.
    Insert(Vec<u8>, Vec<u8>),
    /// A key's value.
    Get(Vec<u8>),
    /// Stop the server (from [`Server::shutdown`]).
    Shutdown,
}

/// The server's reply to one [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// `Append` and `Shutdown` done.
    Done,
    /// The list's length.
    Len(u64),
    /// The list's items.
    Items(Vec<Vec<u8>>),
    /// A value (the replaced one for `Insert`, the current one for `Get`).
    Value(Option<Vec<u8>>),
}

/// The manager's objects: one list and one dict.
#[derive(Debug, Default)]
pub struct Store {
    /// The list, in the order of the appends.
    pub list: Vec<Vec<u8>>,
    /// The dict.
    pub dict: HashMap<Vec<u8>, Vec<u8>>,
}

impl Store {
    /// Carries out `request` (all but `Shutdown`, which the server loop handles).
    pub fn apply(&mut self, request: Request) -> Reply {
        match request {
            Request::Append(item) => {
                self.list.push(item);
                Reply::Done
            }
            Request::Len => Reply::Len(self.list.len() as u64),
            Request::Items => Reply::Items(self.list.clone()),
            Request::Insert(key, value) => Reply::Value(self.dict.insert(key, value)),
            Request::Get(key) => Reply::Value(self.dict.get(&key).cloned()),
            Request::Shutdown => Reply::Done,
        }
    }
}

/// A [`ManagerError::Failed`] saying what failed.
pub fn failed(what: &str, e: impl std::fmt::Display) -> ManagerError {
    ManagerError::Failed(format!("{what}: {e}"))
}

/// An OS error on a connection as the manager's error: a connection the server
/// closed (or never accepted) is [`ManagerError::Gone`].
pub fn connection_error(what: &str, e: io::Error) -> ManagerError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotFound => ManagerError::Gone,
        _ => failed(what, e),
    }
}

/// Encodes `value` as one frame: its length (4 bytes, little-endian), then it.
pub fn frame<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![0; 4];
    out.extend(postcard::to_stdvec(value).expect("serializing to a Vec cannot fail"));
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// Reads one frame's body; `Ok(None)` at an end of file before its first byte.
///
/// # Errors
/// The OS error, `UnexpectedEof` inside a frame, `InvalidData` for a frame longer
/// than [`MAX_FRAME`].
pub fn read_frame(from: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match from.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame announced {len} bytes, more than {MAX_FRAME}: the stream is corrupt"),
        ));
    }
    let mut body = vec![0; len];
    from.read_exact(&mut body)?;
    Ok(Some(body))
}

/// A fresh abstract socket name, unique on this machine while this process lives.
pub fn new_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn address(name: &str) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(name.as_bytes())
}

/// A listening socket bound to the abstract name `name` (close-on-exec).
///
/// # Errors
/// [`ManagerError::Failed`] with the OS error.
pub fn listen(name: &str) -> Result<UnixListener, ManagerError> {
    address(name)
        .and_then(|a| UnixListener::bind_addr(&a))
        .map_err(|e| failed("making the manager's listening socket", e))
}

/// The abstract socket name a handle names.
///
/// # Errors
/// [`ManagerError::Failed`] for a handle that is not one of a manager of this crate.
pub fn name_of(handle: &ManagerHandle) -> Result<&str, ManagerError> {
    if handle.0.starts_with(PREFIX) {
        Ok(&handle.0)
    } else {
        Err(ManagerError::Failed(format!(
            "`{}` is not a handle of this manager type: pass what Manager::handle gave",
            handle.0
        )))
    }
}

/// In the server process: takes the listening socket passed as fd `fd`.
///
/// # Errors
/// A message if `fd` is not an inherited socket.
pub fn take_listener(fd: RawFd) -> Result<UnixListener, String> {
    take_fd(fd, Some(libc::S_IFSOCK), "server's listening socket")
        .map(UnixListener::from)
        .map_err(|e| format!("the manager's listening socket: {e}"))
}

/// A running server process, started with its listening socket: what every manager
/// here holds. Dropping it kills the server's process group and reaps it.
#[derive(Debug)]
pub struct Server {
    worker: Option<Worker>,
    handle: ManagerHandle,
}

impl Server {
    /// Binds a fresh name, and starts `job` (a server loop taking its listening
    /// socket's fd number) in a worker process with that socket (see the module docs).
    ///
    /// # Errors
    /// [`ManagerError::Failed`] if the socket or the process cannot be made.
    pub fn start(job: &'static Job<RawFd, String>) -> Result<Server, ManagerError> {
        let name = new_name();
        let listener = listen(&name)?;
        Self::start_with(job, OwnedFd::from(listener), name)
    }

    /// Starts `job` with `listener` (bound to `name`), closing this process's copy.
    ///
    /// # Errors
    /// [`ManagerError::Failed`] if the process cannot be started.
    pub fn start_with(
        job: &'static Job<RawFd, String>,
        listener: OwnedFd,
        name: String,
    ) -> Result<Server, ManagerError> {
        let args = encode(std::slice::from_ref(&listener.as_raw_fd()));
        let worker = worker::spawn_passing(
            task_of(job),
            &args,
            WorkerOptions::new(),
            &[listener.as_fd()],
        )
        .map_err(|e| failed("starting the manager's server process", e))?;
        // The server has its copy: ours would keep the name connectable after the
        // server is gone, and a new proxy would wait in the backlog for ever.
        drop(listener);
        Ok(Server {
            worker: Some(worker),
            handle: ManagerHandle(name),
        })
    }

    /// The handle proxies connect with.
    pub fn handle(&self) -> ManagerHandle {
        self.handle.clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.worker.as_ref().map_or(0, Worker::id)
    }

    /// Asks the server to stop (a `Shutdown` request) and waits for its process.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if it was gone; [`ManagerError::Failed`] if it did not
    /// end well.
    pub fn shutdown(mut self) -> Result<(), ManagerError> {
        let asked = Connection::open(&self.handle).and_then(|mut c| c.call(&Request::Shutdown));
        let worker = self
            .worker
            .take()
            .expect("a server has its worker until shut down");
        match asked {
            Ok(Reply::Done) => {}
            Ok(other) => {
                return Err(ManagerError::Failed(format!(
                    "the server answered the shutdown request with {other:?}"
                )))
            }
            Err(e) => return Err(e),
        }
        match finish_one::<String>(worker, FOREVER) {
            Ok(_) => Ok(()),
            Err(JobError::Crashed(death)) => Err(ManagerError::Failed(format!(
                "the manager's server process ended badly after the shutdown request: {death:?}"
            ))),
            Err(e) => Err(failed("the manager's server process failed", e)),
        }
    }
}

/// A proxy's connection to a server: one frame out, one frame back per call.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
}

impl Connection {
    /// Connects to the server `handle` names.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if nothing listens on that name any more.
    pub fn open(handle: &ManagerHandle) -> Result<Connection, ManagerError> {
        let address = address(name_of(handle)?).map_err(|e| failed("the handle's name", e))?;
        let stream = UnixStream::connect_addr(&address)
            .map_err(|e| connection_error("connecting to the manager", e))?;
        Ok(Connection { stream })
    }

    /// Sends `request` and waits for the reply.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] once the server closed the connection.
    pub fn call(&mut self, request: &Request) -> Result<Reply, ManagerError> {
        self.stream
            .write_all(&frame(request))
            .map_err(|e| connection_error("sending a request to the manager", e))?;
        let body = read_frame(&mut self.stream)
            .map_err(|e| connection_error("receiving the manager's reply", e))?
            .ok_or(ManagerError::Gone)?;
        postcard::from_bytes(&body).map_err(|e| failed("decoding the manager's reply", e))
    }
}

fn unexpected(request: &str, reply: Reply) -> ManagerError {
    ManagerError::Failed(format!(
        "the manager answered {request} with {reply:?}: a server of another type?"
    ))
}

impl Proxy for Connection {
    fn append(&mut self, item: &[u8]) -> Result<(), ManagerError> {
        match self.call(&Request::Append(item.to_vec()))? {
            Reply::Done => Ok(()),
            other => Err(unexpected("append", other)),
        }
    }

    fn len(&mut self) -> Result<usize, ManagerError> {
        match self.call(&Request::Len)? {
            Reply::Len(n) => Ok(n as usize),
            other => Err(unexpected("len", other)),
        }
    }

    fn items(&mut self) -> Result<Vec<Vec<u8>>, ManagerError> {
        match self.call(&Request::Items)? {
            Reply::Items(items) => Ok(items),
            other => Err(unexpected("items", other)),
        }
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, ManagerError> {
        match self.call(&Request::Insert(key.to_vec(), value.to_vec()))? {
            Reply::Value(old) => Ok(old),
            other => Err(unexpected("insert", other)),
        }
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, ManagerError> {
        match self.call(&Request::Get(key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            other => Err(unexpected("get", other)),
        }
    }
}

/// Serves one client until it closes: each request applied under the store's lock
/// with `apply`. A `Shutdown` request is answered, then the listener is shut down,
/// which ends [`serve_threads`]'s `accept` loop.
fn serve_client(
    mut stream: UnixStream,
    store: &Mutex<Store>,
    apply: fn(&mut Store, Request) -> Reply,
    listener: RawFd,
) {
    while let Ok(Some(body)) = read_frame(&mut stream) {
        let Ok(request) = postcard::from_bytes::<Request>(&body) else {
            return;
        };
        let stop = request == Request::Shutdown;
        let reply = apply(
            &mut store.lock().unwrap_or_else(PoisonError::into_inner),
            request,
        );
        if stream.write_all(&frame(&reply)).is_err() {
            return;
        }
        if stop {
            // SAFETY: shutdown on the listening socket, open for as long as the
            // accept loop runs (it ends only after this), wakes that loop's
            // `accept` with an error; it touches no memory.
            unsafe { libc::shutdown(listener, libc::SHUT_RDWR) };
            return;
        }
    }
}

/// The server loop of [`ThreadedManager`] (and of mutants that change only `apply`):
/// accepts connections and serves each on a thread of its own, until a `Shutdown`
/// request.
///
/// # Errors
/// A message if `accept` fails before any shutdown request.
pub fn serve_threads(
    listener: UnixListener,
    apply: fn(&mut Store, Request) -> Reply,
) -> Result<String, String> {
    let store = Arc::new(Mutex::new(Store::default()));
    let raw = listener.as_raw_fd();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let store = Arc::clone(&store);
                std::thread::Builder::new()
                    .name("racecourse-manager-client".into())
                    .spawn(move || serve_client(stream, &store, apply, raw))
                    .map_err(|e| format!("starting a thread for a client: {e}"))?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A shut-down listener fails `accept` with EINVAL: that is the end.
                return if e.raw_os_error() == Some(libc::EINVAL) {
                    Ok("shut down".into())
                } else {
                    Err(format!("accepting a connection: {e}"))
                };
            }
        }
    }
}

fn threaded_server(listener: RawFd) -> Result<String, String> {
    serve_threads(take_listener(listener)?, Store::apply)
}

crate::job!(
    /// The server process of [`ThreadedManager`].
    pub static THREADED_SERVER: fn(RawFd) -> String = threaded_server
);

/// The reference manager: a thread per client in the server process, each serving
/// its connection's requests under one lock on the [`Store`] (see the module docs).
#[derive(Debug)]
pub struct ThreadedManager(Server);

impl Manager for ThreadedManager {
    type Proxy = Connection;

    fn start() -> Result<Self, ManagerError> {
        Server::start(&THREADED_SERVER).map(ThreadedManager)
    }

    fn handle(&self) -> ManagerHandle {
        self.0.handle()
    }

    fn pid(&self) -> u32 {
        self.0.pid()
    }

    fn connect(handle: &ManagerHandle) -> Result<Connection, ManagerError> {
        Connection::open(handle)
    }

    fn shutdown(self) -> Result<(), ManagerError> {
        self.0.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let request = Request::Insert(b"k".to_vec(), vec![7; 70_000]);
        let bytes = frame(&request);
        let mut reader = &bytes[..];
        let body = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(postcard::from_bytes::<Request>(&body).unwrap(), request);
        assert!(read_frame(&mut reader).unwrap().is_none());
        let mut cut = &bytes[..10];
        assert!(read_frame(&mut cut).is_err());
    }

    #[test]
    fn a_handle_of_another_kind_is_refused() {
        let e = Connection::open(&ManagerHandle("pipe:3:4".into())).unwrap_err();
        assert!(matches!(e, ManagerError::Failed(_)), "{e:?}");
        let gone = Connection::open(&ManagerHandle(format!("{PREFIX}nobody"))).unwrap_err();
        assert_eq!(gone, ManagerError::Gone);
    }

    #[test]
    fn the_store_keeps_the_last_insert() {
        let mut store = Store::default();
        assert_eq!(
            store.apply(Request::Insert(b"k".to_vec(), b"1".to_vec())),
            Reply::Value(None)
        );
        assert_eq!(
            store.apply(Request::Insert(b"k".to_vec(), b"2".to_vec())),
            Reply::Value(Some(b"1".to_vec()))
        );
        assert_eq!(
            store.apply(Request::Get(b"k".to_vec())),
            Reply::Value(Some(b"2".to_vec()))
        );
        assert_eq!(store.apply(Request::Append(b"a".to_vec())), Reply::Done);
        assert_eq!(store.apply(Request::Len), Reply::Len(1));
    }
}
