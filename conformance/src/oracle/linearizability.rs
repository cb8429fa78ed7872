//! Linearizability: does a concurrent history have a sequential explanation?
//!
//! A history is a set of completed calls, each with the logical times of its invocation
//! and of its return. It is *linearizable* with respect to a sequential [`Model`] when
//! the calls can be put in one order that
//! - respects real time: a call that returned before another was invoked comes first;
//! - the model accepts: applying the operations in that order to the model's initial
//!   state returns, call by call, exactly what the concurrent calls returned.
//!
//! [`check`] searches for such an order depth first, in the manner of Wing and Gong
//! with Lowe's memoization (the approach Porcupine takes): at each point it tries every
//! call that may come next, and remembers every pair (set of calls placed, model state)
//! it has already explored, so that two orders that reach the same state with the same
//! calls are explored once. This keeps the search polynomial on typical histories. The
//! search is bounded by a budget of steps; a search that runs out reports
//! [`Outcome::Unknown`], which is never a pass.
//!
//! The shared list exercise's sequential model is [`ListModel`].
//!
//! ```
//! use racecourse::oracle::linearizability::{check, Call, ListModel, ListOp, ListRet, Outcome};
//! use racecourse_spec::shared_list::RemovalOrder;
//!
//! // Thread 1's remove overlaps thread 0's add and sees the item.
//! let history = vec![
//!     Call { thread: 0, op: ListOp::Add(7), ret: ListRet::Added, call_at: 0, ret_at: 3 },
//!     Call { thread: 1, op: ListOp::Remove, ret: ListRet::Removed(Some(7)), call_at: 1, ret_at: 2 },
//! ];
//! let model = ListModel { order: RemovalOrder::Fifo };
//! assert!(matches!(check(&model, &history, 1_000), Outcome::Linearizable(_)));
//! ```

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;

use racecourse_spec::shared_list::RemovalOrder;
use serde::{Deserialize, Serialize};

/// A sequential specification.
///
/// # Contract
/// [`step`](Self::step) **must** be a pure function of the state and the operation:
/// the checker calls it many times on the same arguments, in any order, and relies on
/// getting the same answer each time.
pub trait Model {
    /// The state of the sequential object. Equal states **must** behave the same for
    /// every later sequence of operations (the search merges them).
    type State: Clone + Eq + Hash + fmt::Debug;
    /// An operation with its arguments. `Display` names it in the student's terms,
    /// e.g. `add(3)`.
    type Op: Clone + fmt::Debug + fmt::Display;
    /// What an operation returns. `Display` shows it in the student's terms, e.g.
    /// `Some(3)`; a return that carries nothing displays as `()` and is then left out of
    /// explanations.
    type Ret: Clone + PartialEq + fmt::Debug + fmt::Display;

    /// The state of a freshly created object.
    fn init(&self) -> Self::State;

    /// Applies op to state, returns the new state and what a sequential object returns.
    fn step(&self, state: &Self::State, op: &Self::Op) -> (Self::State, Self::Ret);

    /// A short lower-case name used in explanations as "the {name} model", e.g.
    /// `fifo list`.
    fn name(&self) -> String {
        "sequential".to_owned()
    }
}

/// One completed call in a concurrent history. `call` and `ret` are logical timestamps from one global
/// counter (call < ret); call A happened-before call B iff A.ret < B.call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call<Op, Ret> {
    /// The thread (or process) that made the call, as numbered by the runner.
    pub thread: usize,
    /// The operation and its arguments.
    pub op: Op,
    /// What the call returned.
    pub ret: Ret,
    /// When the call was invoked.
    pub call_at: u64,
    /// When the call returned; **must** be greater than `call_at`.
    pub ret_at: u64,
}

/// The verdict of [`check`].
pub enum Outcome<M: Model> {
    /// a witness order: indices into the history in linearization order
    Linearizable(Vec<usize>),
    /// No order exists.
    NotLinearizable {
        /// The longest prefix of a linearization the search found: indices into the
        /// history, in order. No call can be placed after it.
        longest_prefix: Vec<usize>,
        /// The model's state after `longest_prefix`.
        state: M::State,
        /// A short lower-case English sentence naming the first call that cannot be
        /// placed after `longest_prefix`, e.g. "after add(1) by thread 0, add(2) by
        /// thread 1, no call can come next: remove() by thread 2 returned Some(1) but the
        /// fifo list model returns Some(2) here".
        explanation: String,
    },
    /// the search ran out of budget (number of search steps) before deciding: never treat this as a pass
    Unknown {
        /// The steps taken, equal to the budget.
        steps: usize,
    },
}

impl<M: Model> Outcome<M> {
    /// Whether the history was shown linearizable ([`Outcome::Unknown`] is not).
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Outcome::Linearizable(_))
    }
}

impl<M: Model> fmt::Debug for Outcome<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Linearizable(order) => f.debug_tuple("Linearizable").field(order).finish(),
            Outcome::NotLinearizable {
                longest_prefix,
                state,
                explanation,
            } => f
                .debug_struct("NotLinearizable")
                .field("longest_prefix", longest_prefix)
                .field("state", state)
                .field("explanation", explanation)
                .finish(),
            Outcome::Unknown { steps } => f.debug_struct("Unknown").field("steps", steps).finish(),
        }
    }
}

impl<M: Model> Clone for Outcome<M> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Linearizable(order) => Outcome::Linearizable(order.clone()),
            Outcome::NotLinearizable {
                longest_prefix,
                state,
                explanation,
            } => Outcome::NotLinearizable {
                longest_prefix: longest_prefix.clone(),
                state: state.clone(),
                explanation: explanation.clone(),
            },
            Outcome::Unknown { steps } => Outcome::Unknown { steps: *steps },
        }
    }
}

impl<M: Model> PartialEq for Outcome<M> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Linearizable(a), Outcome::Linearizable(b)) => a == b,
            (
                Outcome::NotLinearizable {
                    longest_prefix: p,
                    state: s,
                    explanation: e,
                },
                Outcome::NotLinearizable {
                    longest_prefix: q,
                    state: t,
                    explanation: f,
                },
            ) => p == q && s == t && e == f,
            (Outcome::Unknown { steps: a }, Outcome::Unknown { steps: b }) => a == b,
            _ => false,
        }
    }
}

impl<M: Model> Eq for Outcome<M> {}

/// A set of history indices.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// One level of the depth-first search: the calls placed so far are `path`, and this
/// frame tries the calls that may come after them.
struct Frame<S> {
    /// The model state after `path`.
    state: S,
    /// The position in `by_call` of the next call to try.
    next: usize,
    /// The earliest return among the calls not yet placed: a call invoked after it
    /// cannot come next.
    horizon: u64,
}

/// Decides whether `history` is linearizable with respect to `model`, taking at most
/// `budget` search steps (one step applies one operation to the model).
///
/// The result is deterministic: the same history always gives the same outcome, witness
/// and explanation. Calls that never returned are not part of a history; callers pass
/// completed calls only.
///
/// # Panics
/// If a call's `ret_at` is not greater than its `call_at`.
pub fn check<M: Model>(model: &M, history: &[Call<M::Op, M::Ret>], budget: usize) -> Outcome<M> {
    for (i, c) in history.iter().enumerate() {
        assert!(
            c.call_at < c.ret_at,
            "call {i} of the history returns at {} but was invoked at {}",
            c.ret_at,
            c.call_at
        );
    }
    let n = history.len();
    // Candidates are tried in invocation order; since a call may come next only if it
    // was invoked no later than the earliest pending return, the candidates of a frame
    // are a prefix of the unplaced calls in this order.
    let mut by_call: Vec<usize> = (0..n).collect();
    by_call.sort_by_key(|&i| (history[i].call_at, i));

    let mut placed = Bits::new(n);
    let mut path: Vec<usize> = Vec::with_capacity(n);
    let mut longest: Vec<usize> = Vec::new();
    let mut seen: HashSet<(Bits, M::State)> = HashSet::new();
    let mut steps = 0usize;
    let horizon = |placed: &Bits| {
        history
            .iter()
            .enumerate()
            .filter(|&(i, _)| !placed.contains(i))
            .map(|(_, c)| c.ret_at)
            .min()
            .unwrap_or(u64::MAX)
    };
    let mut stack = vec![Frame {
        state: model.init(),
        next: 0,
        horizon: horizon(&placed),
    }];

    while let Some(frame) = stack.last_mut() {
        if path.len() == n {
            return Outcome::Linearizable(path);
        }
        // The next call that may follow `path`, if any is left to try.
        let mut candidate = None;
        while frame.next < n {
            let i = by_call[frame.next];
            frame.next += 1;
            if history[i].call_at > frame.horizon {
                frame.next = n;
                break;
            }
            if !placed.contains(i) {
                candidate = Some(i);
                break;
            }
        }
        let Some(i) = candidate else {
            stack.pop();
            if let Some(i) = path.pop() {
                placed.remove(i);
            }
            continue;
        };
        if steps == budget {
            return Outcome::Unknown { steps };
        }
        steps += 1;
        let (state, ret) = model.step(&frame.state, &history[i].op);
        if ret != history[i].ret {
            continue;
        }
        placed.insert(i);
        if !seen.insert((placed.clone(), state.clone())) {
            placed.remove(i);
            continue;
        }
        path.push(i);
        if path.len() > longest.len() {
            longest.clone_from(&path);
        }
        let horizon = horizon(&placed);
        stack.push(Frame {
            state,
            next: 0,
            horizon,
        });
    }

    let (state, explanation) = explain(model, history, &longest);
    Outcome::NotLinearizable {
        longest_prefix: longest,
        state,
        explanation,
    }
}

/// How many placed calls an explanation lists before it shortens the list.
const LISTED_CALLS: usize = 8;

/// The model state after `prefix` and the sentence saying why nothing can follow it.
fn explain<M: Model>(
    model: &M,
    history: &[Call<M::Op, M::Ret>],
    prefix: &[usize],
) -> (M::State, String) {
    let mut state = model.init();
    let mut placed = vec![false; history.len()];
    for &i in prefix {
        state = model.step(&state, &history[i].op).0;
        placed[i] = true;
    }
    let horizon = (0..history.len())
        .filter(|&i| !placed[i])
        .map(|i| history[i].ret_at)
        .min()
        .unwrap_or(u64::MAX);
    let mut candidates: Vec<usize> = (0..history.len())
        .filter(|&i| !placed[i] && history[i].call_at <= horizon)
        .collect();
    candidates.sort_by_key(|&i| (history[i].call_at, i));
    // In the longest prefix every candidate is refused by the model (a call the model
    // accepted would have made a longer prefix); the filter only guards that argument.
    let refusals: Vec<(usize, M::Ret)> = candidates
        .into_iter()
        .filter_map(|i| {
            let expected = model.step(&state, &history[i].op).1;
            (expected != history[i].ret).then_some((i, expected))
        })
        .collect();

    let mut text = if prefix.is_empty() {
        "no call can come first".to_owned()
    } else if prefix.len() <= LISTED_CALLS {
        let calls: Vec<String> = prefix.iter().map(|&i| placed_call(&history[i])).collect();
        format!("after {}, no call can come next", calls.join(", "))
    } else {
        let calls: Vec<String> = prefix[prefix.len() - 3..]
            .iter()
            .map(|&i| placed_call(&history[i]))
            .collect();
        format!(
            "after {} calls ending with {} (model state {state:?}), no call can come next",
            prefix.len(),
            calls.join(", ")
        )
    };
    match refusals.split_first() {
        Some(((i, expected), rest)) => {
            let c = &history[*i];
            text.push_str(&format!(
                ": {} by thread {} returned {} but the {} model returns {expected} here",
                c.op,
                c.thread,
                c.ret,
                model.name()
            ));
            for (i, expected) in rest.iter().take(2) {
                let c = &history[*i];
                text.push_str(&format!(
                    ", nor can {} by thread {} (returned {}, the model returns {expected})",
                    c.op, c.thread, c.ret
                ));
            }
            if rest.len() > 2 {
                text.push_str(&format!(", nor {} other calls", rest.len() - 2));
            }
        }
        None => text.push_str(&format!(" that the {} model accepts", model.name())),
    }
    (state, text)
}

/// A placed call as an explanation lists it: `remove() -> Some(1) by thread 2`, or
/// `add(1) by thread 0` for a call that returns nothing.
fn placed_call<Op: fmt::Display, Ret: fmt::Display>(c: &Call<Op, Ret>) -> String {
    let ret = c.ret.to_string();
    if ret == "()" {
        format!("{} by thread {}", c.op, c.thread)
    } else {
        format!("{} -> {ret} by thread {}", c.op, c.thread)
    }
}

/// A call on a [`SharedList`](racecourse_spec::shared_list::SharedList).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ListOp {
    /// `add(x)`.
    Add(u32),
    /// `remove()`.
    Remove,
    /// `snapshot()`.
    Snapshot,
}

/// What a [`SharedList`](racecourse_spec::shared_list::SharedList) call returned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ListRet {
    /// `add` returned (it returns nothing); displays as `()`.
    Added,
    /// `remove` returned this.
    Removed(Option<u32>),
    /// `snapshot` returned these items, front (oldest) first.
    Snapshot(Vec<u32>),
}

impl fmt::Display for ListOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListOp::Add(x) => write!(f, "add({x})"),
            ListOp::Remove => f.write_str("remove()"),
            ListOp::Snapshot => f.write_str("snapshot()"),
        }
    }
}

impl fmt::Display for ListRet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListRet::Added => f.write_str("()"),
            ListRet::Removed(x) => write!(f, "{x:?}"),
            ListRet::Snapshot(items) => write!(f, "{items:?}"),
        }
    }
}

/// The sequential shared list: a queue or a stack, as the implementation declares.
///
/// The state is the list's items, front (oldest) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListModel {
    /// Which item `remove` takes.
    pub order: RemovalOrder,
}

impl Model for ListModel {
    type State = Vec<u32>;
    type Op = ListOp;
    type Ret = ListRet;

    fn init(&self) -> Vec<u32> {
        Vec::new()
    }

    fn step(&self, state: &Vec<u32>, op: &ListOp) -> (Vec<u32>, ListRet) {
        let mut items = state.clone();
        let ret = match op {
            ListOp::Add(x) => {
                items.push(*x);
                ListRet::Added
            }
            ListOp::Remove if items.is_empty() => ListRet::Removed(None),
            ListOp::Remove => ListRet::Removed(Some(match self.order {
                RemovalOrder::Fifo => items.remove(0),
                RemovalOrder::Lifo => items.pop().expect("the list is not empty"),
            })),
            ListOp::Snapshot => ListRet::Snapshot(items.clone()),
        };
        (items, ret)
    }

    fn name(&self) -> String {
        format!("{} list", self.order.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use RemovalOrder::{Fifo, Lifo};

    const BUDGET: usize = 1_000_000;

    use crate::oracle::fixtures::{add, call, remove, snapshot};

    fn list(order: RemovalOrder) -> ListModel {
        ListModel { order }
    }

    /// Asserts that `order` is a linearization of `history`: a permutation that respects
    /// real time and that the model accepts.
    fn assert_witness(model: &ListModel, history: &[Call<ListOp, ListRet>], order: &[usize]) {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..history.len()).collect::<Vec<_>>(),
            "not a permutation"
        );
        for (k, &a) in order.iter().enumerate() {
            for &b in &order[k + 1..] {
                assert!(
                    history[b].ret_at > history[a].call_at,
                    "call {b} returned before call {a} began but comes after it"
                );
            }
        }
        let mut state = model.init();
        for &i in order {
            let (next, ret) = model.step(&state, &history[i].op);
            assert_eq!(ret, history[i].ret, "the model refuses call {i}");
            state = next;
        }
    }

    fn assert_linearizable(model: &ListModel, history: &[Call<ListOp, ListRet>]) {
        match check(model, history, BUDGET) {
            Outcome::Linearizable(order) => assert_witness(model, history, &order),
            other => panic!("expected linearizable, got {other:?}"),
        }
    }

    fn not_linearizable(
        model: &ListModel,
        history: &[Call<ListOp, ListRet>],
    ) -> (Vec<usize>, String) {
        match check(model, history, BUDGET) {
            Outcome::NotLinearizable {
                longest_prefix,
                explanation,
                ..
            } => (longest_prefix, explanation),
            other => panic!("expected not linearizable, got {other:?}"),
        }
    }

    #[test]
    fn the_empty_history_is_linearizable() {
        assert_eq!(check(&list(Fifo), &[], 0), Outcome::Linearizable(vec![]));
    }

    #[test]
    fn sequential_histories_are_linearizable_in_their_own_order() {
        let fifo = [
            add(0, 1, 0, 1),
            add(0, 2, 2, 3),
            snapshot(1, &[1, 2], 4, 5),
            remove(1, Some(1), 6, 7),
            remove(1, Some(2), 8, 9),
            remove(1, None, 10, 11),
        ];
        assert_eq!(
            check(&list(Fifo), &fifo, BUDGET),
            Outcome::Linearizable(vec![0, 1, 2, 3, 4, 5])
        );
        let lifo = [
            add(0, 1, 0, 1),
            add(0, 2, 2, 3),
            remove(1, Some(2), 4, 5),
            snapshot(1, &[1], 6, 7),
            remove(1, Some(1), 8, 9),
        ];
        assert_eq!(
            check(&list(Lifo), &lifo, BUDGET),
            Outcome::Linearizable(vec![0, 1, 2, 3, 4])
        );
    }

    #[test]
    fn a_remove_overlapping_an_add_may_return_its_item() {
        // The remove begins before the add and returns before it: both orders respect
        // real time, and only add-then-remove is accepted.
        let history = [add(0, 7, 0, 3), remove(1, Some(7), 1, 2)];
        assert_eq!(
            check(&list(Fifo), &history, BUDGET),
            Outcome::Linearizable(vec![0, 1])
        );
        // Or miss it.
        let history = [
            add(0, 7, 0, 3),
            remove(1, None, 1, 2),
            snapshot(1, &[7], 4, 5),
        ];
        assert_linearizable(&list(Lifo), &history);
    }

    #[test]
    fn the_search_finds_an_order_that_is_not_invocation_order() {
        // Thread 0 adds 1 then 2; thread 1's remove overlaps both adds and returns 2 from
        // a stack, so it must sit between add(2) and a later remove of 1.
        let history = [
            add(0, 1, 0, 2),
            remove(1, Some(2), 1, 6),
            add(0, 2, 3, 4),
            remove(2, Some(1), 7, 8),
        ];
        assert_linearizable(&list(Lifo), &history);
    }

    #[test]
    fn an_item_removed_twice_is_not_linearizable() {
        let history = [
            add(0, 1, 0, 1),
            remove(1, Some(1), 2, 5),
            remove(2, Some(1), 3, 4),
        ];
        let (prefix, explanation) = not_linearizable(&list(Fifo), &history);
        assert_eq!(prefix, vec![0, 1]);
        assert_eq!(
            explanation,
            "after add(1) by thread 0, remove() -> Some(1) by thread 1, no call can come \
             next: remove() by thread 2 returned Some(1) but the fifo list model returns \
             None here"
        );
    }

    #[test]
    fn a_fifo_history_does_not_satisfy_the_lifo_model() {
        let history = [
            add(0, 1, 0, 1),
            add(1, 2, 2, 3),
            remove(2, Some(1), 4, 5),
            remove(2, Some(2), 6, 7),
        ];
        assert_linearizable(&list(Fifo), &history);
        let (prefix, explanation) = not_linearizable(&list(Lifo), &history);
        assert_eq!(prefix, vec![0, 1]);
        assert_eq!(
            explanation,
            "after add(1) by thread 0, add(2) by thread 1, no call can come next: remove() by \
             thread 2 returned Some(1) but the lifo list model returns Some(2) here"
        );
    }

    #[test]
    fn nothing_to_remove_while_the_list_held_an_item_is_not_linearizable() {
        // Item 1 is in the list from before the first remove begins until after it ends
        // (only the later remove takes it), yet the first remove found nothing.
        let history = [
            add(0, 1, 0, 1),
            remove(1, None, 2, 5),
            snapshot(2, &[1], 3, 4),
            remove(1, Some(1), 6, 7),
        ];
        let (prefix, explanation) = not_linearizable(&list(Fifo), &history);
        assert_eq!(prefix, vec![0, 2]);
        assert_eq!(
            explanation,
            "after add(1) by thread 0, snapshot() -> [1] by thread 2, no call can come next: \
             remove() by thread 1 returned None but the fifo list model returns Some(1) here"
        );
    }

    #[test]
    fn an_impossible_first_call_is_named() {
        let history = [remove(3, Some(9), 0, 1)];
        let (prefix, explanation) = not_linearizable(&list(Fifo), &history);
        assert!(prefix.is_empty());
        assert_eq!(
            explanation,
            "no call can come first: remove() by thread 3 returned Some(9) but the fifo list \
             model returns None here"
        );
    }

    #[test]
    fn every_refused_call_is_named_when_several_could_come_next() {
        let history = [
            add(0, 1, 0, 1),
            remove(1, Some(5), 2, 5),
            snapshot(2, &[], 3, 6),
            remove(3, None, 4, 7),
        ];
        let (_, explanation) = not_linearizable(&list(Fifo), &history);
        assert_eq!(
            explanation,
            "after add(1) by thread 0, no call can come next: remove() by thread 1 returned \
             Some(5) but the fifo list model returns Some(1) here, nor can snapshot() by \
             thread 2 (returned [], the model returns [1]), nor can remove() by thread 3 \
             (returned None, the model returns Some(1))"
        );
    }

    #[test]
    fn a_long_prefix_is_shortened_and_shows_the_state() {
        let mut history: Vec<_> = (0..10)
            .map(|x| add(0, x, 2 * x as u64, 2 * x as u64 + 1))
            .collect();
        history.push(remove(1, Some(3), 20, 21));
        let (prefix, explanation) = not_linearizable(&list(Fifo), &history);
        assert_eq!(prefix, (0..10).collect::<Vec<_>>());
        assert_eq!(
            explanation,
            "after 10 calls ending with add(7) by thread 0, add(8) by thread 0, add(9) by \
             thread 0 (model state [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), no call can come next: \
             remove() by thread 1 returned Some(3) but the fifo list model returns Some(0) \
             here"
        );
    }

    #[test]
    fn a_budget_of_one_step_decides_nothing() {
        let history = [add(0, 1, 0, 3), add(1, 2, 1, 4), remove(2, Some(2), 2, 5)];
        assert_eq!(
            check(&list(Fifo), &history, 1),
            Outcome::Unknown { steps: 1 }
        );
        assert!(!check(&list(Fifo), &history, 1).is_linearizable());
        assert_linearizable(&list(Fifo), &history);
    }

    #[test]
    fn memoization_keeps_many_concurrent_calls_tractable() {
        // Fourteen concurrent adds of the same item reach the same state in every order
        // (14! orders, 2^14 sets); the remove after them cannot return 2.
        let mut history: Vec<_> = (0..14)
            .map(|t| add(t, 1, t as u64, 100 + t as u64))
            .collect();
        history.push(remove(14, Some(2), 200, 201));
        match check(&list(Fifo), &history, 2_000_000) {
            Outcome::NotLinearizable { longest_prefix, .. } => assert_eq!(longest_prefix.len(), 14),
            other => panic!("expected not linearizable, got {other:?}"),
        }
    }

    #[test]
    fn list_calls_display_in_the_students_terms() {
        assert_eq!(ListOp::Add(3).to_string(), "add(3)");
        assert_eq!(ListOp::Remove.to_string(), "remove()");
        assert_eq!(ListOp::Snapshot.to_string(), "snapshot()");
        assert_eq!(ListRet::Removed(Some(3)).to_string(), "Some(3)");
        assert_eq!(ListRet::Removed(None).to_string(), "None");
        assert_eq!(ListRet::Snapshot(vec![1, 2]).to_string(), "[1, 2]");
        assert_eq!(ListRet::Added.to_string(), "()");
    }

    #[test]
    #[should_panic(expected = "returns at 3 but was invoked at 3")]
    fn a_call_that_returns_before_it_begins_is_a_harness_bug() {
        check(&list(Fifo), &[add(0, 1, 3, 3)], BUDGET);
    }

    /// A sequential list execution: operations with the thread that made each, run on
    /// the model to get the returns.
    fn sequential_run() -> impl Strategy<Value = (RemovalOrder, Vec<Call<ListOp, ListRet>>)> {
        let order = prop_oneof![Just(Fifo), Just(Lifo)];
        let op = prop_oneof![
            3 => (0u32..4).prop_map(ListOp::Add),
            2 => Just(ListOp::Remove),
            1 => Just(ListOp::Snapshot),
        ];
        (order, proptest::collection::vec((0usize..4, op), 0..24)).prop_map(|(order, ops)| {
            let model = list(order);
            let mut state = model.init();
            let history = ops
                .into_iter()
                .enumerate()
                .map(|(i, (thread, op))| {
                    let (next, ret) = model.step(&state, &op);
                    state = next;
                    call(thread, op, ret, 2 * i as u64, 2 * i as u64 + 1)
                })
                .collect();
            (order, history)
        })
    }

    /// Stretches each call's interval around its linearization point by up to
    /// `back`/`forward` neighbouring calls, then renumbers the events from one counter.
    /// Every interval still contains its point, so the sequential order stays a valid
    /// linearization.
    fn stretch(history: &mut [Call<ListOp, ListRet>], stretches: &[(u8, u8)]) {
        // Call i is linearized at 4i; its invocation sits at 4(i - back) - 1 and its
        // return at 4(i + forward) + 1, so an invocation and a return never tie.
        let mut events: Vec<(i64, bool, usize)> = Vec::new();
        for (i, &(back, forward)) in stretches.iter().enumerate().take(history.len()) {
            let point = 4 * i as i64;
            events.push((point - 4 * i64::from(back) - 1, false, i));
            events.push((point + 4 * i64::from(forward) + 1, true, i));
        }
        events.sort_unstable();
        for (t, &(_, is_return, i)) in events.iter().enumerate() {
            if is_return {
                history[i].ret_at = t as u64;
            } else {
                history[i].call_at = t as u64;
            }
        }
    }

    fn deterministic() -> Config {
        Config {
            cases: 256,
            rng_seed: RngSeed::Fixed(0x5eed_0f11),
            failure_persistence: None,
            ..Config::default()
        }
    }

    proptest! {
        #![proptest_config(deterministic())]

        #[test]
        fn overlapping_intervals_around_a_sequential_run_are_linearizable(
            (order, mut history) in sequential_run(),
            stretches in proptest::collection::vec((0u8..3, 0u8..3), 24),
        ) {
            stretch(&mut history, &stretches);
            let model = list(order);
            match check(&model, &history, BUDGET) {
                Outcome::Linearizable(witness) => assert_witness(&model, &history, &witness),
                other => prop_assert!(false, "expected linearizable, got {:?}", other),
            }
        }

        #[test]
        fn a_wrong_return_in_a_sequential_history_is_not_linearizable(
            (order, mut history) in sequential_run(),
            pick in any::<prop::sample::Index>(),
        ) {
            let observers: Vec<usize> = (0..history.len())
                .filter(|&i| !matches!(history[i].op, ListOp::Add(_)))
                .collect();
            prop_assume!(!observers.is_empty());
            let i = observers[pick.index(observers.len())];
            history[i].ret = match &history[i].ret {
                ListRet::Removed(Some(x)) if x % 2 == 0 => ListRet::Removed(None),
                ListRet::Removed(Some(x)) => ListRet::Removed(Some(x + 1)),
                ListRet::Removed(None) => ListRet::Removed(Some(0)),
                ListRet::Snapshot(items) if items.is_empty() => ListRet::Snapshot(vec![0]),
                ListRet::Snapshot(items) => ListRet::Snapshot(items[1..].to_vec()),
                ListRet::Added => unreachable!("only removes and snapshots are picked"),
            };
            match check(&list(order), &history, BUDGET) {
                Outcome::NotLinearizable { longest_prefix, explanation, .. } => {
                    prop_assert_eq!(longest_prefix, (0..i).collect::<Vec<_>>());
                    let by_thread = format!("by thread {} returned {}", history[i].thread, history[i].ret);
                    prop_assert!(explanation.contains(&by_thread), "{}", explanation);
                }
                other => prop_assert!(false, "expected not linearizable, got {:?}", other),
            }
        }
    }
}
