//! L lecture implementations that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::lecture::{Threading, Work};
    // The facade has no channel; this exercise runs on real threads only.
    use std::sync::mpsc;
    use rt::sync::{Arc, Condvar, Mutex};
    use rt::thread::JoinHandle;

    /// No `JoinHandle` is kept: every thread is detached, normal threads are counted
    /// under a mutex with a condition variable that `end_of_main` waits on until the
    /// count is 0, and a handle is a "done" flag of its own that `join` waits on.
    #[derive(Debug)]
    pub struct CondvarCount {
        /// (normal threads running, all threads running).
        counts: Arc<(Mutex<(usize, usize)>, Condvar)>,
    }

    /// A started normal thread: set to true, and notified, as its work ends.
    pub type Done = Arc<(Mutex<bool>, Condvar)>;

    impl CondvarCount {
        fn start(&self, normal: bool, work: Work, done: Option<Done>) {
            {
                let mut counts = self.counts.0.lock().unwrap();
                counts.0 += usize::from(normal);
                counts.1 += 1;
            }
            let counts = Arc::clone(&self.counts);
            drop(rt::thread::spawn(move || {
                work();
                {
                    let mut c = counts.0.lock().unwrap();
                    c.0 -= usize::from(normal);
                    c.1 -= 1;
                    counts.1.notify_all();
                }
                // After the count: once join sees the flag, the thread is not counted.
                if let Some(done) = done {
                    *done.0.lock().unwrap() = true;
                    done.1.notify_all();
                }
            }));
        }
    }

    impl Threading for CondvarCount {
        type Handle = Done;

        fn new() -> Self {
            Self {
                counts: Arc::new((Mutex::new((0, 0)), Condvar::new())),
            }
        }

        fn spawn_daemon(&self, work: Work) {
            self.start(false, work, None);
        }

        fn spawn_normal(&self, work: Work) -> Done {
            let done: Done = Arc::new((Mutex::new(false), Condvar::new()));
            self.start(true, work, Some(Arc::clone(&done)));
            done
        }

        fn join(&self, handle: Done) {
            let mut finished = handle.0.lock().unwrap();
            while !*finished {
                finished = handle.1.wait(finished).unwrap();
            }
        }

        fn end_of_main(&self) {
            let mut counts = self.counts.0.lock().unwrap();
            while counts.0 > 0 {
                counts = self.counts.1.wait(counts).unwrap();
            }
        }

        fn active_count(&self) -> usize {
            1 + self.counts.0.lock().unwrap().1
        }

        fn run_sequential(&self, tasks: Vec<Work>) {
            tasks.into_iter().for_each(|task| task());
        }

        fn run_threaded(&self, tasks: Vec<Work>) {
            let n = tasks.len();
            let (finished, all) = mpsc::channel();
            for task in tasks {
                let finished = finished.clone();
                drop(rt::thread::spawn(move || {
                    task();
                    let _ = finished.send(());
                }));
            }
            for _ in 0..n {
                let _ = all.recv();
            }
        }
    }

    /// A daemon is a detached thread that receives its work through a channel after
    /// it started; normal threads' handles are kept in slots; the live count is the
    /// number of clones of a token, one held by each thread while its work runs.
    #[derive(Debug)]
    pub struct ChannelDaemon {
        /// One clone per thread whose work runs, besides this one (the main thread).
        token: Arc<()>,
        /// Normal threads not joined yet.
        slots: Mutex<Vec<Option<JoinHandle<()>>>>,
    }

    impl Threading for ChannelDaemon {
        type Handle = usize;

        fn new() -> Self {
            Self {
                token: Arc::new(()),
                slots: Mutex::new(Vec::new()),
            }
        }

        fn spawn_daemon(&self, work: Work) {
            let (tx, rx) = mpsc::channel::<(Work, Arc<()>)>();
            drop(rt::thread::spawn(move || {
                if let Ok((work, token)) = rx.recv() {
                    work();
                    drop(token);
                }
            }));
            let _ = tx.send((work, Arc::clone(&self.token)));
        }

        fn spawn_normal(&self, work: Work) -> usize {
            let token = Arc::clone(&self.token);
            let thread = rt::thread::spawn(move || {
                work();
                drop(token);
            });
            let mut slots = self.slots.lock().unwrap();
            slots.push(Some(thread));
            slots.len() - 1
        }

        fn join(&self, handle: usize) {
            let thread = self.slots.lock().unwrap().get_mut(handle).and_then(Option::take);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }

        fn end_of_main(&self) {
            loop {
                let next = self.slots.lock().unwrap().iter_mut().find_map(Option::take);
                match next {
                    Some(thread) => {
                        let _ = thread.join();
                    }
                    None => return,
                }
            }
        }

        fn active_count(&self) -> usize {
            Arc::strong_count(&self.token)
        }

        fn run_sequential(&self, tasks: Vec<Work>) {
            // A stack of the tasks, last first, popped from the top.
            let mut tasks = tasks;
            tasks.reverse();
            while let Some(task) = tasks.pop() {
                task();
            }
        }

        fn run_threaded(&self, tasks: Vec<Work>) {
            let threads: Vec<JoinHandle<()>> = tasks
                .into_iter()
                .map(rt::thread::spawn)
                .collect();
            threads.into_iter().for_each(|t| {
                let _ = t.join();
            });
        }
    }
}
