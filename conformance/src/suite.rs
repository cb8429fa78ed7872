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

/// Generates the E4 tests for one or more implementations.
///
/// One line per implementation: a name, the module made by
/// [`racecourse_spec::runtimes!`], and the list and program types in it. The tests are
/// named `shared_list::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::shared_list! {
///     mine => my_crate::shared_list { list: Stack, program: Program },
/// }
/// ```
///
/// `runtimes: [loom]` before the list restricts the runtimes (racecourse's own tests
/// keep loom and shuttle in separate binaries); `not_attempted` generates one ignored
/// test saying so.
#[macro_export]
macro_rules! shared_list {
    (not_attempted) => {
        mod shared_list {
            #[test]
            #[ignore = "shared_list not attempted"]
            fn not_attempted() {}
        }
    };
    (runtimes: [$($rt:ident),*], $($impls:tt)+) => {
        #[allow(non_snake_case)]
        mod shared_list {
            $crate::shared_list!(@property linearizable [$($rt)*] [$($impls)+]);
            $crate::shared_list!(@property no_lost_items [$($rt)*] [$($impls)+]);
            $crate::shared_list!(@property no_phantom_items [$($rt)*] [$($impls)+]);
            $crate::shared_list!(@property concurrent_program [$($rt)*] [$($impls)+]);
            $crate::shared_list!(@property census [$($rt)*] [$($impls)+]);
        }
    };
    (@property $p:ident [$($rt:ident)*] $impls:tt) => {
        mod $p {
            $( $crate::shared_list!(@cell $p $rt $impls); )*
        }
    };
    (@cell concurrent_program std $impls:tt) => {};
    (@cell census std $impls:tt) => {};
    (@cell census shuttle $impls:tt) => {};
    (@cell $p:ident $rt:ident [$($name:ident => $($seg:ident)::+ { list: $list:ident, program: $prog:ident }),+ $(,)?]) => {
        mod $rt {
            $(
                #[test]
                fn $name() {
                    $crate::shared_list!(@run $p $rt $($seg)::+, $list, $prog, $name);
                }
            )+
        }
    };
    (@run $p:ident std $($seg:ident)::+, $list:ident, $prog:ident, $name:ident) => {
        $crate::__conclude!(shared_list $p std $($seg)::+::$list, $name,
            $crate::shared_list::check_std::<$($seg)::+::on_std::$list, $($seg)::+::on_std::$prog>($crate::shared_list::property::$p))
    };
    (@run $p:ident shuttle $($seg:ident)::+, $list:ident, $prog:ident, $name:ident) => {
        $crate::__conclude!(shared_list $p shuttle $($seg)::+::$list, $name,
            $crate::shared_list::check_shuttle::<$($seg)::+::on_shuttle::$list, $($seg)::+::on_shuttle::$prog>($crate::shared_list::property::$p))
    };
    (@run $p:ident loom $($seg:ident)::+, $list:ident, $prog:ident, $name:ident) => {
        $crate::__conclude!(shared_list $p loom $($seg)::+::$list, $name,
            $crate::shared_list::check_loom::<$($seg)::+::on_loom::$list, $($seg)::+::on_loom::$prog>($crate::shared_list::property::$p))
    };
    ($($impls:tt)+) => {
        $crate::shared_list!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}

/// Runs one generated test's check isolated in a child process and fails the test with
/// a full report if it found something.
#[doc(hidden)]
#[macro_export]
macro_rules! __conclude {
    ($exercise:ident $p:ident $rt:ident $($ty:ident)::+, $name:ident, $result:expr) => {
        let context = $crate::suite::context(
            $crate::$exercise::EXERCISE,
            stringify!($p),
            stringify!($($ty)::+),
            stringify!($rt),
            concat!(module_path!(), "::", stringify!($name)),
            env!("CARGO_PKG_NAME"),
        );
        let result = $crate::isolate::cell(&context.test, "test", || $result);
        $crate::suite::conclude(context, result)
    };
}

/// Generates the E5 counter tests for one or more implementations, named
/// `counter::<property>::<runtime>::<name>`:
///
/// ```ignore
/// racecourse::counter! {
///     mine => my_crate::counter { counter: Locked },
/// }
/// ```
///
/// `runtimes: [..]` and `not_attempted` work as in [`shared_list!`](crate::shared_list!).
#[macro_export]
macro_rules! counter {
    (not_attempted) => {
        mod counter {
            #[test]
            #[ignore = "counter not attempted"]
            fn not_attempted() {}
        }
    };
    (runtimes: [$($rt:ident),*], $($impls:tt)+) => {
        mod counter {
            $crate::counter!(@property seven_threads [$($rt)*] [$($impls)+]);
            $crate::counter!(@property no_lost_update [$($rt)*] [$($impls)+]);
            $crate::counter!(@property mutual_exclusion [$($rt)*] [$($impls)+]);
        }
    };
    (@property $p:ident [$($rt:ident)*] $impls:tt) => {
        mod $p {
            $( $crate::counter!(@cell $p $rt $impls); )*
        }
    };
    (@cell seven_threads loom $impls:tt) => {};
    (@cell $p:ident $rt:ident [$($name:ident => $($seg:ident)::+ { counter: $ty:ident }),+ $(,)?]) => {
        mod $rt {
            $(
                #[test]
                fn $name() {
                    $crate::counter!(@run $p $rt $($seg)::+, $ty, $name);
                }
            )+
        }
    };
    (@run $p:ident std $($seg:ident)::+, $ty:ident, $name:ident) => {
        $crate::__conclude!(counter $p std $($seg)::+::$ty, $name,
            $crate::counter::check_std::<$($seg)::+::on_std::$ty>($crate::counter::property::$p))
    };
    (@run $p:ident shuttle $($seg:ident)::+, $ty:ident, $name:ident) => {
        $crate::__conclude!(counter $p shuttle $($seg)::+::$ty, $name,
            $crate::counter::check_shuttle::<$($seg)::+::on_shuttle::$ty>($crate::counter::property::$p))
    };
    (@run $p:ident loom $($seg:ident)::+, $ty:ident, $name:ident) => {
        $crate::__conclude!(counter $p loom $($seg)::+::$ty, $name,
            $crate::counter::check_loom::<$($seg)::+::on_loom::$ty>($crate::counter::property::$p))
    };
    ($($impls:tt)+) => {
        $crate::counter!(runtimes: [std, shuttle, loom], $($impls)+);
    };
}
