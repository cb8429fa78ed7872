//! JUnit XML, for CI systems: one `<testsuite>` per submission, one `<testcase>` per
//! generated test.

use std::fmt::Write as _;

use super::{no_verdict, unchecked};
use crate::grade::model::{
    ClassReport, ExerciseReport, ExerciseStatus, Outcome, PropertyReport, SubmissionReport,
};
use crate::report::{Kind, Record, Status};

/// How a test case ended, if not with a pass.
enum End {
    /// The implementation broke the contract.
    Failure {
        message: String,
        kind: String,
        text: String,
    },
    /// The check did not finish or could not run.
    Error {
        message: String,
        kind: String,
        text: String,
    },
    /// The exercise was not attempted.
    Skipped { message: String },
}

/// One `<testcase>`.
struct Case {
    classname: String,
    name: String,
    seconds: f64,
    end: Option<End>,
}

/// JUnit XML for a class: `<testsuites>` holding one `<testsuite>` per submission (with
/// tests, failures, errors and skipped counts, and its time), one `<testcase>` per
/// generated test (classname `submission.exercise.property`, name the runtime), a
/// `<failure>` for a contract violation, an `<error>` for a test that timed out or
/// left no verdict, and a `<skipped/>` case per exercise not attempted. A submission
/// that does not build has one case, `build`, whose `<error>` holds the compiler's
/// first error; one whose declaration is wrong has one, `declaration`.
pub fn junit(class: &ClassReport) -> String {
    let suites: Vec<(&SubmissionReport, Vec<Case>)> =
        class.submissions.iter().map(|s| (s, cases(s))).collect();
    let all: Vec<&Case> = suites.iter().flat_map(|(_, c)| c).collect();
    let seconds: f64 = class.submissions.iter().map(|s| s.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"racecourse grade\"{}>",
        counts(&all, seconds)
    );
    for (s, cases) in &suites {
        let refs: Vec<&Case> = cases.iter().collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\"{}>",
            escape(&s.name),
            counts(&refs, s.seconds)
        );
        for case in cases {
            out.push_str(&render(case));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The `tests`, `failures`, `errors`, `skipped` and `time` attributes.
fn counts(cases: &[&Case], seconds: f64) -> String {
    let count = |f: fn(&End) -> bool| {
        cases
            .iter()
            .filter(|c| c.end.as_ref().is_some_and(f))
            .count()
    };
    format!(
        " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\"",
        cases.len(),
        count(|e| matches!(e, End::Failure { .. })),
        count(|e| matches!(e, End::Error { .. })),
        count(|e| matches!(e, End::Skipped { .. })),
        time(seconds)
    )
}

fn time(seconds: f64) -> String {
    format!(
        "{:.3}",
        if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        }
    )
}

/// A submission's test cases.
fn cases(s: &SubmissionReport) -> Vec<Case> {
    if unchecked(&s.outcome) {
        return vec![outcome_case(s)];
    }
    let mut out = Vec::new();
    for e in &s.exercises {
        let classname = format!("{}.{}", s.name, e.name);
        match &e.status {
            ExerciseStatus::NotAttempted => out.push(Case {
                classname,
                name: "not attempted".into(),
                seconds: 0.0,
                end: Some(End::Skipped {
                    message: "not attempted".into(),
                }),
            }),
            ExerciseStatus::Error { message } => out.push(Case {
                classname,
                name: "check".into(),
                seconds: 0.0,
                end: Some(End::Error {
                    message: first_line(message),
                    kind: "not checked".into(),
                    text: message.clone(),
                }),
            }),
            ExerciseStatus::Attempted => {
                for p in &e.properties {
                    out.extend(property_cases(s, e, p));
                }
            }
        }
    }
    out
}

/// The one case of a submission that was not built: `build` or `declaration`.
fn outcome_case(s: &SubmissionReport) -> Case {
    let (name, kind, text) = match &s.outcome {
        Outcome::BuildFailed { first_error } => ("build", "build failed", first_error.clone()),
        Outcome::Invalid { message } => ("declaration", "invalid", message.clone()),
        // Not reached: only the two outcomes above leave nothing checked.
        Outcome::Graded | Outcome::OverBudget { .. } => ("grade", "error", String::new()),
    };
    Case {
        classname: s.name.clone(),
        name: name.into(),
        seconds: s.seconds,
        end: Some(End::Error {
            message: first_line(&text),
            kind: kind.into(),
            text,
        }),
    }
}

/// One case per runtime test of a property: those with a verdict, then those without.
fn property_cases(s: &SubmissionReport, e: &ExerciseReport, p: &PropertyReport) -> Vec<Case> {
    let classname = format!("{}.{}.{}", s.name, e.name, p.name);
    let mut out: Vec<Case> = p
        .records
        .iter()
        .map(|r| Case {
            classname: classname.clone(),
            name: r.runtime.clone(),
            seconds: r.seconds,
            end: record_end(r),
        })
        .collect();
    out.extend(p.missing.iter().map(|runtime| Case {
        classname: classname.clone(),
        name: runtime.clone(),
        seconds: 0.0,
        end: Some(End::Error {
            message: no_verdict(runtime),
            kind: "no verdict".into(),
            text: String::new(),
        }),
    }));
    out
}

fn record_end(r: &Record) -> Option<End> {
    let message = r.failure.as_ref().map_or_else(
        || r.status.word().to_string(),
        |f| first_line(&format!("expected {}, but {}", f.expected, f.seen)),
    );
    let kind = r
        .failure
        .as_ref()
        .map_or_else(|| r.status.word().to_string(), |f| kind_word(f.kind));
    let text = r.failure_text().unwrap_or_default();
    match r.status {
        Status::Pass => None,
        Status::Fail => Some(End::Failure {
            message,
            kind,
            text,
        }),
        Status::TimedOut | Status::Error => Some(End::Error {
            message,
            kind,
            text,
        }),
        Status::NotAttempted => Some(End::Skipped { message }),
    }
}

/// The kind's name as records spell it (`contract`, `race`, `over_budget`, ...).
fn kind_word(kind: Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The first non-blank line: what a CI system shows next to the test's name.
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

fn render(case: &Case) -> String {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        escape(&case.classname),
        escape(&case.name),
        time(case.seconds)
    );
    let body = match &case.end {
        None => return format!("{open}/>\n"),
        Some(End::Skipped { message }) => {
            format!("      <skipped message=\"{}\"/>\n", escape(message))
        }
        Some(End::Failure {
            message,
            kind,
            text,
        }) => element("failure", message, kind, text),
        Some(End::Error {
            message,
            kind,
            text,
        }) => element("error", message, kind, text),
    };
    format!("{open}>\n{body}    </testcase>\n")
}

/// A `<failure>` or `<error>` element, empty if there is no text.
fn element(tag: &str, message: &str, kind: &str, text: &str) -> String {
    let attributes = format!("message=\"{}\" type=\"{}\"", escape(message), escape(kind));
    if text.is_empty() {
        format!("      <{tag} {attributes}/>\n")
    } else {
        format!("      <{tag} {attributes}>{}</{tag}>\n", escape(text))
    }
}

/// `text` escaped for XML 1.0 text and attribute values: the five special characters
/// as entities, tab, newline and carriage return as character references (so that
/// attribute values keep them), and the characters XML 1.0 does not allow at all
/// (other control characters, U+FFFE, U+FFFF) dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether XML 1.0 allows `c` (its `Char` production; Rust's `char` already excludes
/// surrogates).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// An element as the checker sees it: name, attributes, and the counts of
    /// `failure`, `error` and `skipped` elements inside it.
    #[derive(Debug, Default)]
    struct Element {
        name: String,
        attributes: Vec<(String, String)>,
        inner: [usize; 3],
    }

    impl Element {
        fn attribute(&self, name: &str) -> Option<&str> {
            self.attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Text or an attribute value: every `&` starts a known entity or a character
    /// reference, and no `<` or forbidden character appears.
    fn check_escaped(text: &str) {
        assert!(!text.contains('<'), "raw < in {text:?}");
        assert!(
            text.chars().all(allowed),
            "a character XML 1.0 forbids in {text:?}"
        );
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e));
            let reference = rest.starts_with("&#")
                && rest[2..]
                    .split(';')
                    .next()
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            assert!(entity || reference, "bare & in {text:?}");
        }
    }

    fn attributes(tag: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = tag.trim();
        while !rest.is_empty() {
            let (name, after) = rest
                .split_once("=\"")
                .unwrap_or_else(|| panic!("bad attribute in {tag:?}"));
            let (value, after) = after
                .split_once('"')
                .unwrap_or_else(|| panic!("unterminated value in {tag:?}"));
            check_escaped(value);
            out.push((name.trim().to_string(), value.to_string()));
            rest = after.trim_start();
        }
        out
    }

    /// A tiny well-formedness check: balanced tags, quoted and escaped attributes,
    /// escaped text, and count attributes that match the elements inside. Returns every
    /// closed `testsuite`.
    fn check(xml: &str) -> Vec<Element> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("declaration first");
        let mut stack: Vec<Element> = Vec::new();
        let mut suites = Vec::new();
        let mut roots = 0;
        let mut rest = body;
        while let Some(start) = rest.find('<') {
            check_escaped(&rest[..start]);
            let end = rest[start..].find('>').expect("unterminated tag") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let element = stack.pop().expect("a close tag without an open tag");
                assert_eq!(element.name, name, "mismatched close tag");
                close(element, &mut stack, &mut suites, &mut roots);
                continue;
            }
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            let element = Element {
                name: name.to_string(),
                attributes: attributes(attrs),
                inner: [0; 3],
            };
            if empty {
                close(element, &mut stack, &mut suites, &mut roots);
            } else {
                stack.push(element);
            }
        }
        check_escaped(rest);
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        assert_eq!(roots, 1, "one root element");
        suites
    }

    fn close(
        element: Element,
        stack: &mut [Element],
        suites: &mut Vec<Element>,
        roots: &mut usize,
    ) {
        let kind = ["failure", "error", "skipped"]
            .iter()
            .position(|n| *n == element.name);
        if ["testsuite", "testsuites"].contains(&element.name.as_str()) {
            for (i, attr) in ["failures", "errors", "skipped"].iter().enumerate() {
                assert_eq!(
                    element.attribute(attr),
                    Some(element.inner[i].to_string().as_str()),
                    "{attr} of {element:?}"
                );
            }
        }
        match stack.last_mut() {
            Some(parent) => {
                for i in 0..3 {
                    parent.inner[i] += element.inner[i];
                }
                if let Some(k) = kind {
                    parent.inner[k] += 1;
                }
            }
            None => *roots += 1,
        }
        if element.name == "testsuite" {
            suites.push(element);
        }
    }

    #[test]
    fn junit_is_well_formed_and_its_counts_match_its_elements() {
        let xml = junit(&fixture::class());
        let suites = check(&xml);
        let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
        assert_eq!(names, ["alice", "bob, &quot;the builder&quot;", "carol"]);
    }

    #[test]
    fn junit_counts_tests_failures_errors_and_skips_per_submission() {
        let xml = junit(&fixture::class());
        let suites = check(&xml);
        let counts = |s: &Element| {
            ["tests", "failures", "errors", "skipped"].map(|a| s.attribute(a).unwrap().to_string())
        };
        // alice: 5 properties x 3 runtimes, and shm_counter skipped.
        assert_eq!(counts(&suites[0]), ["16", "0", "0", "1"]);
        // bob: 5 x 3 + 1 process; one failure on loom, one test without a verdict.
        assert_eq!(counts(&suites[1]), ["16", "1", "1", "0"]);
        // carol: only the build.
        assert_eq!(counts(&suites[2]), ["1", "0", "1", "0"]);
    }

    #[test]
    fn junit_escapes_failure_texts_and_drops_forbidden_characters() {
        let xml = junit(&fixture::class());
        assert!(
            xml.contains(
                "&lt;T&gt; &amp; &quot;co&quot; | &apos;x&apos;, then&#10;line two&#13;&#10;"
            ),
            "{xml}"
        );
        assert!(!xml.contains('\u{1b}'));
        assert!(
            xml.contains("<testcase classname=\"carol\" name=\"build\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<error message=\"error[E0308]: mismatched types\" type=\"build failed\">"
            ),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"no verdict: "), "{xml}");
        assert!(
            xml.contains("classname=\"alice.counter.mutual_exclusion\" name=\"loom\""),
            "{xml}"
        );
        assert_eq!(escape("a\u{0}b\u{7}c\u{FFFE}d\te"), "abcd&#9;e");
    }
}
