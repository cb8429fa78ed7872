//! History invariants: necessary conditions with specific messages.
//!
//! A linearizability check says that no order explains a history; these checks say
//! which item went wrong ("item 3 was removed twice"). Each is implied by the
//! [`SharedList`](racecourse_spec::shared_list::SharedList) contract, so a correct
//! implementation never fails one, and runners check them before linearizability to
//! give the most specific message.

use std::collections::BTreeMap;

use super::linearizability::{Call, ListOp, ListRet};
use crate::report::Violation;

/// "once", "twice", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

/// " twice", " 3 times", or nothing for once.
fn extra_times(n: usize) -> String {
    if n == 1 {
        String::new()
    } else {
        format!(" {}", times(n))
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st".
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// added == removed + remaining as multisets; message names the item, e.g. "item 3 was removed twice" / "item 4 was added but is neither removed nor in the list" / "item 9 was removed but never added"
///
/// When several items are wrong the message names the smallest and counts the others.
pub fn conservation(added: &[u32], removed: &[u32], remaining: &[u32]) -> Result<(), Violation> {
    // item -> (times added, times removed, times remaining)
    let mut counts: BTreeMap<u32, (usize, usize, usize)> = BTreeMap::new();
    for &x in added {
        counts.entry(x).or_default().0 += 1;
    }
    for &x in removed {
        counts.entry(x).or_default().1 += 1;
    }
    for &x in remaining {
        counts.entry(x).or_default().2 += 1;
    }
    let mut wrong = counts.into_iter().filter(|&(_, (a, r, m))| a != r + m);
    let Some((x, (a, r, m))) = wrong.next() else {
        return Ok(());
    };
    let mut seen = match (a, r, m) {
        (0, r, 0) => format!("item {x} was removed{} but never added", extra_times(r)),
        (0, 0, m) => format!(
            "item {x} is in the list{} but was never added",
            extra_times(m)
        ),
        (0, r, m) => format!(
            "item {x} was removed{} and is in the list{} but was never added",
            extra_times(r),
            extra_times(m)
        ),
        (a, 0, 0) => format!(
            "item {x} was added{} but is neither removed nor in the list",
            extra_times(a)
        ),
        (1, r, 0) => format!("item {x} was removed {}", times(r)),
        (1, 0, m) => format!("item {x} is in the list {}", times(m)),
        (1, 1, 1) => format!("item {x} was removed but is also still in the list"),
        (a, r, 0) => format!("item {x} was added {} but removed {}", times(a), times(r)),
        (a, 0, m) => format!(
            "item {x} was added {} but is in the list {}",
            times(a),
            times(m)
        ),
        (a, r, m) => format!(
            "item {x} was added {} but removed {} and left in the list {}",
            times(a),
            times(r),
            times(m)
        ),
    };
    let others = wrong.count();
    if others > 0 {
        seen.push_str(&format!(
            " (and {others} other {} not add up)",
            if others == 1 { "item does" } else { "items do" }
        ));
    }
    Err(Violation::new(
        "each added item to be either removed or left in the list, exactly once",
        seen,
    ))
}

/// No remove returns an item unless an add of that item was invoked before the remove returned
/// (and, counting multiplicity, not more removes of x have returned than adds of x were invoked before them).
///
/// Snapshots are held to the same rule: a snapshot that shows `x` `c` times, invoked
/// after `r` removes of `x` had returned, needs `c + r` adds of `x` invoked before it
/// returned. The first offending call, by return time, is named.
pub fn no_phantom_items(history: &[Call<ListOp, ListRet>]) -> Result<(), Violation> {
    // item -> invocation times of its adds, sorted
    let mut adds: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for c in history {
        if let ListOp::Add(x) = c.op {
            adds.entry(x).or_default().push(c.call_at);
        }
    }
    for times in adds.values_mut() {
        times.sort_unstable();
    }
    let adds_before = |x: u32, t: u64| {
        adds.get(&x)
            .map_or(0, |times| times.partition_point(|&at| at < t))
    };
    let ever_added = |x: u32| adds.contains_key(&x);
    // item -> return times of removes that returned it, sorted
    let mut removes: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for c in history {
        if let (ListOp::Remove, ListRet::Removed(Some(x))) = (&c.op, &c.ret) {
            removes.entry(*x).or_default().push(c.ret_at);
        }
    }
    for times in removes.values_mut() {
        times.sort_unstable();
    }
    let removes_until = |x: u32, t: u64, inclusive: bool| {
        removes.get(&x).map_or(0, |times| {
            times.partition_point(|&at| if inclusive { at <= t } else { at < t })
        })
    };

    let mut observers: Vec<usize> = (0..history.len())
        .filter(|&i| matches!(history[i].op, ListOp::Remove | ListOp::Snapshot))
        .collect();
    observers.sort_by_key(|&i| (history[i].ret_at, i));
    for i in observers {
        let c = &history[i];
        match &c.ret {
            ListRet::Removed(Some(x)) => {
                let x = *x;
                let k = removes_until(x, c.ret_at, true);
                let a = adds_before(x, c.ret_at);
                if k <= a {
                    continue;
                }
                let who = format!("remove() by thread {} returned Some({x})", c.thread);
                let seen = if !ever_added(x) {
                    format!("{who} but add({x}) was never called")
                } else if a == 0 {
                    format!("{who} before add({x}) was called")
                } else {
                    format!(
                        "{who} for the {} time, but add({x}) had been called only {} by then",
                        ordinal(k),
                        times(a)
                    )
                };
                return Err(phantom(seen));
            }
            ListRet::Snapshot(items) => {
                let mut shown: BTreeMap<u32, usize> = BTreeMap::new();
                for &x in items {
                    *shown.entry(x).or_default() += 1;
                }
                for (x, count) in shown {
                    let gone = removes_until(x, c.call_at, false);
                    let a = adds_before(x, c.ret_at);
                    if count + gone <= a {
                        continue;
                    }
                    let who = format!("snapshot() by thread {} returned {}", c.thread, c.ret);
                    let seen = if !ever_added(x) {
                        format!("{who} but add({x}) was never called")
                    } else if a == 0 {
                        format!("{who} before add({x}) was called")
                    } else {
                        let removed = if gone == 0 {
                            String::new()
                        } else {
                            format!(" after it had been removed {}", times(gone))
                        };
                        format!(
                            "{who}, showing item {x} {}{removed}, but add({x}) had been called \
                             only {} by then",
                            times(count),
                            times(a)
                        )
                    };
                    return Err(phantom(seen));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A violation of [`no_phantom_items`].
fn phantom(seen: String) -> Violation {
    Violation::new(
        "remove() and snapshot() to return only items whose add was called before they \
         returned",
        seen,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::oracle::fixtures::{add, remove, snapshot};

    fn conservation_seen(added: &[u32], removed: &[u32], remaining: &[u32]) -> String {
        conservation(added, removed, remaining)
            .expect_err("conservation should fail")
            .seen
    }

    fn phantom_seen(history: &[Call<ListOp, ListRet>]) -> String {
        no_phantom_items(history)
            .expect_err("no_phantom_items should fail")
            .seen
    }

    #[test]
    fn conservation_holds_in_any_order_and_with_repeats() {
        assert_eq!(conservation(&[], &[], &[]), Ok(()));
        assert_eq!(conservation(&[1, 2, 3, 2], &[2, 3], &[2, 1]), Ok(()));
    }

    #[test]
    fn conservation_names_the_item_that_does_not_add_up() {
        assert_eq!(
            conservation_seen(&[3], &[3, 3], &[]),
            "item 3 was removed twice"
        );
        assert_eq!(
            conservation_seen(&[1, 4], &[1], &[]),
            "item 4 was added but is neither removed nor in the list"
        );
        assert_eq!(
            conservation_seen(&[], &[9], &[]),
            "item 9 was removed but never added"
        );
        assert_eq!(
            conservation_seen(&[], &[], &[9, 9]),
            "item 9 is in the list twice but was never added"
        );
        assert_eq!(
            conservation_seen(&[5], &[5], &[5]),
            "item 5 was removed but is also still in the list"
        );
        assert_eq!(
            conservation_seen(&[5, 5, 5], &[5], &[]),
            "item 5 was added 3 times but removed once"
        );
        assert_eq!(
            conservation_seen(&[5, 5], &[5, 5], &[5]),
            "item 5 was added twice but removed twice and left in the list once"
        );
    }

    #[test]
    fn conservation_reads_as_one_sentence_and_counts_other_wrong_items() {
        let violation = conservation(&[1, 2, 3], &[1, 1], &[]).unwrap_err();
        assert_eq!(
            violation.to_string(),
            "expected each added item to be either removed or left in the list, exactly once, \
             but item 1 was removed twice (and 2 other items do not add up)"
        );
    }

    #[test]
    fn removes_and_snapshots_of_added_items_are_not_phantoms() {
        let history = [
            add(0, 1, 0, 3),
            remove(1, Some(1), 1, 2), // overlaps its add
            add(0, 1, 4, 5),
            add(0, 2, 6, 7),
            snapshot(2, &[1, 2], 8, 9),
            remove(1, Some(1), 10, 11),
            snapshot(2, &[2], 12, 13),
            remove(1, None, 14, 15),
        ];
        assert_eq!(no_phantom_items(&history), Ok(()));
    }

    #[test]
    fn a_remove_of_an_item_never_added_is_a_phantom() {
        let violation = no_phantom_items(&[add(0, 1, 0, 1), remove(1, Some(9), 2, 3)]).unwrap_err();
        assert_eq!(
            violation.to_string(),
            "expected remove() and snapshot() to return only items whose add was called \
             before they returned, but remove() by thread 1 returned Some(9) but add(9) was \
             never called"
        );
    }

    #[test]
    fn a_remove_that_returns_before_the_add_begins_is_a_phantom() {
        assert_eq!(
            phantom_seen(&[remove(1, Some(4), 0, 1), add(0, 4, 2, 3)]),
            "remove() by thread 1 returned Some(4) before add(4) was called"
        );
    }

    #[test]
    fn removing_an_item_more_often_than_it_was_added_is_a_phantom() {
        // The second remove overlaps the first; the second add begins after both.
        let history = [
            add(0, 3, 0, 1),
            remove(1, Some(3), 2, 5),
            remove(2, Some(3), 3, 4),
            add(0, 3, 6, 7),
        ];
        assert_eq!(
            phantom_seen(&history),
            "remove() by thread 1 returned Some(3) for the 2nd time, but add(3) had been \
             called only once by then"
        );
    }

    #[test]
    fn a_snapshot_showing_an_item_too_often_is_a_phantom() {
        assert_eq!(
            phantom_seen(&[add(0, 3, 0, 1), snapshot(1, &[3, 3], 2, 3)]),
            "snapshot() by thread 1 returned [3, 3], showing item 3 twice, but add(3) had been \
             called only once by then"
        );
        assert_eq!(
            phantom_seen(&[
                add(0, 3, 0, 1),
                remove(1, Some(3), 2, 3),
                snapshot(1, &[3], 4, 5)
            ]),
            "snapshot() by thread 1 returned [3], showing item 3 once after it had been \
             removed once, but add(3) had been called only once by then"
        );
        assert_eq!(
            phantom_seen(&[snapshot(2, &[8], 0, 1)]),
            "snapshot() by thread 2 returned [8] but add(8) was never called"
        );
    }

    #[test]
    fn ordinals_read_as_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 111].map(ordinal).into();
        assert_eq!(
            got,
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th"]
        );
    }
}
