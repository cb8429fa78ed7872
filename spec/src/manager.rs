//! E5, Manager (processes): a server process owning a list and a dict, reached from
//! any process through proxies.
//!
//! In Python: `with Manager() as manager: orders = manager.list()`, then six
//! `Process(target=f, args=(orders, i))` each calling `orders.append(f"Order {i}
//! completed")`, and the parent prints the list. Here [`Manager::start`] starts the
//! server process (the spawn start method); [`Manager::handle`] gives a
//! [`ManagerHandle`], plain data a child process receives as part of its job's
//! argument; the child opens its own [`Proxy`] from it with [`Manager::connect`], and
//! every proxy call is one request to the server and one reply.
//!
//! ```
//! # fn main() {}
//! # fn demo<M: racecourse_spec::manager::Manager>() -> Result<(), racecourse_spec::manager::ManagerError> {
//! use racecourse_spec::manager::{Manager, Proxy};
//!
//! let manager = M::start()?;
//! // In each of six children, given `handle` (a ManagerHandle) and its index `i`:
//! //     M::connect(&handle)?.append(format!("Order {i} completed").as_bytes())?;
//! let mut orders = M::connect(&manager.handle())?;
//! orders.append(b"Order 0 completed")?;
//! assert_eq!(orders.items()?, vec![b"Order 0 completed".to_vec()]);
//! orders.insert(b"status", b"open")?;
//! assert_eq!(orders.get(b"status")?, Some(b"open".to_vec()));
//! drop(orders);
//! manager.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## One proxy for the list and the dict
//! The manager owns exactly one list and one dict (Python's manager makes a new one per
//! `manager.list()`; that registry of objects is not what this exercise is about). A
//! proxy is a connection to the server, so one proxy serves both: `append`, `len` and
//! `items` act on the list, `insert` and `get` on the dict. Items, keys and values are
//! bytes (a caller serializes its own values, as with the Pipe).
//!
//! ## What a caller may rely on
//! - Every call acts on the server's list or dict, never on a copy: what a call changed
//!   is seen by every later call of every proxy, in any process.
//! - Many proxies, in many processes, may be connected at once and call at once.
//! - Once the server process is gone (shut down, or killed however it died), every
//!   call returns [`ManagerError::Gone`] promptly: it never hangs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Names a running manager's server, for [`Manager::connect`] in any process of the
/// machine (an abstract socket name, say): what [`Manager::handle`] gives and a child
/// receives in its job's argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ManagerHandle(pub String);

/// Why a manager operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerError {
    /// The server process is gone (it was shut down, or died): no call will ever be
    /// served again.
    Gone,
    /// Anything else (an OS error, a malformed reply, a handle that names no manager
    /// of this type): the message says what failed.
    Failed(String),
}

impl fmt::Display for ManagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagerError::Gone => f.write_str(
                "the manager process is gone (shut down or died): start a new manager and connect again",
            ),
            ManagerError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ManagerError {}

/// A manager: a server process owning one list and one dict (the course's
/// `multiprocessing.Manager()`); the value is the parent's hold on that process.
///
/// # Contract
/// - [`start`](Self::start) **must** start the server as a fresh process (spawn start
///   method) and return once it accepts connections. The server **must** hold no
///   open file of the starting process's (everything it is given is close-on-exec
///   but what it needs), and the starting process **must** keep nothing of the
///   server's side (its listening socket, say): otherwise a proxy could wait for a
///   server that is gone.
/// - [`connect`](Self::connect) **must** work in any process given the handle
///   (a child started with the spawn method included), and each proxy call **must**
///   be served by the server: a change is seen by every later call of every proxy of
///   the manager, in any process; no proxy may answer from a copy of its own.
/// - The server **must** serve every connected proxy at once: a proxy that is
///   connected and idle **must not** keep another proxy's call from being served, and
///   no connection may be refused or dropped while the server runs.
/// - `append` adds one item at the end of the list; `items` gives the list in order;
///   `insert` sets a key's value (the last insert of a key wins) and `get` gives it,
///   `None` for a key never inserted.
/// - Once the server process is gone ([`shutdown`](Self::shutdown), or killed with
///   `SIGKILL`), every call of every proxy, and every `connect`, **must** return
///   [`ManagerError::Gone`] as soon as the OS reports the connection closed: it
///   **must not** hang, retry, or answer from a copy.
/// - `shutdown` **must** stop the server and reap it; dropping the manager **must**
///   kill and reap it: no process is left running or unreaped.
pub trait Manager: Sized + Send + 'static {
    /// A connection to the server (see [`Proxy`]).
    type Proxy: Proxy;

    /// Starts the server process; returns once it accepts connections.
    ///
    /// # Errors
    /// [`ManagerError::Failed`] if the process cannot be started.
    fn start() -> Result<Self, ManagerError>;

    /// The handle a child process connects with (plain data: pass it in a job's
    /// argument).
    fn handle(&self) -> ManagerHandle;

    /// The server's process id.
    fn pid(&self) -> u32;

    /// Opens a proxy to the server `handle` names, in any process.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if that server is gone; [`ManagerError::Failed`] for a
    /// handle of another type or an OS error.
    fn connect(handle: &ManagerHandle) -> Result<Self::Proxy, ManagerError>;

    /// Stops the server and waits for its process to end.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if it was gone already (it died);
    /// [`ManagerError::Failed`] if it ended with an error.
    fn shutdown(self) -> Result<(), ManagerError>;
}

/// A connection to a manager's server: each call is one request and one reply.
///
/// # Errors
/// Every call returns [`ManagerError::Gone`] once the server is gone, and
/// [`ManagerError::Failed`] for an OS error or a malformed reply.
///
/// # Blocking
/// Each call waits for the server's reply, or for the OS to report the connection
/// closed; never for anything else.
pub trait Proxy: Send + 'static {
    /// Appends `item` at the end of the manager's list.
    fn append(&mut self, item: &[u8]) -> Result<(), ManagerError>;

    /// The number of items in the list.
    fn len(&mut self) -> Result<usize, ManagerError>;

    /// Whether the list is empty.
    fn is_empty(&mut self) -> Result<bool, ManagerError> {
        self.len().map(|n| n == 0)
    }

    /// Every item of the list, in order.
    fn items(&mut self) -> Result<Vec<Vec<u8>>, ManagerError>;

    /// Sets `key` to `value` in the manager's dict; gives the value it replaced.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, ManagerError>;

    /// The value of `key` in the dict, `None` if it was never inserted.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, ManagerError>;
}
