//! A heartbeat: how a supervised process shows its supervisor that it makes progress.
//!
//! A supervisor that only knows a deadline cannot tell slow from stuck: on a loaded
//! machine a correct check may take ten times longer than usual, while a deadlocked one
//! never finishes. So a child started with [`SpawnOptions::heartbeat`] gets a counter in
//! a shared page, and calls [`beat`] whenever it completes a unit of work (an
//! operation, an explored execution, a trial); the supervisor reads the counter
//! ([`Supervised::beats`]) and gives up only when it has not moved for a whole window
//! ([`Supervised::wait_watching`]). Slow work keeps beating and is never killed for
//! being slow.
//!
//! The page is a memfd of the supervisor, named to the child as
//! `/proc/<supervisor pid>/fd/<fd>` in [`HEARTBEAT_VAR`] (the same way a worker finds
//! its result file): nothing but a string crosses `exec`. Processes the child starts
//! inherit the variable, so their beats count for the child; a child whose own
//! children are supervised with a heartbeat of their own hands them a new variable.
//!
//! [`SpawnOptions::heartbeat`]: super::child::SpawnOptions::heartbeat
//! [`Supervised::beats`]: super::child::Supervised::beats
//! [`Supervised::wait_watching`]: super::child::Supervised::wait_watching

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::shm::SharedMemory;

/// Names the heartbeat page of a supervised child (`/proc/<pid>/fd/<fd>`).
pub const HEARTBEAT_VAR: &str = "RACECOURSE_HEARTBEAT";

/// Beats of a process that no supervisor watches (none is lost: they are counted here).
static LOCAL: AtomicU64 = AtomicU64::new(0);

/// The page named by [`HEARTBEAT_VAR`], mapped on first use; `None` when unset or
/// unusable (then beats are only counted locally).
fn page() -> Option<&'static AtomicU64> {
    static PAGE: OnceLock<Option<SharedMemory>> = OnceLock::new();
    let shm = PAGE
        .get_or_init(|| {
            let token = std::env::var(HEARTBEAT_VAR).ok()?;
            let shm = SharedMemory::attach(&token).ok()?;
            (shm.len() >= std::mem::size_of::<AtomicU64>()).then_some(shm)
        })
        .as_ref()?;
    // SAFETY: the region is page-aligned and at least 8 bytes (checked above), stays
    // mapped for the life of the process (the static is never dropped), and is only
    // used as an atomic by every process that maps it.
    Some(unsafe { &*shm.as_ptr().cast::<AtomicU64>() })
}

/// Records one unit of progress.
///
/// Cheap (one atomic add); call it for each completed operation, execution or trial.
pub fn beat() {
    match page() {
        Some(counter) => counter.fetch_add(1, Ordering::Relaxed),
        None => LOCAL.fetch_add(1, Ordering::Relaxed),
    };
}

/// The beats of this process so far: the shared page's count if a supervisor watches,
/// else the local count.
pub fn count() -> u64 {
    match page() {
        Some(counter) => counter.load(Ordering::Relaxed),
        None => LOCAL.load(Ordering::Relaxed),
    }
}

/// The supervisor's side: the page, and the string that names it to a child.
#[derive(Debug)]
pub(crate) struct Page {
    shm: SharedMemory,
}

impl Page {
    /// A fresh page at zero.
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            shm: SharedMemory::create(std::mem::size_of::<AtomicU64>())?,
        })
    }

    /// The value for [`HEARTBEAT_VAR`].
    pub(crate) fn token(&self) -> &str {
        self.shm.token()
    }

    /// The beats so far.
    pub(crate) fn count(&self) -> u64 {
        // SAFETY: the page was created for one AtomicU64 (page-aligned, zero-filled)
        // and lives as long as `self`.
        let counter = unsafe { &*self.shm.as_ptr().cast::<AtomicU64>() };
        counter.load(Ordering::Relaxed)
    }
}
