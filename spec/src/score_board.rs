//! E1, score board: two updater threads print their lines through one shared sink.
//!
//! The course's example (seed 001) starts a "Football" and a "Basketball" updater,
//! each printing `Updating <sport> score` five times under one lock, so that no two
//! lines are mixed up. Python's `print` writes the text and the newline separately:
//! without the lock, another thread can write between them. Here the harness supplies
//! the [`Output`] (standard output's stand-in), which records each write; the
//! student supplies the [`Sink`] that keeps lines whole and the [`ScoreBoard`] program.

/// The sports of the course's example, one updater each.
pub const SPORTS: [&str; 2] = ["Football", "Basketball"];

/// How many lines each updater prints.
pub const UPDATES: usize = 5;

/// The line an updater prints: `Updating Football score`.
pub fn update_line(sport: &str) -> String {
    format!("Updating {sport} score")
}

/// Where a sink's text goes: standard output's stand-in, supplied by the harness.
///
/// Each [`write`](Self::write) lands at once, but a line may take several writes (its
/// text, then its newline, as Python's `print` does), and another thread may write
/// between two of them.
pub trait Output: Send + Sync + 'static {
    /// Writes `piece` in one go.
    fn write(&self, piece: &str);
}

/// A printer that many threads share.
///
/// # Contract
/// - [`print_line`](Self::print_line) **must** write `line` and then a newline to
///   its output with no write of another `print_line` in between: a line is never
///   torn or merged with another, however the writes are split.
/// - The lines one thread prints **must** appear in the order it printed them.
/// - Every line printed **must** appear exactly once, at the latest when the sink is
///   dropped (a sink may buffer).
///
/// ## Blocking
/// `print_line` waits while another thread's line is being written, and never longer.
pub trait Sink: Send + Sync + 'static {
    /// A sink writing to `out`.
    fn new(out: Box<dyn Output>) -> Self;

    /// Prints `line` (without its newline) as one whole line.
    fn print_line(&self, line: &str);
}

/// The course's score board program.
///
/// # Contract
/// [`run`](Self::run) **must** start one updater thread per sport of [`SPORTS`], each
/// printing [`update_line`]`(sport)` [`UPDATES`] times through the shared `sink`, and
/// **must** join both before it returns: exactly 10 lines in all.
pub trait ScoreBoard {
    /// Runs both updaters on `sink` and waits for them.
    fn run<S: Sink>(sink: S);
}
