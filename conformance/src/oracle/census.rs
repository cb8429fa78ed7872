//! The outcome census: the set of distinct outcomes a small scenario reaches under
//! exhaustive exploration, each labelled allowed or forbidden by the sequential model,
//! in the spirit of jcstress's outcome tables. Sets, not frequencies: a snapshot of a
//! census changes only when what an implementation *can* reach changes.

use std::collections::BTreeSet;
use std::fmt::Display;

use crate::report::Violation;

/// The outcomes one implementation reached, and those the model allows.
#[derive(Clone, Debug)]
pub struct Census<O: Ord> {
    /// Outcomes reached by some interleaving.
    pub reached: BTreeSet<O>,
    /// Outcomes the sequential model allows.
    pub allowed: BTreeSet<O>,
    /// Runs that did not follow the scenario at all, described.
    pub misbehaved: BTreeSet<String>,
}

impl<O: Ord> Default for Census<O> {
    fn default() -> Self {
        Self {
            reached: BTreeSet::new(),
            allowed: BTreeSet::new(),
            misbehaved: BTreeSet::new(),
        }
    }
}

impl<O: Ord + Display> Census<O> {
    /// The snapshot text: reached outcomes with their label, then allowed outcomes no
    /// interleaving reached, then misbehaviours.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for o in &self.reached {
            let label = if self.allowed.contains(o) {
                "allowed"
            } else {
                "FORBIDDEN"
            };
            s.push_str(&format!("reached      {label:9} {o}\n"));
        }
        for o in self.allowed.difference(&self.reached) {
            s.push_str(&format!("not reached  allowed   {o}\n"));
        }
        for m in &self.misbehaved {
            s.push_str(&format!("misbehaved   {m}\n"));
        }
        s
    }

    /// A violation for the first misbehaviour (`expected_calls` says what the scenario
    /// asked for) or forbidden outcome, if any.
    pub fn verdict(&self, expected_calls: &str) -> Result<(), Violation> {
        if let Some(m) = self.misbehaved.iter().next() {
            return Err(Violation::new(expected_calls, m.clone()));
        }
        if let Some(o) = self.reached.difference(&self.allowed).next() {
            return Err(Violation::new(
                "only outcomes the sequential model allows",
                format!("an interleaving ended with {o}, which no sequential order produces"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_outcomes_are_labelled_and_rejected() {
        let mut census = Census::<u32>::default();
        census.allowed.extend([1, 2]);
        census.reached.extend([1, 3]);
        assert_eq!(
            census.render(),
            "reached      allowed   1\nreached      FORBIDDEN 3\nnot reached  allowed   2\n"
        );
        let v = census.verdict("unused").unwrap_err();
        assert!(v.seen.contains("ended with 3"), "{v}");
    }

    #[test]
    fn a_misbehaviour_is_reported_before_outcomes() {
        let mut census = Census::<u32>::default();
        census.misbehaved.insert("the adder added [7]".into());
        let v = census.verdict("the adder to add 0..2").unwrap_err();
        assert_eq!(v.expected, "the adder to add 0..2");
    }
}
