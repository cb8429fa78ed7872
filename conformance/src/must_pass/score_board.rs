//! E1 score board sinks that are correct in an unusual way.

racecourse_spec::runtimes! {
    use racecourse_spec::score_board::{Output, Sink};
    use rt::sync::Mutex;

    /// Formats the whole line, newline included, before taking the lock, and writes
    /// it in one piece.
    pub struct OneWrite {
        /// Guards the output.
        out: Mutex<Box<dyn Output>>,
    }

    impl std::fmt::Debug for OneWrite {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OneWrite").finish_non_exhaustive()
        }
    }

    impl Sink for OneWrite {
        fn new(out: Box<dyn Output>) -> Self {
            Self { out: Mutex::new(out) }
        }
        fn print_line(&self, line: &str) {
            let whole = format!("{line}\n");
            self.out.lock().unwrap().write(&whole);
        }
    }
}
