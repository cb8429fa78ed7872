//! E1 score board mutants: sinks and programs that real students write, each wrong in
//! one way.

racecourse_spec::runtimes! {
    use racecourse_spec::score_board::{update_line, Output, ScoreBoard, Sink, SPORTS, UPDATES};
    use rt::sync::{Arc, Mutex};

    /// Python's `print` without the lock: the text and the newline in two writes,
    /// with nothing to stop another thread writing between them.
    pub struct TwoPieces {
        out: Box<dyn Output>,
    }

    impl std::fmt::Debug for TwoPieces {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TwoPieces").finish_non_exhaustive()
        }
    }

    impl Sink for TwoPieces {
        fn new(out: Box<dyn Output>) -> Self {
            Self { out }
        }
        fn print_line(&self, line: &str) {
            self.out.write(line);
            self.out.write("\n");
        }
    }

    /// Buffers lines under its lock and writes them out two at a time, draining the
    /// buffer with `pop`: the newer line of each pair comes out first. Whole lines,
    /// all of them (the rest when dropped), in the wrong order.
    pub struct StackBuffer {
        state: Mutex<(Box<dyn Output>, Vec<String>)>,
    }

    impl std::fmt::Debug for StackBuffer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("StackBuffer").finish_non_exhaustive()
        }
    }

    fn drain(out: &dyn Output, buffer: &mut Vec<String>) {
        while let Some(line) = buffer.pop() {
            out.write(&line);
            out.write("\n");
        }
    }

    impl Sink for StackBuffer {
        fn new(out: Box<dyn Output>) -> Self {
            Self { state: Mutex::new((out, Vec::new())) }
        }
        fn print_line(&self, line: &str) {
            let mut state = self.state.lock().unwrap();
            let (out, buffer) = &mut *state;
            buffer.push(line.to_string());
            if buffer.len() == 2 {
                drain(&**out, buffer);
            }
        }
    }

    impl Drop for StackBuffer {
        fn drop(&mut self) {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let (out, buffer) = &mut *state;
            drain(&**out, buffer);
        }
    }

    /// The updaters count from 1 (`for i in 1..5`): four lines each.
    #[derive(Debug)]
    pub struct FourUpdates;

    impl ScoreBoard for FourUpdates {
        fn run<S: Sink>(sink: S) {
            let sink = Arc::new(sink);
            let updaters: Vec<_> = SPORTS
                .iter()
                .map(|&sport| {
                    let sink = Arc::clone(&sink);
                    rt::thread::spawn(move || {
                        for _ in 1..UPDATES {
                            sink.print_line(&update_line(sport));
                        }
                    })
                })
                .collect();
            for updater in updaters {
                updater.join().expect("an updater panicked");
            }
        }
    }
}
