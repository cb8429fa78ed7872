//! loom's locks, with the one thing loom leaves out: a moment *inside* a critical
//! section where another thread can run.
//!
//! loom branches (lets another thread run) before an operation on a synchronization
//! object, never after it, and releasing a lock is no branch at all
//! (`loom/src/rt/mutex.rs`: `acquire_lock` branches, `release_lock` does not). A
//! critical section that touches no other loom object therefore runs as one atomic
//! step: no other thread ever observes the lock held. For blocking locks that is
//! harmless, since a waiter could only wait. For `try_lock` it hides a whole class of
//! bugs: a `remove` that gives up when `try_lock` fails was accepted by every loom
//! scenario (issue 5) while shuttle rejected it.
//!
//! The wrappers here add a *marker*, one loom atomic per lock:
//! - every acquisition (`lock`, `read`, `write`, a wake-up in `Condvar::wait`) loads the
//!   marker once the lock is held: a branch point inside the critical section;
//! - every attempt (`try_lock`, `try_read`, `try_write`) first does a read-modify-write
//!   on the marker.
//!
//! loom's DPOR backtracks to the last access an operation depends on. A
//! read-modify-write depends on the last load, so an attempt racing with a holder makes
//! loom also explore the attempt *at the holder's load*, while the lock is held: there
//! the attempt fails, as it can on real threads. Loads never depend on each other, and
//! holders of one lock are ordered by the lock itself, so code that never calls a
//! `try_` method gains no extra executions, only one step per acquisition. Only
//! attempts write the marker, so a load has one value to read and never branches on it.
//!
//! `Barrier` is loom's stub (it panics with "not supported yet"); here it is built
//! from the mutex and condition variable below, so `rt::sync::Barrier` works on every
//! runtime.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use loom::sync::atomic::{AtomicUsize, Ordering};

/// The marker: see the module docs.
#[derive(Debug)]
struct Marker(AtomicUsize);

impl Marker {
    fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Inside a critical section, just after acquiring: a branch point.
    fn held(&self) {
        self.0.load(Ordering::Relaxed);
    }

    /// Before an attempt: depends on the last holder's `held`.
    fn attempt(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A mutual exclusion lock: loom's, with a branch point inside each critical section.
pub struct Mutex<T: ?Sized> {
    marker: Marker,
    inner: loom::sync::Mutex<T>,
}

/// Holds a [`Mutex`]; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    marker: &'a Marker,
    /// Always `Some` outside of `Condvar::wait`, which lends it to loom.
    inner: Option<loom::sync::MutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `data`.
    pub fn new(data: T) -> Self {
        Self {
            marker: Marker::new(),
            inner: loom::sync::Mutex::new(data),
        }
    }

    /// Consumes the mutex and returns its data.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock and returns its guard.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        self.marker.held();
        Ok(MutexGuard {
            marker: &self.marker,
            inner: Some(inner),
        })
    }

    /// Takes the lock if it is free; fails with `WouldBlock` while another thread
    /// holds it.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        self.marker.attempt();
        match self.inner.try_lock() {
            Ok(inner) => Ok(MutexGuard {
                marker: &self.marker,
                inner: Some(inner),
            }),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::Poisoned(p)) => Ok(MutexGuard {
                marker: &self.marker,
                inner: Some(p.into_inner()),
            }),
        }
    }

    /// The data, through a unique borrow of the mutex.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(data: T) -> Self {
        Self::new(data)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

impl<T: ?Sized> MutexGuard<'_, T> {
    fn inner(&self) -> &loom::sync::MutexGuard<'_, T> {
        self.inner
            .as_ref()
            .expect("a guard holds its lock outside Condvar::wait")
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner()
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner
            .as_mut()
            .expect("a guard holds its lock outside Condvar::wait")
    }
}

impl<T: ?Sized> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard").finish_non_exhaustive()
    }
}

/// A condition variable for [`Mutex`]: loom's, plus `wait_while`.
#[derive(Debug, Default)]
pub struct Condvar {
    inner: loom::sync::Condvar,
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Releases the guard's lock, waits for a notification, and locks again.
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let inner = guard
            .inner
            .take()
            .expect("a guard holds its lock outside Condvar::wait");
        let inner = self
            .inner
            .wait(inner)
            .unwrap_or_else(PoisonError::into_inner);
        guard.marker.held();
        guard.inner = Some(inner);
        Ok(guard)
    }

    /// Waits for a notification; loom models no time, so it never times out (the
    /// result's `timed_out()` is false).
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        _timeout: std::time::Duration,
    ) -> LockResult<(MutexGuard<'a, T>, loom::sync::WaitTimeoutResult)> {
        let mut guard = guard;
        let inner = guard
            .inner
            .take()
            .expect("a guard holds its lock outside Condvar::wait");
        let (inner, result) = self
            .inner
            .wait_timeout(inner, _timeout)
            .unwrap_or_else(PoisonError::into_inner);
        guard.marker.held();
        guard.inner = Some(inner);
        Ok((guard, result))
    }

    /// Waits while `condition` holds, rechecking it after every wake-up.
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes one waiting thread.
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }
}

/// A reader-writer lock: loom's, with a branch point inside each critical section.
pub struct RwLock<T> {
    marker: Marker,
    inner: loom::sync::RwLock<T>,
}

/// Shared access to an [`RwLock`]; released when dropped.
pub struct RwLockReadGuard<'a, T> {
    inner: loom::sync::RwLockReadGuard<'a, T>,
}

/// Exclusive access to an [`RwLock`]; released when dropped.
pub struct RwLockWriteGuard<'a, T> {
    inner: loom::sync::RwLockWriteGuard<'a, T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `data`.
    pub fn new(data: T) -> Self {
        Self {
            marker: Marker::new(),
            inner: loom::sync::RwLock::new(data),
        }
    }

    /// Waits for shared access.
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        self.marker.held();
        Ok(RwLockReadGuard { inner })
    }

    /// Waits for exclusive access.
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        self.marker.held();
        Ok(RwLockWriteGuard { inner })
    }

    /// Takes shared access if no writer holds the lock.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        self.marker.attempt();
        self.inner
            .try_read()
            .map(|inner| RwLockReadGuard { inner })
            .map_err(|_| TryLockError::WouldBlock)
    }

    /// Takes exclusive access if nobody holds the lock.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        self.marker.attempt();
        self.inner
            .try_write()
            .map(|inner| RwLockWriteGuard { inner })
            .map_err(|_| TryLockError::WouldBlock)
    }

    /// The data, through a unique borrow of the lock.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    /// Consumes the lock and returns its data.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockReadGuard").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockWriteGuard").finish_non_exhaustive()
    }
}

/// A barrier for `n` threads, built from [`Mutex`] and [`Condvar`] (loom's own
/// `Barrier` is a stub that panics).
#[derive(Debug)]
pub struct Barrier {
    n: usize,
    /// Threads arrived in the current generation, and the generation's number.
    state: Mutex<(usize, u64)>,
    released: Condvar,
}

/// What [`Barrier::wait`] returns: whether this thread was the last to arrive.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one thread of each generation: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier that releases its waiters once `n` threads wait.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            state: Mutex::new((0, 0)),
            released: Condvar::new(),
        }
    }

    /// Waits until `n` threads (this one included) are waiting.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = state.1;
        state.0 += 1;
        if state.0 >= self.n {
            *state = (0, generation.wrapping_add(1));
            self.released.notify_all();
            return BarrierWaitResult(true);
        }
        let _state = self
            .released
            .wait_while(state, |s| s.1 == generation)
            .unwrap_or_else(PoisonError::into_inner);
        BarrierWaitResult(false)
    }
}
