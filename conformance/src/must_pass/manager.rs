//! A Manager (E5 (P)) that is correct in an unusual way. Real processes only.
//!
//! [`PollManager`]'s server has no thread per client: one thread, one `poll` over the
//! listening socket and every connection, all non-blocking. Each connection has a
//! buffer of bytes read and not yet a whole request, and one of reply bytes the socket
//! did not take yet; whole requests are carried out on the store (no lock: one thread
//! owns it) in the order they are read. The proxies are the reference's connections.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use racecourse_impl::process::manager::{
    frame, take_listener, Connection, Request, Server, Store, MAX_FRAME,
};
use racecourse_spec::manager::{Manager, ManagerError, ManagerHandle};

/// One client's connection in the poll loop.
#[derive(Debug)]
struct Client {
    stream: UnixStream,
    /// Bytes read and not yet a whole request.
    input: Vec<u8>,
    /// Reply bytes not yet written.
    output: Vec<u8>,
    /// The client closed (or broke) its end: drop it once seen.
    closed: bool,
}

impl Client {
    /// Reads all that is there; false at end of file or on an error.
    fn read_all(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Writes what the socket takes; false on an error.
    fn flush(&mut self) -> bool {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// The next whole request in the input, if there is one.
    fn next_request(&mut self) -> Result<Option<Request>, String> {
        if self.input.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.input[0], self.input[1], self.input[2], self.input[3]])
            as usize;
        if len > MAX_FRAME {
            return Err(format!("a client announced a frame of {len} bytes"));
        }
        if self.input.len() < 4 + len {
            return Ok(None);
        }
        let request = postcard::from_bytes(&self.input[4..4 + len])
            .map_err(|e| format!("a malformed request: {e}"));
        self.input.drain(..4 + len);
        request.map(Some)
    }
}

fn poll_server(listener: RawFd) -> Result<String, String> {
    let listener = take_listener(listener)?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("making the listener non-blocking: {e}"))?;
    let mut store = Store::default();
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(clients.iter().map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN
                | if c.output.is_empty() {
                    0
                } else {
                    libc::POLLOUT
                },
            revents: 0,
        }));
        // SAFETY: poll reads and writes the entries of a vector we own, of the length
        // given.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        for (client, fd) in clients.iter_mut().zip(&fds[1..]) {
            if fd.revents == 0 {
                continue;
            }
            if !client.read_all() {
                client.closed = true;
            }
            while let Some(request) = client.next_request()? {
                let stop = request == Request::Shutdown;
                let reply = store.apply(request);
                client.output.extend(frame(&reply));
                if stop {
                    let _ = client.stream.set_nonblocking(false);
                    let _ = client.flush();
                    return Ok("shut down".into());
                }
            }
            if !client.flush() {
                client.closed = true;
            }
        }
        clients.retain(|c| !c.closed);
        if fds[0].revents != 0 {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream
                            .set_nonblocking(true)
                            .map_err(|e| format!("making a connection non-blocking: {e}"))?;
                        clients.push(Client {
                            stream,
                            input: Vec::new(),
                            output: Vec::new(),
                            closed: false,
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("accepting a connection: {e}")),
                }
            }
        }
    }
}

racecourse_impl::job!(
    /// The server process of [`PollManager`].
    pub static POLL_SERVER: fn(RawFd) -> String = poll_server
);

/// A manager whose server is one `poll` loop (see the module docs).
#[derive(Debug)]
pub struct PollManager(Server);

impl Manager for PollManager {
    type Proxy = Connection;

    fn start() -> Result<Self, ManagerError> {
        Server::start(&POLL_SERVER).map(PollManager)
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
