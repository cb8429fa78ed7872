//! The Markdown summary, for `$GITHUB_STEP_SUMMARY`: the class table, then what went
//! wrong for each submission, folded.

use super::{
    exercise_columns, fraction, outcome_heading, outcome_word, points, problems, property_text,
    Problem,
};
use crate::grade::model::{ClassReport, ExerciseStatus, SubmissionReport};

/// A Markdown summary of a class: a heading, a table (submission, total, one column per
/// exercise with its score, outcome), then one section per submission listing its
/// problems, each failure report in a fenced code block inside a
/// `<details><summary>` block.
pub fn markdown(class: &ClassReport) -> String {
    let columns = exercise_columns(class);
    let n = class.submissions.len();
    let mut out = format!(
        "# racecourse grade\n\n{n} {}.\n\n",
        if n == 1 { "submission" } else { "submissions" }
    );
    out.push_str(&class_table(class, &columns));
    for s in &class.submissions {
        out.push('\n');
        out.push_str(&section(s));
    }
    out
}

fn class_table(class: &ClassReport, columns: &[&str]) -> String {
    let mut header = vec!["submission".to_string(), "total".to_string()];
    header.extend(columns.iter().map(|c| cell(c)));
    header.push("outcome".to_string());
    let mut rule = vec!["---", "---:"];
    rule.extend(columns.iter().map(|_| "---:"));
    rule.push("---");
    let mut out = line(&header);
    out.push_str(&line(&rule));
    for s in &class.submissions {
        let mut row = vec![cell(&s.name), fraction(s.score(), s.max_score())];
        row.extend(columns.iter().map(|c| exercise_cell(s, c)));
        row.push(outcome_word(&s.outcome).to_string());
        out.push_str(&line(&row));
    }
    out
}

fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// An exercise's score, `not attempted`, or `not checked`; empty if the submission does
/// not list it.
fn exercise_cell(s: &SubmissionReport, name: &str) -> String {
    match s.exercises.iter().find(|e| e.name == name) {
        None => String::new(),
        Some(e) => match e.status {
            ExerciseStatus::Attempted => fraction(e.score, e.max_score),
            ExerciseStatus::NotAttempted => "not attempted".to_string(),
            ExerciseStatus::Error { .. } => format!("not checked (0/{})", points(e.max_score)),
        },
    }
}

/// One submission's section: its total, then its problems, as blocks one blank line
/// apart.
fn section(s: &SubmissionReport) -> String {
    let mut blocks = vec![format!(
        "## {}: {}",
        inline(&s.name),
        fraction(s.score(), s.max_score())
    )];
    let problems = problems(s);
    if problems.is_empty() {
        blocks.push("Every attempted property passed.".to_string());
    }
    blocks.extend(problems.iter().map(|p| problem_block(s, p)));
    let skipped: Vec<String> = s
        .exercises
        .iter()
        .filter(|e| e.status == ExerciseStatus::NotAttempted)
        .map(|e| format!("`{}`", e.name.replace('`', "")))
        .collect();
    if !skipped.is_empty() {
        blocks.push(format!("Not attempted: {}.", skipped.join(", ")));
    }
    format!("{}\n", blocks.join("\n\n"))
}

fn problem_block(s: &SubmissionReport, problem: &Problem<'_>) -> String {
    match problem {
        Problem::Outcome(text) => format!(
            "{}:\n\n{}",
            inline(outcome_heading(&s.outcome)),
            fenced(text)
        ),
        Problem::Exercise(e, message) => {
            details(&format!("{}: could not be checked", e.name), message)
        }
        Problem::Property(e, p) => details(
            &format!(
                "{}::{}: {} ({})",
                e.name,
                p.name,
                p.status.word(),
                fraction(p.points, p.max_points)
            ),
            &property_text(e, p),
        ),
        Problem::Review(e, p, runtime, diff) => details(
            &format!(
                "{}::{}: differs from the reference on {runtime} (a review, not a failure)",
                e.name, p.name
            ),
            diff,
        ),
    }
}

/// A folded block: the summary line, and the text in a code block (GitHub needs the
/// blank line after `</summary>` to render the Markdown inside).
fn details(summary: &str, text: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n\n{}\n\n</details>",
        inline(summary),
        fenced(text)
    )
}

/// `text` in a fenced code block whose fence is longer than any run of backticks in it,
/// so the text cannot close it.
fn fenced(text: &str) -> String {
    let text = clean(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", text.trim_end())
}

/// Control characters (a student's colour codes, say) removed; line breaks kept, as
/// `\n`.
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect()
}

/// Text outside code: on one line, and HTML's special characters as entities (GitHub
/// renders inline HTML).
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table cell: [`inline`], with `|` escaped so it does not split the cell, and
/// backslashes as entities so one cannot escape the `|` that ends the cell.
fn cell(text: &str) -> String {
    inline(text).replace('\\', "&#92;").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// The cells of a table row, split on the `|`s that are not escaped.
    fn cells(row: &str) -> Vec<String> {
        let inner = row
            .trim()
            .strip_prefix('|')
            .and_then(|r| r.strip_suffix('|'))
            .expect("a row starts and ends with |");
        let mut out = vec![String::new()];
        let mut escaped = false;
        for c in inner.chars() {
            match c {
                '|' if !escaped => out.push(String::new()),
                c => out.last_mut().unwrap().push(c),
            }
            escaped = c == '\\' && !escaped;
        }
        out.iter().map(|c| c.trim().to_string()).collect()
    }

    #[test]
    fn markdown_table_rows_have_as_many_cells_as_the_header() {
        let mut class = fixture::class();
        class.submissions[1].name = "bob | the \\ builder".to_string();
        let text = markdown(&class);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 2 + class.submissions.len(), "{text}");
        let header = cells(rows[0]);
        assert_eq!(
            header,
            [
                "submission",
                "total",
                "shared_list",
                "counter",
                "shm_counter",
                "outcome"
            ]
        );
        for row in &rows[1..] {
            assert_eq!(cells(row).len(), header.len(), "{row}");
        }
        assert_eq!(cells(rows[3])[0], "bob \\| the &#92; builder");
    }

    #[test]
    fn markdown_folds_each_failure_report_in_a_code_block_it_cannot_close() {
        let text = markdown(&fixture::class());
        assert!(
            text.contains("<details><summary>counter::mutual_exclusion: fail (0/3.33)</summary>"),
            "{text}"
        );
        // The report holds a ``` line: the fence must be longer.
        assert!(
            text.contains("\n````text\ncounter::mutual_exclusion failed\n"),
            "{text}"
        );
        assert!(text.contains(fixture::BUILD_ERROR), "{text}");
        assert!(text.contains("Every attempted property passed."), "{text}");
        assert!(!text.contains('\u{1b}'));
        let opened = text.matches("<details>").count();
        assert_eq!(opened, text.matches("</details>").count());
        assert_eq!(opened, 2, "bob's two problems, folded: {text}");
    }
}
