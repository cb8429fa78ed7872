//! Points: a rubric kept with the course, or the default one.
//!
//! ```toml
//! # rubric.toml
//! [shared_list]
//! points = 20                 # the exercise's total (default 10)
//! [shared_list.properties]
//! linearizable = 8            # optional: a property's share; the rest of the total
//!                             # is split evenly among the properties not named
//! [shm_counter]
//! points = 0                  # not graded in this course
//! ```
//!
//! A property earns its points only if its test passes on every runtime that checks it.
//! Reviews (which compare with the reference and judge nothing) get points only if the
//! rubric names them.
//! Exercises the rubric does not name get the default: 10 points, split evenly. The
//! defaults come from the registry, so a new exercise is graded without a rubric edit.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::registry::{self, EXERCISES};

/// Points per exercise when the rubric says nothing.
pub const DEFAULT_POINTS: f64 = 10.0;

/// Points for every property of every exercise.
#[derive(Clone, Debug, PartialEq)]
pub struct Rubric {
    /// exercise -> property -> points, for every exercise and property of the registry.
    points: BTreeMap<&'static str, BTreeMap<&'static str, f64>>,
}

/// A rubric that cannot be used; the message says what is wrong and what to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RubricError(pub String);

impl fmt::Display for RubricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Rubric {
    fn default() -> Self {
        Rubric::parse("").expect("the empty rubric is valid")
    }
}

impl Rubric {
    /// Reads a rubric file.
    pub fn read(path: &Path) -> Result<Rubric, RubricError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RubricError(format!("cannot read the rubric {}: {e}", path.display())))?;
        Rubric::parse(&text).map_err(|e| RubricError(format!("{}: {e}", path.display())))
    }

    /// Parses a rubric's text (see the module docs).
    pub fn parse(text: &str) -> Result<Rubric, RubricError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| RubricError(format!("not valid TOML: {e}")))?;
        for key in table.keys() {
            if registry::exercise(key).is_none() {
                return Err(RubricError(format!(
                    "unknown exercise `{key}`: racecourse knows {}",
                    registry::names().join(", ")
                )));
            }
        }
        let mut points = BTreeMap::new();
        for exercise in EXERCISES {
            let entry = table.get(exercise.name);
            let section = match entry {
                None => None,
                Some(toml::Value::Table(t)) => Some(t),
                Some(_) => {
                    return Err(RubricError(format!(
                        "`{}` must be a table, like [{}] points = 10",
                        exercise.name, exercise.name
                    )))
                }
            };
            if let Some(bad) =
                section.and_then(|s| s.keys().find(|k| *k != "points" && *k != "properties"))
            {
                return Err(RubricError(format!(
                    "[{}] has an unknown key `{bad}`: use `points` and `properties`",
                    exercise.name
                )));
            }
            let total = match section.and_then(|s| s.get("points")) {
                None => DEFAULT_POINTS,
                Some(v) => number(v).ok_or_else(|| {
                    RubricError(format!("[{}] points must be a number >= 0", exercise.name))
                })?,
            };
            let named = match section.and_then(|s| s.get("properties")) {
                None => BTreeMap::new(),
                Some(toml::Value::Table(t)) => t.clone().into_iter().collect(),
                Some(_) => {
                    return Err(RubricError(format!(
                        "[{}.properties] must be a table of property = points",
                        exercise.name
                    )))
                }
            };
            let mut shares = BTreeMap::new();
            let mut assigned = 0.0;
            for (property, value) in &named {
                let info = exercise
                    .properties
                    .iter()
                    .find(|p| p.name == property.as_str())
                    .ok_or_else(|| {
                        RubricError(format!(
                            "`{}` has no property `{property}`: its properties are {}",
                            exercise.name,
                            exercise
                                .properties
                                .iter()
                                .map(|p| p.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                let p = number(value).ok_or_else(|| {
                    RubricError(format!(
                        "[{}.properties] {property} must be a number >= 0",
                        exercise.name
                    ))
                })?;
                assigned += p;
                shares.insert(info.name, p);
            }
            if assigned > total + 1e-3 {
                return Err(RubricError(format!(
                    "[{}] gives its properties {assigned} points but the exercise only {total}: \
                     raise `points` or lower the properties'",
                    exercise.name
                )));
            }
            // Reviews judge nothing: they get points only if the rubric names them.
            let rest: Vec<&'static str> = exercise
                .properties
                .iter()
                .filter(|p| !p.review)
                .map(|p| p.name)
                .filter(|p| !shares.contains_key(p))
                .collect();
            if rest.is_empty() && (total - assigned).abs() > 1e-3 {
                return Err(RubricError(format!(
                    "[{}] names every property with {assigned} points in all, not its {total}",
                    exercise.name
                )));
            }
            for p in &rest {
                shares.insert(p, (total - assigned) / rest.len() as f64);
            }
            for p in exercise.properties {
                shares.entry(p.name).or_insert(0.0);
            }
            points.insert(exercise.name, shares);
        }
        Ok(Rubric { points })
    }

    /// The points of `property` of `exercise` (0 for a name the registry lacks).
    pub fn points(&self, exercise: &str, property: &str) -> f64 {
        self.points
            .get(exercise)
            .and_then(|p| p.get(property))
            .copied()
            .unwrap_or(0.0)
    }

    /// The points of `exercise` in all.
    pub fn exercise_points(&self, exercise: &str) -> f64 {
        self.points.get(exercise).map_or(0.0, |p| p.values().sum())
    }

    /// The rubric in its own format, every property spelled out (what
    /// `racecourse rubric` prints: a starting point for a course's file).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for exercise in EXERCISES {
            out.push_str(&format!(
                "[{}]\npoints = {}\n[{}.properties]\n",
                exercise.name,
                number_text(self.exercise_points(exercise.name)),
                exercise.name
            ));
            for p in exercise.properties {
                out.push_str(&format!(
                    "{} = {}\n",
                    p.name,
                    number_text(self.points(exercise.name, p.name))
                ));
            }
            out.push('\n');
        }
        out
    }
}

fn number(v: &toml::Value) -> Option<f64> {
    let n = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => return None,
    };
    (n >= 0.0 && n.is_finite()).then_some(n)
}

/// A number without trailing zeros, at most 4 decimals.
fn number_text(n: f64) -> String {
    let s = format!("{n:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_splits_ten_points_evenly() {
        let r = Rubric::default();
        for e in EXERCISES {
            assert!((r.exercise_points(e.name) - DEFAULT_POINTS).abs() < 1e-9);
            let checks = e.properties.iter().filter(|p| !p.review).count();
            let each = DEFAULT_POINTS / checks as f64;
            for p in e.properties {
                let expected = if p.review { 0.0 } else { each };
                assert!(
                    (r.points(e.name, p.name) - expected).abs() < 1e-9,
                    "{}::{}",
                    e.name,
                    p.name
                );
            }
        }
    }

    #[test]
    fn named_properties_take_their_share_and_the_rest_is_split() {
        let r = Rubric::parse(
            "[shared_list]\npoints = 20\n[shared_list.properties]\nlinearizable = 8\n[counter]\npoints = 0\n",
        )
        .unwrap();
        assert_eq!(r.points("shared_list", "linearizable"), 8.0);
        assert_eq!(r.points("shared_list", "census"), 3.0);
        assert_eq!(r.points("shared_list", "transcript_review"), 0.0);
        assert_eq!(r.exercise_points("shared_list"), 20.0);
        assert_eq!(r.exercise_points("counter"), 0.0);
    }

    #[test]
    fn a_bad_rubric_says_what_to_fix() {
        for (text, expected) in [
            ("[countr]\npoints = 1\n", "unknown exercise `countr`"),
            ("[counter]\npoints = -1\n", "must be a number >= 0"),
            ("[counter]\npoint = 1\n", "unknown key `point`"),
            (
                "[counter]\npoints = 1\n[counter.properties]\nspeed = 1\n",
                "no property `speed`",
            ),
            (
                "[counter]\npoints = 1\n[counter.properties]\nseven_threads = 2\n",
                "only 1",
            ),
            ("counter = 3\n", "must be a table"),
        ] {
            let e = Rubric::parse(text).unwrap_err();
            assert!(e.0.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_rendered_rubric_reads_back_the_same() {
        let r = Rubric::parse("[counter]\npoints = 9\n[counter.properties]\nseven_threads = 1\n")
            .unwrap();
        let back = Rubric::parse(&r.render()).unwrap();
        for e in EXERCISES {
            for p in e.properties {
                let (a, b) = (r.points(e.name, p.name), back.points(e.name, p.name));
                assert!((a - b).abs() < 1e-3, "{}::{}: {a} then {b}", e.name, p.name);
            }
        }
    }
}
