//! E1 score board suite: lines printed by many threads through one sink.
//!
//! Properties (see `EXERCISES.md`, E1 "Score board"):
//! - `whole_lines`: every line printed appears exactly once and whole (never torn or
//!   merged with another);
//! - `line_order`: the lines of one thread appear in the order it printed them;
//! - `ten_lines`: the course's program prints exactly its 10 lines.
//!
//! The harness gives the sink an [`Output`] that records every write and then yields,
//! so the model checkers can run another thread between two writes of one line, as
//! the operating system can between Python's `print` writing a line's text and its
//! newline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use racecourse_spec::score_board::{update_line, Output, ScoreBoard, Sink, SPORTS, UPDATES};

use crate::registry::{Exercise, Implementation, Role, Slot};
use crate::report::Violation;
use crate::runner::{loom_rt, shuttle_rt, std_rt, Finding, Found, Progress, Runtime};

/// The exercise's name in test names and reports.
pub const NAME: &str = "score_board";

// The program prints 10 lines through a lock, a write and a yield each: too many
// interleavings for loom, which checks the sink on two threads of two lines.
properties! { $ __score_board_table;
    /// Every line printed appears exactly once and whole: none torn, merged or lost.
    WholeLines => whole_lines [std shuttle loom],
    /// The lines one thread prints appear in the order it printed them.
    LineOrder => line_order [std shuttle loom],
    /// The course's program prints exactly 10 whole lines: 5 `Updating Football score`
    /// and 5 `Updating Basketball score`.
    TenLines => ten_lines [std shuttle],
}

/// The seed of the fixed shuttle schedule the transcript is taken under.
pub const TRANSCRIPT_SEED: u64 = 7;

/// The exercise in the registry.
pub const EXERCISE: Exercise = Exercise {
    name: NAME,
    catalogue: "E1",
    title: "a score board: two updaters printing through one sink",
    properties: &Property::INFO,
    slots: &[
        Slot {
            name: "sink",
            bound: "racecourse_spec::score_board::Sink",
        },
        Slot {
            name: "program",
            bound: "racecourse_spec::score_board::ScoreBoard",
        },
    ],
    implementations,
    snapshots,
};

/// The sports of the sink scenarios' threads: the course's two, then more.
const NAMES: [&str; 4] = ["Football", "Basketball", "Tennis", "Hockey"];

/// The `n`-th line (from 1) thread `thread` prints in a sink scenario.
fn numbered_line(thread: usize, n: usize) -> String {
    format!("{} #{n}", update_line(NAMES[thread % NAMES.len()]))
}

/// Threads printing numbered lines through one sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Threads printing.
    pub threads: usize,
    /// Lines each thread prints.
    pub lines: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} threads x {} lines through one sink (thread 0 prints \"{}\", \"{}\", ..)",
            self.threads,
            self.lines,
            numbered_line(0, 1),
            numbered_line(0, 2)
        )
    }
}

/// What a run of printers produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// Per thread, the lines whose `print_line` returned, in order.
    pub lines: Vec<Vec<String>>,
    /// Everything written to the output, in order, once the sink was dropped.
    pub text: String,
}

/// The output's lines, and any text after the last newline.
fn split(text: &str) -> (Vec<&str>, Option<&str>) {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let rest = lines.pop().filter(|r| !r.is_empty());
    (lines, rest)
}

/// Shortens a line for a message.
fn quoted(line: &str) -> String {
    const MAX: usize = 120;
    if line.chars().count() > MAX {
        let cut: String = line.chars().take(MAX).collect();
        format!("\"{cut}..\"")
    } else {
        format!("\"{line}\"")
    }
}

/// Every printed line appears exactly once and whole.
fn whole_lines(printed: &Printed) -> Result<(), Violation> {
    let expected = "every line printed to appear exactly once, whole";
    let (lines, rest) = split(&printed.text);
    let mut counts: BTreeMap<&str, usize> = printed
        .lines
        .iter()
        .flatten()
        .map(|l| (l.as_str(), 0))
        .collect();
    for line in &lines {
        match counts.get_mut(line) {
            Some(n) => *n += 1,
            None => {
                return Err(Violation::new(
                    expected,
                    format!(
                        "the output has the line {}, which no thread printed: lines were torn or merged (another thread wrote between a line's text and its newline)",
                        quoted(line)
                    ),
                ))
            }
        }
    }
    if let Some(rest) = rest {
        return Err(Violation::new(
            expected,
            format!("the output ends with {} without its newline", quoted(rest)),
        ));
    }
    for thread in &printed.lines {
        for line in thread {
            match counts[line.as_str()] {
                1 => {}
                0 => {
                    return Err(Violation::new(
                        expected,
                        format!(
                            "{} was printed but never appeared in the output",
                            quoted(line)
                        ),
                    ))
                }
                n => {
                    return Err(Violation::new(
                        expected,
                        format!("{} was printed once but appeared {n} times", quoted(line)),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The whole lines of each thread appear in the order it printed them.
fn line_order(printed: &Printed) -> Result<(), Violation> {
    let (lines, _) = split(&printed.text);
    for (thread, mine) in printed.lines.iter().enumerate() {
        let position: BTreeMap<&str, usize> = mine
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let order: Vec<usize> = lines
            .iter()
            .filter_map(|l| position.get(l).copied())
            .collect();
        if let Some(w) = order.windows(2).find(|w| w[0] > w[1]) {
            return Err(Violation::new(
                "the lines of one thread to appear in the order it printed them",
                format!(
                    "thread {thread} printed {} before {}, but the output has them the other way round",
                    quoted(&mine[w[1]]),
                    quoted(&mine[w[0]])
                ),
            ));
        }
    }
    Ok(())
}

/// The program's output: exactly `UPDATES` whole update lines per sport.
fn ten_lines(text: &str) -> Result<(), Violation> {
    let total = SPORTS.len() * UPDATES;
    let expected = format!(
        "exactly {total} lines, {UPDATES} \"{}\" and {UPDATES} \"{}\"",
        update_line(SPORTS[0]),
        update_line(SPORTS[1])
    );
    let (lines, rest) = split(text);
    let wanted: Vec<String> = SPORTS.iter().map(|s| update_line(s)).collect();
    if let Some(odd) = lines.iter().find(|l| !wanted.iter().any(|w| w == *l)) {
        return Err(Violation::new(
            expected,
            format!(
                "the output has the line {}, which is no update line: lines were torn or merged",
                quoted(odd)
            ),
        ));
    }
    if let Some(rest) = rest {
        return Err(Violation::new(
            expected,
            format!("the output ends with {} without its newline", quoted(rest)),
        ));
    }
    for line in &wanted {
        let n = lines.iter().filter(|l| *l == line).count();
        if n != UPDATES {
            return Err(Violation::new(
                expected,
                format!(
                    "the output has {} lines, and {} appears {n} times",
                    lines.len(),
                    quoted(line)
                ),
            ));
        }
    }
    Ok(())
}

racecourse_spec::runtimes! {
    use crate::runner::Progress;

    /// Standard output's stand-in: records every write, then yields, so that another
    /// thread may write before the next one.
    struct Recorder {
        text: Arc<Mutex<String>>,
    }

    impl Output for Recorder {
        fn write(&self, piece: &str) {
            self.text.lock().unwrap_or_else(|p| p.into_inner()).push_str(piece);
            rt::thread::yield_now();
        }
    }

    /// Runs `shape` once: each thread prints its numbered lines through one sink,
    /// stopping early when asked; the sink is dropped once every thread is joined.
    pub fn run_printers<S: Sink>(shape: Shape, progress: &Progress) -> Result<Printed, Violation> {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = rt::sync::Arc::new(S::new(Box::new(Recorder { text: Arc::clone(&text) })));
        let handles: Vec<_> = (0..shape.threads)
            .map(|thread| {
                let sink = rt::sync::Arc::clone(&sink);
                let progress = progress.clone();
                rt::thread::spawn(move || {
                    let mut printed = Vec::new();
                    for n in 1..=shape.lines {
                        if progress.should_stop() {
                            break;
                        }
                        let line = numbered_line(thread, n);
                        sink.print_line(&line);
                        printed.push(line);
                        progress.tick();
                    }
                    printed
                })
            })
            .collect();
        let mut lines = Vec::new();
        for (thread, h) in handles.into_iter().enumerate() {
            lines.push(h.join().map_err(|payload| crate::runner::panicked(format!("in thread {thread}"), payload))?);
        }
        drop(sink);
        let text = text.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(Printed { lines, text })
    }

    /// Runs the program once on a sink of `S` and returns what it printed.
    pub fn run_program<S: Sink, P: ScoreBoard>(progress: &Progress) -> String {
        let text = Arc::new(Mutex::new(String::new()));
        P::run(S::new(Box::new(Recorder { text: Arc::clone(&text) })));
        progress.tick();
        let text = text.lock().unwrap_or_else(|p| p.into_inner()).clone();
        text
    }
}

/// The program's transcript under one fixed shuttle schedule: its output, line by
/// line.
pub fn transcript_shuttle<S: Sink, P: ScoreBoard + 'static>(seed: u64) -> String {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    let budget = shuttle_rt::Budget {
        random: 1,
        pct: 0,
        base_seed: seed,
    };
    let result = shuttle_rt::explore(budget, move || {
        *sink.lock().unwrap() = on_shuttle::run_program::<S, P>(&Progress::new());
        Ok(())
    });
    let mut text = out.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Err(found) = result {
        text.push_str(&format!("failed: {}\n", found.violation));
    }
    text
}

fn program_scenario() -> String {
    format!(
        "the course's program: {} updaters ({}) x {UPDATES} lines",
        SPORTS.len(),
        SPORTS.join(", ")
    )
}

fn judge(property: Property, printed: &Printed) -> Result<(), Violation> {
    match property {
        Property::WholeLines => whole_lines(printed),
        Property::LineOrder => line_order(printed),
        Property::TenLines => unreachable!("ten_lines runs the program"),
    }
}

/// Checks `property` of sink `S` (with program `P`) on std threads: 4 threads of 200
/// lines for the sink, the program itself for `ten_lines`, 5 trials each, within the
/// std time budget.
pub fn check_std<S: Sink, P: ScoreBoard + 'static>(property: Property) -> Result<(), Finding> {
    let budget = std_rt::Budget::start();
    let shape = Shape {
        threads: 4,
        lines: 200,
    };
    match property {
        Property::TenLines => std_rt::explore(&budget, 5, |progress| {
            ten_lines(&on_std::run_program::<S, P>(progress))
        })
        .map_err(|f| (f, program_scenario())),
        _ => std_rt::explore(&budget, 5, move |progress| {
            judge(property, &on_std::run_printers::<S>(shape, progress)?)
        })
        .map_err(|f| (f, shape.to_string())),
    }
}

/// Checks `property` of sink `S` (with program `P`) under shuttle: 2 and 3 threads
/// of 3 lines for the sink, the program for `ten_lines`; 25 random and 25 PCT
/// iterations each.
pub fn check_shuttle<S: Sink, P: ScoreBoard + 'static>(property: Property) -> Result<(), Finding> {
    let budget = shuttle_rt::Budget {
        random: 25,
        pct: 25,
        base_seed: 0,
    };
    match property {
        Property::TenLines => shuttle_rt::explore(budget, || {
            ten_lines(&on_shuttle::run_program::<S, P>(&Progress::new()))
        })
        .map_err(|f| (f, program_scenario())),
        _ => {
            for threads in [2, 3] {
                let shape = Shape { threads, lines: 3 };
                crate::isolate::note(&shape.to_string(), None);
                shuttle_rt::explore(budget, move || {
                    judge(
                        property,
                        &on_shuttle::run_printers::<S>(shape, &Progress::new())?,
                    )
                })
                .map_err(|f| (f, shape.to_string()))?;
            }
            Ok(())
        }
    }
}

/// Checks `property` of sink `S` under loom: 2 threads of 2 lines, exhaustive.
pub fn check_loom<S: Sink, P: ScoreBoard + 'static>(property: Property) -> Result<(), Finding> {
    let shape = Shape {
        threads: 2,
        lines: 2,
    };
    crate::isolate::note(&shape.to_string(), None);
    let result: Result<(), Found> = loom_rt::explore(loom_rt::Bounds::EXHAUSTIVE, move || {
        judge(
            property,
            &on_loom::run_printers::<S>(shape, &Progress::new())?,
        )
    });
    result.map_err(|f| (f, shape.to_string()))
}

macro_rules! implementations_on {
    ($rt:ident, $check:ident) => {{
        use crate::must_pass::score_board::$rt as must;
        use crate::mutants::score_board::$rt as m;
        use racecourse_impl::thread::score_board::$rt as reference;
        vec![
            Implementation {
                exercise: NAME,
                name: "locked",
                role: Role::Reference,
                check: |p| $check::<reference::Locked, reference::Updaters>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "one_write",
                role: Role::MustPass,
                check: |p| $check::<must::OneWrite, reference::Updaters>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "two_pieces",
                role: Role::Mutant {
                    must_fail: &["whole_lines", "ten_lines"],
                },
                check: |p| $check::<m::TwoPieces, reference::Updaters>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "stack_buffer",
                role: Role::Mutant {
                    must_fail: &["line_order"],
                },
                check: |p| $check::<m::StackBuffer, reference::Updaters>(Property::named(p)),
            },
            Implementation {
                exercise: NAME,
                name: "four_updates",
                role: Role::Mutant {
                    must_fail: &["ten_lines"],
                },
                check: |p| $check::<reference::Locked, m::FourUpdates>(Property::named(p)),
            },
        ]
    }};
}

/// The reference's snapshot: the program's transcript under shuttle's seed 7.
fn snapshots(runtime: Runtime) -> Vec<(String, String)> {
    use racecourse_impl::thread::score_board::on_shuttle;
    match runtime {
        Runtime::Shuttle => vec![(
            "score_board__transcript".to_string(),
            transcript_shuttle::<on_shuttle::Locked, on_shuttle::Updaters>(TRANSCRIPT_SEED),
        )],
        _ => Vec::new(),
    }
}

/// The score board's implementations (reference, must-pass, mutants) for `runtime`.
fn implementations(runtime: Runtime) -> Vec<Implementation> {
    match runtime {
        Runtime::Std => implementations_on!(on_std, check_std),
        Runtime::Shuttle => implementations_on!(on_shuttle, check_shuttle),
        Runtime::Loom => implementations_on!(on_loom, check_loom),
        Runtime::Process => Vec::new(),
    }
}

/// Generates the E1 score board tests for one or more implementations, named
/// `score_board::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::score_board! {
///     mine => my_crate::score_board { sink: Locked, program: Updaters },
/// }
/// ```
///
/// `runtimes: [..]` before the list restricts the runtimes; `not_attempted` generates
/// one ignored test saying so.
#[macro_export]
macro_rules! score_board {
    (not_attempted) => {
        $crate::__not_attempted!(score_board);
    };
    (runtimes: [$($rt:ident),*], $($name:ident => $($seg:ident)::+ { sink: $sink:ident, program: $prog:ident }),+ $(,)?) => {
        $crate::__score_board_table! { score_board [$($rt)*] [$($name [$($seg)::+] [$sink $prog]),+] }
    };
    ($($impls:tt)+) => {
        $crate::score_board!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(lines: &[&[&str]], text: &str) -> Printed {
        Printed {
            lines: lines
                .iter()
                .map(|t| t.iter().map(|l| l.to_string()).collect())
                .collect(),
            text: text.to_string(),
        }
    }

    #[test]
    fn a_merged_line_is_named() {
        let p = printed(&[&["a"], &["b"]], "ab\n\n");
        let v = whole_lines(&p).unwrap_err();
        assert!(v.seen.contains("\"ab\", which no thread printed"), "{v}");
        assert_eq!(whole_lines(&printed(&[&["a"], &["b"]], "b\na\n")), Ok(()));
    }

    #[test]
    fn a_thread_out_of_order_is_named() {
        let p = printed(&[&["a1", "a2"], &["b1"]], "b1\na2\na1\n");
        let v = line_order(&p).unwrap_err();
        assert!(v.seen.contains("printed \"a1\" before \"a2\""), "{v}");
    }

    #[test]
    fn the_program_prints_five_lines_per_sport() {
        let good = "Updating Football score\nUpdating Basketball score\n".repeat(5);
        assert_eq!(ten_lines(&good), Ok(()));
        let short = "Updating Football score\nUpdating Basketball score\n".repeat(4);
        let v = ten_lines(&short).unwrap_err();
        assert!(v.seen.contains("appears 4 times"), "{v}");
    }
}
