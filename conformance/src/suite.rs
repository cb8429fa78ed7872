//! What the generated tests call: turn a finding into a report and fail the test.

use crate::report::{Context, Failure};
use crate::runner::Found;

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

/// Fails the calling test with a full report when `result` holds a finding.
#[doc(hidden)]
#[track_caller]
pub fn conclude(context: Context, result: Result<(), (Found, String)>) {
    if let Err((found, scenario)) = result {
        let failure = Failure {
            context,
            violation: found.violation,
            scenario,
            schedule: found.schedule,
            replay_env: found.replay_env,
        };
        panic!("\n{failure}\n");
    }
}
