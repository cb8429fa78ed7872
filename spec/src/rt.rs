//! The runtime facade: the one module of racecourse that names std, loom or shuttle.
//!
//! Implementations of thread exercises are written once against the paths
//! `rt::sync`, `rt::thread`, `rt::cell` and `rt::hint`, inside
//! [`runtimes!`](crate::runtimes). The macro instantiates that source three times, with
//! `rt` bound to [`std`], [`loom`] and
//! [`shuttle`], so a single `cargo test` can run the same code on real
//! threads, under loom's exhaustive exploration and under shuttle's randomized
//! schedulers. No `--cfg` flag or `RUSTFLAGS` is involved.
//!
//! Every name re-exported below is listed explicitly: a name missing from one backend
//! must be a compile error in the facade, not a surprise in a student's crate.
//!
//! Every backend offers the same names with the same API: `Condvar::wait_while`,
//! `Condvar::wait_timeout` and a working `Barrier` exist under loom too (the facade
//! supplies them), and `rt::thread_local!` declares thread-local statics on each.
//!
//! ## What the backends do not model
//! Neither loom nor shuttle models time: `sleep` is a yield and timeouts never fire.
//! `Condvar::wait_timeout` compiles on every backend, but only real threads ever time
//! out: under the model checkers it is a wait for a notification, so a contract that
//! promises a timeout is checked on std alone. Shuttle treats every atomic as `SeqCst`;
//! loom weakens `SeqCst` to `AcqRel`.

macro_rules! cell_wrapper {
    () => {
        /// A cell with loom's closure-based API, backed by [`core::cell::UnsafeCell`].
        ///
        /// Under loom the same name is `loom::cell::UnsafeCell`, which reports two
        /// unsynchronized accesses as a causality violation; here the accesses are not
        /// tracked, so a data race is undefined behaviour as usual.
        #[derive(Debug, Default)]
        pub struct UnsafeCell<T: ?Sized>(::core::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            /// Wraps `data`.
            pub const fn new(data: T) -> Self {
                Self(::core::cell::UnsafeCell::new(data))
            }

            /// Unwraps the value.
            pub fn into_inner(self) -> T {
                self.0.into_inner()
            }
        }

        impl<T: ?Sized> UnsafeCell<T> {
            /// Calls `f` with a shared pointer to the value.
            ///
            /// The caller **must** guarantee that no `with_mut` access overlaps this one.
            pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            /// Calls `f` with a unique pointer to the value.
            ///
            /// The caller **must** guarantee that no other access overlaps this one.
            pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    };
}

/// Real OS threads and `std::sync`.
pub mod std {
    /// The backend's name, as it appears in test names and reports.
    pub const NAME: &str = "std";

    /// Synchronization primitives.
    pub mod sync {
        pub use ::std::sync::{
            Arc, Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
            RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
        };
        /// Atomic types.
        pub mod atomic {
            pub use ::std::sync::atomic::{
                fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    /// Threads.
    pub mod thread {
        pub use ::std::thread::{current, spawn, yield_now, JoinHandle, LocalKey};
    }

    /// Declares thread-local statics (`rt::thread_local! { static X: Cell<u32> = .. }`),
    /// read and written with `X.with(..)`. Write the initializer as a plain expression,
    /// not `const { .. }`: loom's macro does not take that form.
    pub use ::std::thread_local;

    /// Interior mutability.
    pub mod cell {
        cell_wrapper!();
    }

    /// Hints to the scheduler.
    pub mod hint {
        pub use ::std::hint::spin_loop;
    }
}

mod loom_sync;

/// loom's model of threads: exhaustive exploration of interleavings.
///
/// Its locks and condition variable are loom's, wrapped so that another thread can
/// run while a lock is held (loom alone treats a critical section as one step, so a
/// failing `try_lock` is never explored), and its `Barrier` is built from them (loom's
/// is a stub); see `rt/loom_sync.rs`.
pub mod loom {
    /// The backend's name, as it appears in test names and reports.
    pub const NAME: &str = "loom";

    /// Synchronization primitives.
    pub mod sync {
        pub use crate::rt::loom_sync::{
            Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
            RwLockWriteGuard,
        };
        pub use ::loom::sync::{Arc, WaitTimeoutResult};
        pub use ::std::sync::{TryLockError, TryLockResult};
        /// Atomic types.
        pub mod atomic {
            pub use ::loom::sync::atomic::{
                fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    /// Threads.
    pub mod thread {
        pub use ::loom::thread::{current, spawn, yield_now, JoinHandle, LocalKey};
    }

    /// Declares thread-local statics, one value per loom thread (loom's own).
    pub use ::loom::thread_local;

    /// Interior mutability, with loom's tracking of concurrent accesses.
    pub mod cell {
        pub use ::loom::cell::UnsafeCell;
    }

    /// Hints to the scheduler.
    pub mod hint {
        pub use ::loom::hint::spin_loop;
    }
}

/// shuttle's model of threads: randomized and PCT schedule exploration.
pub mod shuttle {
    /// The backend's name, as it appears in test names and reports.
    pub const NAME: &str = "shuttle";

    /// Synchronization primitives.
    pub mod sync {
        pub use ::shuttle::sync::{
            Arc, Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
            RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
        };
        /// Atomic types.
        pub mod atomic {
            pub use ::shuttle::sync::atomic::{
                fence, AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    /// Threads.
    pub mod thread {
        pub use ::shuttle::thread::{current, spawn, yield_now, JoinHandle, LocalKey};
    }

    /// Declares thread-local statics, one value per shuttle task (shuttle's own).
    pub use ::shuttle::thread_local;

    /// Interior mutability (shuttle does not track cell accesses).
    pub mod cell {
        cell_wrapper!();
    }

    /// Hints to the scheduler.
    pub mod hint {
        pub use ::shuttle::hint::spin_loop;
    }
}

/// Instantiates an implementation once per runtime.
///
/// The items inside are copied into three modules, `on_std`, `on_loom` and
/// `on_shuttle`, each of which binds the name `rt` to one backend of
/// [`racecourse_spec::rt`](crate::rt) and glob-imports the enclosing module. Write the
/// implementation against `rt::sync`, `rt::thread`, `rt::cell` and `rt::hint` and it
/// reads as plain std code:
///
/// ```
/// pub mod counter {
///     racecourse_spec::runtimes! {
///         use rt::sync::Mutex;
///
///         /// A counter behind one lock.
///         #[derive(Debug, Default)]
///         pub struct Locked(Mutex<u64>);
///
///         impl racecourse_spec::counter::Counter for Locked {
///             fn new() -> Self {
///                 Self::default()
///             }
///             fn with_lock<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
///                 f(&mut self.0.lock().unwrap())
///             }
///         }
///     }
/// }
/// // counter::on_std::Locked, counter::on_loom::Locked, counter::on_shuttle::Locked
/// # let _ = <counter::on_std::Locked as racecourse_spec::counter::Counter>::new();
/// ```
///
/// Reference implementations and student implementations use this same line.
///
/// ## Source in a file of its own
/// `runtimes!(include "body.rs");` instantiates the items of `body.rs` (a path relative
/// to the invoking file, as with `include!`) the same way. Tools that read source
/// without expanding macros, such as `cargo mutants`, never look inside a macro's
/// arguments; with the body in a file they can, if the invoking module also declares
/// it as a module that is never compiled:
///
/// ```ignore
/// racecourse_spec::runtimes!(include "locked.rs");
/// // For cargo-mutants only: it reads `locked.rs` through this declaration.
/// #[cfg(any())]
/// #[path = "locked.rs"]
/// mod source;
/// ```
///
/// A body file holds items only: no inner attributes or `//!` docs (`include!` does
/// not accept them); document the module in the invoking file.
#[macro_export]
macro_rules! runtimes {
    (include $file:literal) => {
        /// This module's implementation on real OS threads.
        pub mod on_std {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::std as rt;
            include!($file);
        }
        /// This module's implementation under loom's exhaustive exploration.
        pub mod on_loom {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::loom as rt;
            include!($file);
        }
        /// This module's implementation under shuttle's schedulers.
        pub mod on_shuttle {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::shuttle as rt;
            include!($file);
        }
    };
    ($($body:tt)*) => {
        /// This module's implementation on real OS threads.
        pub mod on_std {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::std as rt;
            $($body)*
        }
        /// This module's implementation under loom's exhaustive exploration.
        pub mod on_loom {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::loom as rt;
            $($body)*
        }
        /// This module's implementation under shuttle's schedulers.
        pub mod on_shuttle {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::rt::shuttle as rt;
            $($body)*
        }
    };
}
