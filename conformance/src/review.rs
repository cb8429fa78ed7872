//! Reviews: an implementation's output held against the reference snapshot of the same
//! declared behaviour, so that a reviewer sees *how* a submission differs.
//!
//! A review is a property marked `review` in its exercise's table. Its check renders
//! the implementation's output (a census, a transcript), reads the reference's from
//! racecourse's own `snapshots/`, and returns a [`Kind::Review`] finding holding a
//! unified diff when they differ. The generated test then passes and records the diff
//! (`Record::review`); a grade shows it. It fails only if the output cannot be made
//! at all (a deadlock, a panic), like any check.

use std::path::PathBuf;

use crate::report::{Kind, Violation};
use crate::runner::Found;

/// racecourse's snapshot directory (where its tests' insta snapshots live).
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"))
}

/// The content of the reference snapshot `name` (without insta's header).
pub fn reference(name: &str) -> Result<String, Found> {
    let path = snapshot_dir().join(format!("{name}.snap"));
    let text = std::fs::read_to_string(&path).map_err(|e| Found {
        violation: Violation::new(
            format!("the reference snapshot {}", path.display()),
            format!("it cannot be read: {e} (is racecourse's snapshots/ directory there?)"),
        ),
        schedule: "none".to_string(),
        replay_env: Vec::new(),
    })?;
    Ok(strip_header(&text).to_string())
}

/// The body of an insta snapshot file: what follows the second `---` line.
fn strip_header(text: &str) -> &str {
    let mut rest = text;
    for _ in 0..2 {
        match rest.find("---\n") {
            Some(i) => rest = &rest[i + 4..],
            None => return text,
        }
    }
    rest
}

/// `Ok` when `actual` equals `reference` (up to trailing blank lines); otherwise a
/// review finding with the unified diff (`-` the reference, `+` the implementation).
/// `what` names the reference, e.g. "the census of the reference fifo list".
pub fn compare(what: &str, reference: &str, actual: &str, schedule: &str) -> Result<(), Found> {
    let reference = format!("{}\n", reference.trim_end());
    let actual = format!("{}\n", actual.trim_end());
    if reference == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(&reference, &actual)
        .unified_diff()
        .context_radius(3)
        .header("reference", "submission")
        .to_string();
    Err(Found {
        violation: Violation::new(what, diff).of_kind(Kind::Review),
        schedule: schedule.to_string(),
        replay_env: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_body_is_what_follows_the_header() {
        let text = "---\nsource: x.rs\nexpression: y\n---\nline 1\nline 2\n";
        assert_eq!(strip_header(text), "line 1\nline 2\n");
    }

    #[test]
    fn a_difference_is_a_review_with_a_diff() {
        assert!(compare("it", "a\nb\n", "a\nb", "s").is_ok());
        let found = compare("the reference", "a\nb\n", "a\nc\n", "s").unwrap_err();
        assert_eq!(found.violation.kind, Kind::Review);
        assert!(
            found.violation.seen.contains("-b\n+c"),
            "{}",
            found.violation.seen
        );
    }

    #[test]
    fn every_review_reference_exists() {
        for order in ["fifo", "lifo"] {
            for kind in ["census", "transcript"] {
                reference(&format!("shared_list__{kind}__{order}"))
                    .unwrap_or_else(|f| panic!("{}", f.violation));
            }
        }
    }
}
