use racecourse_spec::lecture::{Threading, Work};
use rt::sync::atomic::{AtomicUsize, Ordering};
use rt::sync::{Arc, Mutex};
use rt::thread::JoinHandle;

/// Daemon threads are detached (their handle dropped); normal threads' handles are
/// kept until joined, and `end_of_main` joins those still kept.
pub struct Joined {
    /// Threads started here whose work has not finished; each thread takes itself off
    /// as its work ends, before a join on it can return.
    running: Arc<AtomicUsize>,
    /// Normal threads not joined yet, by id, for `end_of_main`.
    normal: Mutex<Vec<(u64, JoinHandle<()>)>>,
    /// The id of the next normal thread.
    next: AtomicUsize,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("running", &self.running.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Joined {
    /// Starts `work` on a new thread that counts itself while the work runs.
    fn start(&self, work: Work) -> JoinHandle<()> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Arc::clone(&self.running);
        rt::thread::spawn(move || {
            work();
            running.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

impl Threading for Joined {
    type Handle = u64;

    fn new() -> Self {
        Self {
            running: Arc::new(AtomicUsize::new(0)),
            normal: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    fn spawn_daemon(&self, work: Work) {
        // Dropping the handle detaches the thread: nobody waits for it.
        drop(self.start(work));
    }

    fn spawn_normal(&self, work: Work) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst) as u64;
        let handle = self.start(work);
        self.normal.lock().unwrap().push((id, handle));
        id
    }

    fn join(&self, handle: u64) {
        let taken = {
            let mut normal = self.normal.lock().unwrap();
            let at = normal.iter().position(|(id, _)| *id == handle);
            at.map(|i| normal.swap_remove(i).1)
        };
        if let Some(thread) = taken {
            let _ = thread.join();
        }
    }

    fn end_of_main(&self) {
        let left = std::mem::take(&mut *self.normal.lock().unwrap());
        for (_, thread) in left {
            let _ = thread.join();
        }
    }

    fn active_count(&self) -> usize {
        1 + self.running.load(Ordering::SeqCst)
    }

    fn run_sequential(&self, tasks: Vec<Work>) {
        for task in tasks {
            task();
        }
    }

    fn run_threaded(&self, tasks: Vec<Work>) {
        let threads: Vec<JoinHandle<()>> = tasks.into_iter().map(rt::thread::spawn).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}
