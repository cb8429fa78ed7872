//! What a submission declares: its package, and which exercises it implements under
//! which type paths, read from `[package.metadata.racecourse]` in its `Cargo.toml`.
//!
//! ```toml
//! [package.metadata.racecourse]
//! shared_list = { list = "shared_list::Stack", program = "shared_list::Program" }
//! counter = "counter::Locked"        # an exercise with one slot may name the type alone
//! ```
//!
//! Each key is an exercise of the registry; each slot of the exercise names a type, by
//! its path from the crate root. For thread exercises the path names the type *inside*
//! the module that invokes `racecourse_spec::runtimes!` (the grader adds `on_std`,
//! `on_shuttle`, `on_loom`); for process exercises it names the type itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::registry::{self, Exercise, EXERCISES};

/// A submission's manifest, as far as grading needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The package name.
    pub package: String,
    /// The declared exercises, by name: slot name -> type path, in slot order.
    pub exercises: BTreeMap<String, Vec<(String, TypePath)>>,
}

/// A type's path from the crate root: the module segments and the type's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypePath {
    /// Module segments (empty for a type at the crate root).
    pub module: Vec<String>,
    /// The type's name.
    pub name: String,
}

impl fmt::Display for TypePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.module {
            write!(f, "{m}::")?;
        }
        f.write_str(&self.name)
    }
}

impl TypePath {
    /// Parses `module::Type` (identifiers separated by `::`, no generics).
    pub fn parse(text: &str) -> Result<TypePath, String> {
        let text = text.trim();
        let text = text.strip_prefix("crate::").unwrap_or(text);
        let segments: Vec<&str> = text.split("::").collect();
        for s in &segments {
            if !is_identifier(s) {
                return Err(format!(
                    "`{text}` is not a type path: write it from the crate root, like `counter::Locked`"
                ));
            }
        }
        let (name, module) = segments
            .split_last()
            .expect("split yields one segment at least");
        Ok(TypePath {
            module: module.iter().map(|s| s.to_string()).collect(),
            name: name.to_string(),
        })
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !matches!(s, "self" | "super" | "crate" | "Self")
}

/// Why a manifest cannot be graded. The message says what is wrong and what to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An example declaration of every exercise, for messages.
pub fn example() -> String {
    let mut out = String::from("[package.metadata.racecourse]\n");
    for e in EXERCISES {
        let slots: Vec<String> = e
            .slots
            .iter()
            .map(|s| format!("{} = \"{}::MyType\"", s.name, e.name))
            .collect();
        out.push_str(&format!("{} = {{ {} }}\n", e.name, slots.join(", ")));
    }
    out
}

/// Reads `dir/Cargo.toml`.
pub fn read(dir: &Path) -> Result<Declaration, Invalid> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Invalid(format!(
            "cannot read {}: {e}: a submission is a directory holding a Cargo package",
            path.display()
        ))
    })?;
    parse(&text)
}

/// Parses a manifest's text.
pub fn parse(manifest: &str) -> Result<Declaration, Invalid> {
    let table: toml::Table = toml::from_str(manifest)
        .map_err(|e| Invalid(format!("Cargo.toml is not valid TOML: {e}")))?;
    let package = table
        .get("package")
        .and_then(|p| p.as_table())
        .ok_or_else(|| {
            Invalid(
                "Cargo.toml has no [package]: a submission is a Cargo package, not a workspace"
                    .into(),
            )
        })?;
    let name = package
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| Invalid("[package] has no name".into()))?
        .to_string();
    let Some(declared) = package.get("metadata").and_then(|m| m.get("racecourse")) else {
        return Err(Invalid(format!(
            "Cargo.toml declares no exercise: add a [package.metadata.racecourse] table naming \
             the type of each exercise you implement, for example:\n\n{}",
            example()
        )));
    };
    let declared = declared.as_table().ok_or_else(|| {
        Invalid("[package.metadata.racecourse] must be a table of exercises".into())
    })?;
    let mut exercises = BTreeMap::new();
    for (key, value) in declared {
        let exercise = registry::exercise(key).ok_or_else(|| {
            Invalid(format!(
                "unknown exercise `{key}` in [package.metadata.racecourse]: racecourse knows {}",
                registry::names().join(", ")
            ))
        })?;
        exercises.insert(key.clone(), slots(exercise, value)?);
    }
    Ok(Declaration {
        package: name,
        exercises,
    })
}

/// The slots of one declared exercise, in the exercise's slot order.
fn slots(exercise: &Exercise, value: &toml::Value) -> Result<Vec<(String, TypePath)>, Invalid> {
    let name = exercise.name;
    let expected = || {
        let slots: Vec<String> = exercise
            .slots
            .iter()
            .map(|s| format!("{} (a type implementing {})", s.name, s.bound))
            .collect();
        format!("`{name}` needs {}", slots.join(" and "))
    };
    let given: BTreeMap<String, String> = match value {
        toml::Value::String(path) if exercise.slots.len() == 1 => {
            BTreeMap::from([(exercise.slots[0].name.to_string(), path.clone())])
        }
        toml::Value::Table(table) => table
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| {
                        Invalid(format!(
                            "`{name}.{k}` must be a type path in quotes, like \"{name}::MyType\""
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(Invalid(format!(
                "`{name}` must be a table of slots: {}, e.g. {name} = {{ {} }}",
                expected(),
                exercise
                    .slots
                    .iter()
                    .map(|s| format!("{} = \"{name}::MyType\"", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    if let Some(extra) = given
        .keys()
        .find(|k| !exercise.slots.iter().any(|s| s.name == k.as_str()))
    {
        return Err(Invalid(format!(
            "`{name}` has no slot `{extra}`: {}",
            expected()
        )));
    }
    exercise
        .slots
        .iter()
        .map(|slot| {
            let path = given.get(slot.name).ok_or_else(|| {
                Invalid(format!(
                    "`{name}` does not name its `{}`: {}",
                    slot.name,
                    expected()
                ))
            })?;
            let path = TypePath::parse(path)
                .map_err(|e| Invalid(format!("`{name}.{}`: {e}", slot.name)))?;
            Ok((slot.name.to_string(), path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(metadata: &str) -> String {
        format!("[package]\nname = \"alice\"\nversion = \"0.1.0\"\n\n{metadata}")
    }

    #[test]
    fn a_full_declaration_is_read_in_slot_order() {
        let d = parse(&manifest(
            "[package.metadata.racecourse]\n\
             shared_list = { program = \"lists::Program\", list = \"lists::Stack\" }\n\
             counter = \"Locked\"\n",
        ))
        .unwrap();
        assert_eq!(d.package, "alice");
        let list = &d.exercises["shared_list"];
        assert_eq!(list[0].0, "list");
        assert_eq!(list[0].1.to_string(), "lists::Stack");
        assert_eq!(list[1].1.module, vec!["lists".to_string()]);
        assert!(d.exercises["counter"][0].1.module.is_empty());
    }

    #[test]
    fn bad_declarations_say_what_to_write() {
        let cases = [
            ("", "declares no exercise"),
            ("[package.metadata.racecourse]\ncountr = \"x::Y\"\n", "unknown exercise `countr`"),
            ("[package.metadata.racecourse]\nshared_list = { list = \"a::B\" }\n", "does not name its `program`"),
            ("[package.metadata.racecourse]\ncounter = { counter = \"a::B\", lock = \"c::D\" }\n", "has no slot `lock`"),
            ("[package.metadata.racecourse]\ncounter = \"a::B<u32>\"\n", "is not a type path"),
            ("[package.metadata.racecourse]\ncounter = 3\n", "must be a table of slots"),
            ("[package.metadata.racecourse]\nshared_list = \"a::B\"\n", "must be a table of slots"),
        ];
        for (metadata, expected) in cases {
            let e = parse(&manifest(metadata)).unwrap_err();
            assert!(e.0.contains(expected), "{metadata:?}: {e}");
        }
        let e = parse("[workspace]\nmembers = []\n").unwrap_err();
        assert!(e.0.contains("no [package]"), "{e}");
        let e = parse("[package\n").unwrap_err();
        assert!(e.0.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn the_example_declaration_parses() {
        let d = parse(&manifest(&example())).unwrap();
        assert_eq!(d.exercises.len(), EXERCISES.len());
    }
}
