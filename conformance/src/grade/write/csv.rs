//! The class table as CSV (RFC 4180), for spreadsheets and grade books.

use super::{exercise_columns, outcome_word, points};
use crate::grade::model::{ClassReport, ExerciseStatus};

/// The class table as RFC 4180 CSV: a header `submission,total,max,<exercise>...,outcome`
/// and one row per submission. An exercise's cell is its score, empty if it was not
/// attempted; `outcome` is `graded`, `invalid`, `build failed` or `over budget`. Lines
/// end in CRLF, as the RFC says.
pub fn csv(class: &ClassReport) -> String {
    let columns = exercise_columns(class);
    let mut header = vec![
        "submission".to_string(),
        "total".to_string(),
        "max".to_string(),
    ];
    header.extend(columns.iter().map(|c| c.to_string()));
    header.push("outcome".to_string());
    let mut out = record(&header);
    for s in &class.submissions {
        let mut row = vec![s.name.clone(), points(s.score()), points(s.max_score())];
        row.extend(columns.iter().map(|c| {
            s.exercises
                .iter()
                .find(|e| e.name == *c && e.status != ExerciseStatus::NotAttempted)
                .map(|e| points(e.score))
                .unwrap_or_default()
        }));
        row.push(outcome_word(&s.outcome).to_string());
        out.push_str(&record(&row));
    }
    out
}

fn record(fields: &[String]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    format!("{}\r\n", fields.join(","))
}

/// A field, quoted if it holds a comma, a quote or a line break, with quotes doubled.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// RFC 4180, strictly: records end in CRLF; a field is quoted or holds no quote; in
    /// a quoted field `""` is a quote and anything else, line breaks too, is literal.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        assert!(
                            matches!(chars.peek(), Some(',' | '\r')),
                            "text after a closing quote"
                        );
                    }
                    c => field.push(c),
                }
                continue;
            }
            match c {
                '"' => {
                    assert!(field.is_empty(), "a quote inside an unquoted field");
                    quoted = true;
                }
                ',' => record.push(std::mem::take(&mut field)),
                '\r' => {
                    assert_eq!(chars.next(), Some('\n'), "CR without LF");
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                '\n' => panic!("a bare LF outside quotes"),
                c => field.push(c),
            }
        }
        assert!(!quoted, "an unterminated quote");
        assert!(
            field.is_empty() && record.is_empty(),
            "the last record has no CRLF"
        );
        records
    }

    #[test]
    fn csv_rows_have_as_many_fields_as_the_header() {
        let mut class = fixture::class();
        class.submissions[0].name = "alice, \"al\"\nsmith".to_string();
        let records = parse(&csv(&class));
        assert_eq!(records.len(), 1 + class.submissions.len());
        assert_eq!(
            records[0],
            [
                "submission",
                "total",
                "max",
                "shared_list",
                "counter",
                "shm_counter",
                "outcome"
            ]
        );
        for r in &records[1..] {
            assert_eq!(r.len(), records[0].len(), "{r:?}");
        }
        assert_eq!(
            records[1][0], "alice, \"al\"\nsmith",
            "the name reads back unchanged"
        );
    }

    #[test]
    fn csv_cells_are_scores_empty_when_not_attempted_and_the_outcome() {
        let records = parse(&csv(&fixture::class()));
        assert_eq!(records[1], ["alice", "20", "30", "10", "10", "", "graded"]);
        assert_eq!(records[2][..3], ["bob, \"the builder\"", "21.67", "30"]);
        assert_eq!(records[2][4], "6.67");
        assert_eq!(records[3][6], "build failed");
    }
}
