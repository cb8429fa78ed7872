use racecourse_spec::score_board::{update_line, Output, ScoreBoard, Sink, SPORTS, UPDATES};
use rt::sync::{Arc, Mutex};

/// A sink that writes each line as Python's `print` does, the text and then the
/// newline, holding its lock across both writes.
pub struct Locked {
    /// Guards the output: held for the whole of a line.
    out: Mutex<Box<dyn Output>>,
}

impl std::fmt::Debug for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locked").finish_non_exhaustive()
    }
}

impl Sink for Locked {
    fn new(out: Box<dyn Output>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    fn print_line(&self, line: &str) {
        let out = self.out.lock().unwrap();
        out.write(line);
        out.write("\n");
    }
}

/// The course's program: one updater thread per sport, both started before either is
/// joined.
#[derive(Debug)]
pub struct Updaters;

impl ScoreBoard for Updaters {
    fn run<S: Sink>(sink: S) {
        let sink = Arc::new(sink);
        let updaters: Vec<_> = SPORTS
            .iter()
            .map(|&sport| {
                let sink = Arc::clone(&sink);
                rt::thread::spawn(move || {
                    for _ in 0..UPDATES {
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
