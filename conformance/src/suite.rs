//! What the generated tests call: turn a finding into a report and fail the test, and
//! leave a structured verdict for `racecourse grade`.

use std::path::Path;
use std::time::Instant;

use crate::report::{Context, Failure, Record, Status};
use crate::runner::Found;

/// Names a directory where every generated test writes its verdict
/// ([`Record`]) as `<test name>.json`; `racecourse grade` sets it.
pub const VERDICTS_ENV: &str = "RACECOURSE_VERDICTS";

/// Builds the context of a generated test. `path` is `module_path!()::name` at the
/// test; libtest names the test without the crate's own name.
#[doc(hidden)]
pub fn context(
    exercise: &'static str,
    property: &'static str,
    implementation: &str,
    runtime: &'static str,
    path: &str,
    package: &str,
) -> Context {
    let (target, test) = path.split_once("::").unwrap_or(("", path));
    Context {
        exercise,
        property,
        implementation: implementation.split_whitespace().collect(),
        runtime,
        test: test.to_string(),
        package: package.to_string(),
        target: target.to_string(),
    }
}

/// Records the verdict (see [`VERDICTS_ENV`]) and fails the calling test with a full
/// report when `result` holds a finding.
#[doc(hidden)]
#[track_caller]
pub fn conclude(context: Context, started: Instant, result: Result<(), (Found, String)>) {
    // A review's difference is a report, not a failure.
    let (result, review) = match result {
        Err((found, _)) if found.violation.kind == crate::report::Kind::Review => {
            println!(
                "{}::{} differs from the reference ({}):\n{}",
                context.exercise, context.property, found.violation.expected, found.violation.seen
            );
            (Ok(()), Some(found.violation.seen))
        }
        other => (other, None),
    };
    let failure = result.err().map(|(found, scenario)| Failure {
        context: context.clone(),
        violation: found.violation,
        scenario,
        schedule: found.schedule,
        replay_env: found.replay_env,
    });
    let record = Record {
        exercise: context.exercise.to_string(),
        property: context.property.to_string(),
        runtime: context.runtime.to_string(),
        implementation: context.implementation.clone(),
        test: context.test.clone(),
        status: failure
            .as_ref()
            .map_or(Status::Pass, |f| Record::status_of(f.violation.kind)),
        failure: failure.as_ref().map(Failure::record),
        seconds: started.elapsed().as_secs_f64(),
        review,
    };
    if let Some(dir) = std::env::var_os(VERDICTS_ENV) {
        if let Err(e) = write_record(Path::new(&dir), &record) {
            eprintln!(
                "racecourse: cannot write the verdict of {}: {e}",
                record.test
            );
        }
    }
    if let Some(failure) = failure {
        panic!("\n{failure}\n");
    }
}

/// The file a test's verdict goes to in `dir`.
pub fn record_path(dir: &Path, test: &str) -> std::path::PathBuf {
    dir.join(format!("{}.json", test.replace("::", ".")))
}

/// Writes `record` into `dir` atomically (a reader never sees half a file).
fn write_record(dir: &Path, record: &Record) -> std::io::Result<()> {
    let path = record_path(dir, &record.test);
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(record)?)?;
    std::fs::rename(partial, path)
}
