//! How an exercise declares its properties, once, and how tests are generated from
//! that declaration.
//!
//! An exercise module invokes [`properties!`] with a table: each property's doc, enum
//! variant, name and the runtimes that check it. From that one table come the
//! `Property` enum (with `ALL`, `name`, `named`, `runtimes`), the registry's
//! [`PropertyInfo`] list, and an exported macro (`__<exercise>_table!`) through which
//! the exercise's test macro stamps out one test per property, runtime and
//! implementation with [`__suite!`](crate::__suite). Nothing else lists properties.

use crate::runner::Runtime;

/// A property as the registry, the README table and the grade report see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropertyInfo {
    /// The name used in test names, e.g. `linearizable`.
    pub name: &'static str,
    /// The runtimes that check it.
    pub runtimes: &'static [Runtime],
    /// What it means: the property's doc comment.
    pub doc: &'static str,
    /// A review, not a check: it compares the implementation's output with the
    /// reference's and reports the difference, but never fails for one (a correct
    /// implementation may differ). Reviews carry no points and no mutant rejects them.
    pub review: bool,
}

impl PropertyInfo {
    /// The doc comment as one line.
    pub fn meaning(&self) -> String {
        self.doc.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The runtime named by a lower-case identifier in a property table.
macro_rules! runtime {
    (std) => {
        $crate::runner::Runtime::Std
    };
    (shuttle) => {
        $crate::runner::Runtime::Shuttle
    };
    (loom) => {
        $crate::runner::Runtime::Loom
    };
    (process) => {
        $crate::runner::Runtime::Process
    };
}

/// Whether a property table row carries the `review` marker.
macro_rules! review {
    () => {
        false
    };
    (review) => {
        true
    };
}

/// Declares an exercise's properties (see the module docs). A row that ends with
/// `review` declares a review (see [`PropertyInfo::review`]).
///
/// ```ignore
/// properties! { $ __shared_list_table;
///     /// Histories are linearizable against the declared order.
///     Linearizable => linearizable [std shuttle loom],
/// }
/// ```
///
/// The leading `$` is passed through to the generated table macro (macro_rules has no
/// other way to write `$` inside a macro that defines a macro).
macro_rules! properties {
    ($d:tt $table:ident;
     $($(#[doc = $doc:literal])+ $variant:ident => $name:ident [$($rt:ident)+] $($review:ident)?),+ $(,)?) => {
        /// A property of this exercise's contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Property {
            $( $(#[doc = $doc])+ $variant, )+
        }

        /// The properties, by the names used in test names.
        pub mod property {
            #![allow(non_upper_case_globals)]
            $( $(#[doc = $doc])+ pub const $name: super::Property = super::Property::$variant; )+
        }

        impl Property {
            /// Every property, in report order.
            pub const ALL: [Property; [$(stringify!($variant)),+].len()] = [$(Property::$variant),+];

            /// Every property as the registry sees it, in report order.
            pub const INFO: [$crate::property::PropertyInfo; [$(stringify!($variant)),+].len()] = [$(
                $crate::property::PropertyInfo {
                    name: stringify!($name),
                    runtimes: &[$(runtime!($rt)),+],
                    doc: concat!($($doc, "\n"),+),
                    review: review!($($review)?),
                }
            ),+];

            /// The property's name, as in test names.
            pub fn name(self) -> &'static str {
                match self {
                    $( Property::$variant => stringify!($name), )+
                }
            }

            /// The runtimes that check this property.
            pub fn runtimes(self) -> &'static [$crate::runner::Runtime] {
                match self {
                    $( Property::$variant => &[$(runtime!($rt)),+], )+
                }
            }

            /// The property with this name.
            ///
            /// # Panics
            /// If there is none: names come from this exercise's own tables.
            pub fn named(name: &str) -> Property {
                Property::ALL
                    .into_iter()
                    .find(|p| p.name() == name)
                    .unwrap_or_else(|| panic!("{}: no property named {name}", NAME))
            }
        }

        /// The names of the properties checked on `runtime` (reviews included).
        pub fn properties_on(runtime: $crate::runner::Runtime) -> Vec<&'static str> {
            Property::ALL
                .into_iter()
                .filter(|p| p.runtimes().contains(&runtime))
                .map(Property::name)
                .collect()
        }

        #[doc(hidden)]
        #[macro_export]
        macro_rules! $table {
            ($d($d args:tt)*) => {
                $crate::__suite! { $d($d args)* [$( $name [$($rt)+] )+] }
            };
        }
    };
}

/// Stamps out the tests of one exercise: a module per property, in it a module per
/// runtime that checks the property (and that the caller wants), in it a test per
/// implementation. Called through an exercise's table macro, which appends the
/// property table:
///
/// ```text
/// __suite! { exercise [wanted runtimes] [name [module path] [slot types], ..] [property [runtimes] ..] }
/// ```
///
/// Thread runtimes call `$exercise::check_<runtime>::<slot types>(property)` with the
/// slot types of the runtime's module (`on_std`, `on_shuttle`, `on_loom`, made by
/// `runtimes!`); the process runtime registers a worker per implementation with
/// `$exercise::__register_worker!` and calls `$exercise::check(&worker, property)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite {
    (@if_wanted $rt:ident [] $body:tt) => {};
    (@if_wanted std [std $($rest:ident)*] { $($body:tt)* }) => { $($body)* };
    (@if_wanted shuttle [shuttle $($rest:ident)*] { $($body:tt)* }) => { $($body)* };
    (@if_wanted loom [loom $($rest:ident)*] { $($body:tt)* }) => { $($body)* };
    (@if_wanted process [process $($rest:ident)*] { $($body:tt)* }) => { $($body)* };
    (@if_wanted $rt:ident [$other:ident $($rest:ident)*] $body:tt) => {
        $crate::__suite!(@if_wanted $rt [$($rest)*] $body);
    };
    (@call $exercise:ident std $p:ident [$($ty:ident)+]) => {
        $crate::$exercise::check_std::<$(submitted::on_std::$ty),+>($crate::$exercise::property::$p)
    };
    (@call $exercise:ident shuttle $p:ident [$($ty:ident)+]) => {
        $crate::$exercise::check_shuttle::<$(submitted::on_shuttle::$ty),+>($crate::$exercise::property::$p)
    };
    (@call $exercise:ident loom $p:ident [$($ty:ident)+]) => {
        $crate::$exercise::check_loom::<$(submitted::on_loom::$ty),+>($crate::$exercise::property::$p)
    };
    (@cell $exercise:ident $p:ident process [$($name:ident [$($seg:ident)::+] [$($ty:ident)+]),+]) => {
        mod process {
            mod workers {
                $(
                    #[allow(non_snake_case)]
                    pub(crate) mod $name {
                        #[allow(unused_imports)]
                        use $($seg)::+ as submitted;
                        $crate::$exercise::__register_worker!(pub(crate) static WORKER: $(submitted::$ty),+);
                    }
                )+
            }
            $(
                #[test]
                fn $name() {
                    $crate::__conclude!($exercise $p process [$($seg)::+] [$($ty)+], $name,
                        $crate::$exercise::check(&workers::$name::WORKER, $crate::$exercise::property::$p));
                }
            )+
        }
    };
    (@cell $exercise:ident $p:ident $rt:ident [$($name:ident [$($seg:ident)::+] [$($ty:ident)+]),+]) => {
        mod $rt {
            $(
                #[test]
                fn $name() {
                    #[allow(unused_imports)]
                    use $($seg)::+ as submitted;
                    $crate::__conclude!($exercise $p $rt [$($seg)::+] [$($ty)+], $name,
                        $crate::__suite!(@call $exercise $rt $p [$($ty)+]));
                }
            )+
        }
    };
    ($exercise:ident $wanted:tt $impls:tt [$($p:ident [$($rt:ident)+])+]) => {
        // Generated code: a student's lints have nothing to say about it.
        #[allow(non_snake_case, clippy::all)]
        mod $exercise {
            $(
                mod $p {
                    $(
                        $crate::__suite!(@if_wanted $rt $wanted {
                            $crate::__suite!(@cell $exercise $p $rt $impls);
                        });
                    )+
                }
            )+
        }
    };
}

/// The one ignored test of an exercise a submission did not attempt.
#[doc(hidden)]
#[macro_export]
macro_rules! __not_attempted {
    ($exercise:ident) => {
        mod $exercise {
            #[test]
            #[ignore = concat!(stringify!($exercise), " not attempted")]
            fn not_attempted() {}
        }
    };
}

/// Runs one generated test's check isolated in a child process and fails the test with
/// a full report if it found something.
#[doc(hidden)]
#[macro_export]
macro_rules! __conclude {
    ($exercise:ident $p:ident $rt:ident [$($seg:ident)::+] [$first:ident $($rest:ident)*], $name:ident, $result:expr) => {
        let context = $crate::suite::context(
            $crate::$exercise::NAME,
            stringify!($p),
            stringify!($($seg)::+::$first),
            stringify!($rt),
            concat!(module_path!(), "::", stringify!($name)),
            env!("CARGO_PKG_NAME"),
        );
        let started = ::std::time::Instant::now();
        let result = $crate::isolate::cell(&context.test, "test", || $result);
        $crate::suite::conclude(context, started, result)
    };
}
