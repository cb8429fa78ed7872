//! Building a scratch workspace: `cargo build --tests --keep-going`, read through
//! cargo's JSON messages.
//!
//! Every test target of the harness is one exercise, so a declaration that names a
//! missing type fails that exercise's target only; the others still build. An error in
//! the submission's own crate (or anything else outside the harness) fails them all.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::HARNESS_PACKAGE;

/// What a build produced.
#[derive(Debug, Default)]
pub struct Built {
    /// Test executables, by target name (= exercise name).
    pub executables: BTreeMap<String, PathBuf>,
    /// The first compiler error of each harness target that failed, by target name.
    pub target_errors: BTreeMap<String, String>,
    /// The first error outside the harness (the submission does not compile), if any.
    pub submission_error: Option<String>,
    /// Whether cargo itself reported success.
    pub success: bool,
    /// The end of cargo's stderr, for errors that are not compiler messages (a bad
    /// manifest, a dependency that cannot be fetched).
    pub stderr_tail: String,
    /// How long the build took.
    pub elapsed: Duration,
    /// Whether the build was stopped at its deadline.
    pub timed_out: bool,
}

impl Built {
    /// The error to report for the whole submission, if the build failed outside the
    /// per-exercise targets (or stopped at its deadline).
    pub fn fatal_error(&self) -> Option<String> {
        if let Some(e) = &self.submission_error {
            return Some(e.clone());
        }
        if self.timed_out {
            return Some(format!(
                "the build did not finish within {:?} and was stopped",
                self.elapsed
            ));
        }
        if !self.success && self.target_errors.is_empty() {
            return Some(first_cargo_error(&self.stderr_tail));
        }
        None
    }
}

/// The `error: ...` part of cargo's stderr (a manifest or resolution problem), or all
/// of it.
fn first_cargo_error(stderr: &str) -> String {
    match stderr.find("error") {
        Some(i) => stderr[i..].trim().to_string(),
        None => format!("cargo failed without a compiler error: {}", stderr.trim()),
    }
}

/// The cargo to run: the one that runs us, if any.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Builds every test target of the harness in `workspace`, into `target_dir`, giving up
/// after `deadline`.
pub fn build(workspace: &Path, target_dir: &Path, deadline: Duration) -> std::io::Result<Built> {
    let started = Instant::now();
    let mut child = Command::new(cargo())
        .args(["build", "--tests", "--keep-going", "--message-format=json"])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", HARNESS_PACKAGE])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let messages = std::thread::spawn(move || read_messages(stdout));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr)
            .take(1 << 20)
            .read_to_string(&mut text);
        text
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= deadline {
            // SAFETY: killpg with cargo's own process group (made above) and SIGKILL.
            unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut built = messages.join().unwrap_or_default();
    let stderr = errors.join().unwrap_or_default();
    let tail_start = stderr.len().saturating_sub(4000);
    let tail_start = (tail_start..stderr.len())
        .find(|&i| stderr.is_char_boundary(i))
        .unwrap_or(stderr.len());
    built.stderr_tail = stderr[tail_start..].to_string();
    built.success = status.is_some_and(|s| s.success());
    built.timed_out = timed_out;
    built.elapsed = started.elapsed();
    Ok(built)
}

/// Reads cargo's JSON messages: artifacts and the first error of each target.
fn read_messages(stdout: impl Read) -> Built {
    let mut built = Built::default();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let in_harness = message["package_id"]
            .as_str()
            .is_some_and(|id| id.contains(HARNESS_PACKAGE));
        let target = message["target"]["name"].as_str().unwrap_or("").to_string();
        match message["reason"].as_str() {
            Some("compiler-artifact") => {
                if let (true, Some(exe)) = (in_harness, message["executable"].as_str()) {
                    built.executables.insert(target, PathBuf::from(exe));
                }
            }
            Some("compiler-message") if message["message"]["level"] == "error" => {
                let rendered = message["message"]["rendered"]
                    .as_str()
                    .unwrap_or("")
                    .trim_end()
                    .to_string();
                if in_harness {
                    built.target_errors.entry(target).or_insert(rendered);
                } else if built.submission_error.is_none() {
                    built.submission_error = Some(rendered);
                }
            }
            _ => {}
        }
    }
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_attributed_to_the_harness_target_or_the_submission() {
        let lines = [
            r#"{"reason":"compiler-message","package_id":"path+file:///s/harness#racecourse-grade-harness@0.0.0","target":{"name":"counter"},"message":{"level":"error","rendered":"error[E0432]: unresolved import `submission::counter::on_std::Lockd`\n"}}"#,
            r#"{"reason":"compiler-message","package_id":"path+file:///s/harness#racecourse-grade-harness@0.0.0","target":{"name":"counter"},"message":{"level":"error","rendered":"error: a second one"}}"#,
            r#"{"reason":"compiler-message","package_id":"path+file:///s/submission#alice@0.1.0","target":{"name":"alice"},"message":{"level":"warning","rendered":"warning: unused"}}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///s/harness#racecourse-grade-harness@0.0.0","target":{"name":"shared_list"},"executable":"/t/shared_list-123"}"#,
            "not json",
        ];
        let built = read_messages(lines.join("\n").as_bytes());
        assert_eq!(
            built.executables["shared_list"],
            PathBuf::from("/t/shared_list-123")
        );
        assert!(built.target_errors["counter"].contains("Lockd"));
        assert_eq!(built.submission_error, None);
        let broken = read_messages(
            r#"{"reason":"compiler-message","package_id":"path+file:///s/submission#alice@0.1.0","target":{"name":"alice"},"message":{"level":"error","rendered":"error: expected `;`"}}"#
                .as_bytes(),
        );
        assert_eq!(
            broken.submission_error.as_deref(),
            Some("error: expected `;`")
        );
        assert_eq!(broken.fatal_error().as_deref(), Some("error: expected `;`"));
    }
}
