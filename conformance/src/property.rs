//! How an exercise declares its properties, once.

/// Declares an exercise's `Property` enum, its `ALL` list in report order, `name()`
/// (the name used in test names), `named()` (the reverse), and the module `property`
/// of lower-case constants through which the test macros name each property.
///
/// ```ignore
/// properties! {
///     /// Histories are linearizable against the declared order.
///     Linearizable => linearizable,
/// }
/// ```
macro_rules! properties {
    ($($(#[doc = $doc:literal])+ $variant:ident => $name:ident),+ $(,)?) => {
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

            /// The property's name, as in test names.
            pub fn name(self) -> &'static str {
                match self {
                    $( Property::$variant => stringify!($name), )+
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
                    .unwrap_or_else(|| panic!("{}: no property named {name}", EXERCISE))
            }
        }
    };
}
