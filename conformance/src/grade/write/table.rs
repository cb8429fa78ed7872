//! The terminal table, for people: one row per submission and exercise, a total row
//! per submission, then what went wrong, in full.

use std::fmt::Write as _;

use super::{
    exercise_word, fraction, outcome_heading, outcome_word, passed, passed_total, problems,
    property_text, Problem,
};
use crate::grade::model::{ClassReport, SubmissionReport};

/// The terminal table of a class: columns submission, exercise, status, score and
/// properties passed, a `total` row after each submission's exercises, then one block
/// per problem (a failing or timed-out property's failure reports, an exercise that
/// could not be checked, a submission that is invalid or does not build), indented.
pub fn table(class: &ClassReport) -> String {
    let mut rows = vec![row([
        "submission",
        "exercise",
        "status",
        "score",
        "properties",
    ])];
    for submission in &class.submissions {
        rows.extend(submission_rows(submission));
    }
    let mut out = aligned(&rows);
    for submission in &class.submissions {
        for problem in problems(submission) {
            out.push('\n');
            out.push_str(&block(submission, &problem));
        }
    }
    out
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| one_line(c)).collect()
}

/// A submission's exercise rows and its total row.
fn submission_rows(s: &SubmissionReport) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = s
        .exercises
        .iter()
        .map(|e| {
            let (pass, all) = passed(e);
            row([
                &s.name,
                &e.name,
                exercise_word(&e.status),
                &fraction(e.score, e.max_score),
                &format!("{pass}/{all}"),
            ])
        })
        .collect();
    let (pass, all) = passed_total(s);
    rows.push(row([
        &s.name,
        "total",
        outcome_word(&s.outcome),
        &fraction(s.score(), s.max_score()),
        &format!("{pass}/{all}"),
    ]));
    rows
}

/// A cell on one line: a name with a newline or a tab would break the columns.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The rows with every column padded to its widest cell, two spaces apart; the last
/// column is not padded, so no line ends in spaces.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<width$}", width = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One problem: a heading line naming the submission (and exercise and property), then
/// the text, indented by four spaces.
fn block(s: &SubmissionReport, problem: &Problem<'_>) -> String {
    let (heading, text) = match problem {
        Problem::Outcome(text) => (
            format!("{}: {}", s.name, outcome_heading(&s.outcome)),
            text.clone(),
        ),
        Problem::Exercise(e, message) => (
            format!("{} / {}: could not be checked", s.name, e.name),
            message.to_string(),
        ),
        Problem::Property(e, p) => (
            format!("{} / {}::{}: {}", s.name, e.name, p.name, p.status.word()),
            property_text(e, p),
        ),
        Problem::Review(e, p, runtime, diff) => (
            format!(
                "{} / {}::{}: differs from the reference on {runtime} (a review, not a failure)",
                s.name, e.name, p.name
            ),
            diff.to_string(),
        ),
    };
    let mut out = one_line(&heading);
    out.push('\n');
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            // Control characters (a student's colour codes, say) would reach the
            // terminal as they are.
            let _ = writeln!(out, "    {}", one_line(line).trim_end());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn the_table_names_every_submission_and_the_first_compiler_error() {
        let class = fixture::class();
        let text = table(&class);
        for s in &class.submissions {
            assert!(text.contains(&s.name), "{} is missing:\n{text}", s.name);
        }
        for line in fixture::BUILD_ERROR.lines() {
            assert!(
                text.contains(&format!("    {line}")),
                "the build error is not indented:\n{text}"
            );
        }
        assert!(
            text.contains("carol: the submission does not build"),
            "{text}"
        );
    }

    #[test]
    fn the_table_aligns_its_columns_and_totals_each_submission() {
        let text = table(&fixture::class());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["submission", "exercise", "status", "score", "properties"]
        );
        let score_at = lines[0].find("score").unwrap();
        assert!(lines[1].starts_with("alice "), "{text}");
        assert_eq!(lines[1].find("10/10"), Some(score_at), "{text}");
        assert!(text.contains("not attempted"), "{text}");
        // alice: 10 + 10 of 30, 5 of 6 properties (shm_counter not attempted).
        let total = lines
            .iter()
            .find(|l| l.starts_with("alice") && l.contains("total"))
            .unwrap();
        assert!(
            total.contains("graded") && total.contains("20/30") && total.ends_with("5/6"),
            "{total}"
        );
        assert!(
            lines.iter().all(|l| l == &l.trim_end()),
            "a line ends in spaces:\n{text}"
        );
    }

    #[test]
    fn the_table_shows_each_failing_property_with_its_failure_text() {
        let text = table(&fixture::class());
        assert!(text.contains("/ counter::mutual_exclusion: fail"), "{text}");
        assert!(
            text.contains("    counter::mutual_exclusion failed"),
            "{text}"
        );
        assert!(
            text.contains("/ shared_list::no_lost_items: timed out"),
            "{text}"
        );
        assert!(text.contains("    no verdict: the loom test"), "{text}");
        assert!(
            !text.contains("alice /"),
            "alice passed everything:\n{text}"
        );
    }
}
