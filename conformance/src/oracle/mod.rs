//! Oracles: judges of recorded histories and outcomes.

pub mod census;
pub mod invariants;
pub mod linearizability;

/// Short constructors of list histories, shared by the oracles' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::linearizability::{Call, ListOp, ListRet};

    /// Any call by `thread`, invoked at `call_at`, returned at `ret_at`.
    pub(crate) fn call(
        thread: usize,
        op: ListOp,
        ret: ListRet,
        call_at: u64,
        ret_at: u64,
    ) -> Call<ListOp, ListRet> {
        Call {
            thread,
            op,
            ret,
            call_at,
            ret_at,
        }
    }

    /// `add(x)` by `thread`, invoked at `call_at`, returned at `ret_at`.
    pub(crate) fn add(thread: usize, x: u32, call_at: u64, ret_at: u64) -> Call<ListOp, ListRet> {
        call(thread, ListOp::Add(x), ListRet::Added, call_at, ret_at)
    }

    /// `remove() -> x` by `thread`.
    pub(crate) fn remove(
        thread: usize,
        x: Option<u32>,
        call_at: u64,
        ret_at: u64,
    ) -> Call<ListOp, ListRet> {
        call(thread, ListOp::Remove, ListRet::Removed(x), call_at, ret_at)
    }

    /// `snapshot() -> xs` by `thread`.
    pub(crate) fn snapshot(
        thread: usize,
        xs: &[u32],
        call_at: u64,
        ret_at: u64,
    ) -> Call<ListOp, ListRet> {
        call(
            thread,
            ListOp::Snapshot,
            ListRet::Snapshot(xs.to_vec()),
            call_at,
            ret_at,
        )
    }
}
