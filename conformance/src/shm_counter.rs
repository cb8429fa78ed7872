//! E5 shared value suite (processes): a counter in shared memory, incremented by 5
//! processes x 100 under a lock in the same shared memory.

/// The exercise's name in test names and reports.
pub const EXERCISE: &str = "shm_counter";

/// Generates the shared-memory counter tests (real processes).
///
/// `not_attempted` generates one ignored test saying so.
#[macro_export]
macro_rules! shm_counter {
    (not_attempted) => {
        mod shm_counter {
            #[test]
            #[ignore = "shm_counter not attempted"]
            fn not_attempted() {}
        }
    };
}
