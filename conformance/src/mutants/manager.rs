//! Wrong managers (E5 (P)): each is the reference [`ThreadedManager`]'s pieces with
//! one defect a student could write, `Flawed<BUG>`, so the defect is the only
//! difference. The suite must reject each (see the kill matrix).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use racecourse_impl::process::manager::{
    failed, frame, listen, new_name, read_frame, serve_threads, take_listener, Connection, Reply,
    Request, Server, Store,
};
use racecourse_spec::manager::{Manager, ManagerError, ManagerHandle, Proxy};

/// Each proxy keeps a copy of the list and dict of its own: writes go to the server
/// and into the copy, reads are answered from the copy (Python's `list` passed to a
/// `Process` instead of `manager.list()`, with the writes mirrored).
pub const CACHING: u8 = 1;
/// The server serves one connection at a time, and drops (accepts and closes) any
/// other that arrives meanwhile.
pub const ONE_CLIENT: u8 = 2;
/// A proxy whose call failed reconnects and tries again, until it is served: after the
/// server died, for ever.
pub const RETRIES: u8 = 3;
/// `start` keeps a copy of the server's listening socket in the parent (a `dup` made
/// before the spawn and never closed).
pub const KEEPS_LISTENER: u8 = 4;
/// `insert` keeps a key's first value: a later insert of the key changes nothing.
pub const FIRST_WRITE_WINS: u8 = 5;

/// The reference with the defect `BUG` (one of the constants above).
#[derive(Debug)]
pub struct Flawed<const BUG: u8> {
    server: Server,
    /// KEEPS_LISTENER: the copy of the listening socket.
    _kept: Option<OwnedFd>,
}

/// [`ONE_CLIENT`]'s server loop: one connection served at a time; `poll` on it and the
/// listener, and any connection arriving meanwhile is accepted and closed at once.
fn one_client_server(listener: RawFd) -> Result<String, String> {
    let listener = take_listener(listener)?;
    let mut store = Store::default();
    loop {
        let (mut stream, _) = listener
            .accept()
            .map_err(|e| format!("accepting a connection: {e}"))?;
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: stream.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll reads and writes the two pollfd entries of an array we own.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } == -1 {
                continue;
            }
            if fds[1].revents != 0 {
                // Busy: the newcomer is dropped.
                drop(listener.accept());
            }
            if fds[0].revents == 0 {
                continue;
            }
            let Ok(Some(body)) = read_frame(&mut stream) else {
                break;
            };
            let request: Request =
                postcard::from_bytes(&body).map_err(|e| format!("a malformed request: {e}"))?;
            let stop = request == Request::Shutdown;
            let reply = store.apply(request);
            let _ = io::Write::write_all(&mut stream, &frame(&reply));
            if stop {
                return Ok("shut down".into());
            }
        }
    }
}

racecourse_impl::job!(static ONE_CLIENT_SERVER: fn(RawFd) -> String = one_client_server);

/// [`FIRST_WRITE_WINS`]'s store: an insert of a key that is there changes nothing.
fn first_write_wins(store: &mut Store, request: Request) -> Reply {
    match request {
        Request::Insert(key, value) => match store.dict.get(&key) {
            Some(old) => Reply::Value(Some(old.clone())),
            None => Reply::Value(store.dict.insert(key, value)),
        },
        other => store.apply(other),
    }
}

fn first_write_wins_server(listener: RawFd) -> Result<String, String> {
    serve_threads(take_listener(listener)?, first_write_wins)
}

racecourse_impl::job!(static FIRST_WRITE_WINS_SERVER: fn(RawFd) -> String = first_write_wins_server);

racecourse_impl::job!(static PLAIN_SERVER: fn(RawFd) -> String = plain_server);

fn plain_server(listener: RawFd) -> Result<String, String> {
    serve_threads(take_listener(listener)?, Store::apply)
}

impl<const BUG: u8> Manager for Flawed<BUG> {
    type Proxy = FlawedProxy<BUG>;

    fn start() -> Result<Self, ManagerError> {
        match BUG {
            ONE_CLIENT => Server::start(&ONE_CLIENT_SERVER).map(|server| Flawed {
                server,
                _kept: None,
            }),
            FIRST_WRITE_WINS => Server::start(&FIRST_WRITE_WINS_SERVER).map(|server| Flawed {
                server,
                _kept: None,
            }),
            KEEPS_LISTENER => {
                let name = new_name();
                let listener = OwnedFd::from(listen(&name)?);
                let kept = listener
                    .try_clone()
                    .map_err(|e| failed("duplicating the listening socket", e))?;
                Server::start_with(&PLAIN_SERVER, listener, name).map(|server| Flawed {
                    server,
                    _kept: Some(kept),
                })
            }
            _ => Server::start(&PLAIN_SERVER).map(|server| Flawed {
                server,
                _kept: None,
            }),
        }
    }

    fn handle(&self) -> ManagerHandle {
        self.server.handle()
    }

    fn pid(&self) -> u32 {
        self.server.pid()
    }

    fn connect(handle: &ManagerHandle) -> Result<FlawedProxy<BUG>, ManagerError> {
        Ok(FlawedProxy {
            inner: Connection::open(handle)?,
            handle: handle.clone(),
            cache: Store::default(),
        })
    }

    fn shutdown(self) -> Result<(), ManagerError> {
        self.server.shutdown()
    }
}

/// The reference's connection, with [`CACHING`]'s copy or [`RETRIES`]'s loop.
#[derive(Debug)]
pub struct FlawedProxy<const BUG: u8> {
    inner: Connection,
    handle: ManagerHandle,
    /// CACHING: this proxy's copy of the list and dict.
    cache: Store,
}

impl<const BUG: u8> FlawedProxy<BUG> {
    fn call(&mut self, request: Request) -> Result<Reply, ManagerError> {
        if BUG == CACHING {
            let sent = self.inner.call(&request);
            let mirrored = self.cache.apply(request.clone());
            return match request {
                Request::Append(_) | Request::Insert(..) => sent.map(|_| mirrored),
                _ => Ok(mirrored),
            };
        }
        loop {
            match self.inner.call(&request) {
                Err(ManagerError::Gone) if BUG == RETRIES => {
                    std::thread::yield_now();
                    if let Ok(again) = Connection::open(&self.handle) {
                        self.inner = again;
                    }
                }
                other => return other,
            }
        }
    }
}

fn unexpected(reply: Reply) -> ManagerError {
    ManagerError::Failed(format!("an unexpected reply {reply:?}"))
}

impl<const BUG: u8> Proxy for FlawedProxy<BUG> {
    fn append(&mut self, item: &[u8]) -> Result<(), ManagerError> {
        match self.call(Request::Append(item.to_vec()))? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    fn len(&mut self) -> Result<usize, ManagerError> {
        match self.call(Request::Len)? {
            Reply::Len(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    fn items(&mut self) -> Result<Vec<Vec<u8>>, ManagerError> {
        match self.call(Request::Items)? {
            Reply::Items(items) => Ok(items),
            other => Err(unexpected(other)),
        }
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, ManagerError> {
        match self.call(Request::Insert(key.to_vec(), value.to_vec()))? {
            Reply::Value(old) => Ok(old),
            other => Err(unexpected(other)),
        }
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, ManagerError> {
        match self.call(Request::Get(key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }
}
