//! Correct but unusual process Queues (E5 (P)):
//! - [`Feeder`], as a student who read how Python does it might write it: `put`
//!   returns as soon as the item is in a buffer of the producer's, and a feeder thread
//!   writes the buffer to the pipe;
//! - [`Polling`], as a student who knows no way to sleep until there is room: a full
//!   queue's `put` sleeps a millisecond and looks again, so it looks blocked between
//!   its looks (a checker must not take that for a `put` stuck with room).

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use racecourse_impl::process::process_queue::{PipeQueue, QueueChild};
use racecourse_spec::job::{Job, Wire};
use racecourse_spec::process_queue::{ProcessQueue, QueueError, QueueHandle};

/// A feeder thread's inbox and handle.
type FeederThread = (Sender<Vec<u8>>, JoinHandle<Result<(), QueueError>>);

/// The pipe reference's pipe, locks and bound, with Python's feeder thread: `put` takes a
/// slot (waiting while the queue is full, as the bound requires), hands the item to
/// the process's feeder thread and returns; the feeder writes the items in order.
/// Dropping the queue (the job returning) waits for the feeder to write everything,
/// so no item is lost with its producer (Python joins its feeder at exit the same
/// way).
#[derive(Debug)]
pub struct Feeder {
    inner: Arc<PipeQueue>,
    /// The feeder's inbox (`None` once closed) and the feeder, started by the first
    /// `put`.
    feeder: Mutex<Option<FeederThread>>,
}

impl Feeder {
    fn wrap(inner: PipeQueue) -> Self {
        Feeder {
            inner: Arc::new(inner),
            feeder: Mutex::new(None),
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        let feeder = self
            .feeder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((inbox, thread)) = feeder {
            drop(inbox);
            let _ = thread.join();
        }
    }
}

impl ProcessQueue for Feeder {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        PipeQueue::new(capacity).map(Self::wrap)
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        self.inner.spawn(job, arg)
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        PipeQueue::open(handle).map(Self::wrap)
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        PipeQueue::item_len(item)?;
        self.inner.take_slot();
        let mut feeder = self.feeder.lock().unwrap_or_else(PoisonError::into_inner);
        let (inbox, _) = feeder.get_or_insert_with(|| {
            let (inbox, items) = mpsc::channel::<Vec<u8>>();
            let queue = Arc::clone(&self.inner);
            let thread = std::thread::spawn(move || {
                for item in items {
                    queue.write_frame(&item, item.len() as u32)?;
                }
                Ok(())
            });
            (inbox, thread)
        });
        inbox.send(item.to_vec()).map_err(|_| {
            QueueError("the feeder thread ended (a write failed): make a new queue".into())
        })
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        self.inner.get()
    }
}

/// The pipe reference's pipe and locks, with a `put` that polls for room: while the queue
/// is full it sleeps 1 ms and tries again to take a slot.
#[derive(Debug)]
pub struct Polling(PipeQueue);

/// How long a [`Polling`] `put` sleeps before it looks for room again.
const POLL: std::time::Duration = std::time::Duration::from_millis(1);

impl ProcessQueue for Polling {
    type Child<R: Wire> = QueueChild<R>;

    fn new(capacity: usize) -> Result<Self, QueueError> {
        PipeQueue::new(capacity).map(Polling)
    }

    fn spawn<A: Wire, R: Wire>(
        &self,
        job: &'static Job<(QueueHandle, A), R>,
        arg: A,
    ) -> Result<QueueChild<R>, QueueError> {
        self.0.spawn(job, arg)
    }

    fn open(handle: QueueHandle) -> Result<Self, QueueError> {
        PipeQueue::open(handle).map(Polling)
    }

    fn put(&self, item: &[u8]) -> Result<(), QueueError> {
        let len = PipeQueue::item_len(item)?;
        while !self.0.try_take_slot() {
            std::thread::sleep(POLL);
        }
        self.0.write_frame(item, len)
    }

    fn get(&self) -> Result<Vec<u8>, QueueError> {
        self.0.get()
    }
}
