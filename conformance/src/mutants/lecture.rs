//! L lecture mutants: each the reference with one bug a student writes, chosen by a
//! constant so that the rest stays right.

racecourse_spec::runtimes! {
    use racecourse_spec::lecture::{Threading, Work};
    use rt::sync::atomic::{AtomicUsize, Ordering};
    use rt::sync::{Arc, Mutex};
    use rt::thread::JoinHandle;

    /// The daemon's handle is kept and joined at the end of main, as a normal
    /// thread's: the daemon keeps the program alive.
    pub type JoinedDaemon = Flawed<JOINED_DAEMON>;
    /// `end_of_main` returns at once: the normal threads nobody joined are abandoned
    /// when the program ends.
    pub type NormalNotJoined = Flawed<NORMAL_NOT_JOINED>;
    /// `active_count` counts the threads ever started, not those still running.
    pub type CountNotLive = Flawed<COUNT_NOT_LIVE>;
    /// `run_threaded` calls the tasks one after another on the calling thread.
    pub type ThreadedInSequence = Flawed<THREADED_IN_SEQUENCE>;
    /// `run_sequential` runs each task on a new thread, joined before the next.
    pub type SequentialSpawns = Flawed<SEQUENTIAL_SPAWNS>;

    const JOINED_DAEMON: u8 = 0;
    const NORMAL_NOT_JOINED: u8 = 1;
    const COUNT_NOT_LIVE: u8 = 2;
    const THREADED_IN_SEQUENCE: u8 = 3;
    const SEQUENTIAL_SPAWNS: u8 = 4;

    /// The reference's design (normal handles kept and joined at the end of main,
    /// daemons detached, a live count) with the bug `BUG`.
    pub struct Flawed<const BUG: u8> {
        /// Threads whose work has not finished (never decremented with
        /// `COUNT_NOT_LIVE`).
        running: Arc<AtomicUsize>,
        /// Threads joined at the end of main, by id.
        kept: Mutex<Vec<(usize, JoinHandle<()>)>>,
        /// The id of the next kept thread.
        next: AtomicUsize,
    }

    impl<const BUG: u8> std::fmt::Debug for Flawed<BUG> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Flawed").field("bug", &BUG).finish_non_exhaustive()
        }
    }

    impl<const BUG: u8> Flawed<BUG> {
        fn start(&self, work: Work) -> JoinHandle<()> {
            self.running.fetch_add(1, Ordering::SeqCst);
            let running = Arc::clone(&self.running);
            rt::thread::spawn(move || {
                work();
                if BUG != COUNT_NOT_LIVE {
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            })
        }

        fn keep(&self, thread: JoinHandle<()>) -> usize {
            let id = self.next.fetch_add(1, Ordering::SeqCst);
            self.kept.lock().unwrap().push((id, thread));
            id
        }
    }

    impl<const BUG: u8> Threading for Flawed<BUG> {
        type Handle = usize;

        fn new() -> Self {
            Self {
                running: Arc::new(AtomicUsize::new(0)),
                kept: Mutex::new(Vec::new()),
                next: AtomicUsize::new(0),
            }
        }

        fn spawn_daemon(&self, work: Work) {
            let thread = self.start(work);
            if BUG == JOINED_DAEMON {
                self.keep(thread);
            }
        }

        fn spawn_normal(&self, work: Work) -> usize {
            let thread = self.start(work);
            self.keep(thread)
        }

        fn join(&self, handle: usize) {
            let taken = {
                let mut kept = self.kept.lock().unwrap();
                let at = kept.iter().position(|(id, _)| *id == handle);
                at.map(|i| kept.swap_remove(i).1)
            };
            if let Some(thread) = taken {
                let _ = thread.join();
            }
        }

        fn end_of_main(&self) {
            if BUG == NORMAL_NOT_JOINED {
                return;
            }
            let left = std::mem::take(&mut *self.kept.lock().unwrap());
            for (_, thread) in left {
                let _ = thread.join();
            }
        }

        fn active_count(&self) -> usize {
            1 + self.running.load(Ordering::SeqCst)
        }

        fn run_sequential(&self, tasks: Vec<Work>) {
            for task in tasks {
                if BUG == SEQUENTIAL_SPAWNS {
                    let _ = rt::thread::spawn(task).join();
                } else {
                    task();
                }
            }
        }

        fn run_threaded(&self, tasks: Vec<Work>) {
            if BUG == THREADED_IN_SEQUENCE {
                tasks.into_iter().for_each(|task| task());
                return;
            }
            let threads: Vec<JoinHandle<()>> = tasks.into_iter().map(rt::thread::spawn).collect();
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}
