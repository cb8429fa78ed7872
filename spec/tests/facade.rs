//! The facade's promises under loom, checked directly with loom's own model runner.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use racecourse_spec::rt::loom as rt;

/// Regression (issue 5): loom treats a critical section that touches no other loom
/// object as one step, so a `try_lock` racing with a holder always found the lock free,
/// and a `remove` that gives up on a busy lock passed every loom scenario. The facade's
/// lock lets another thread run while it is held: some execution must see `try_lock`
/// fail, and some must see it succeed.
#[test]
fn loom_explores_a_try_lock_that_fails_while_the_lock_is_held() {
    let failed = Arc::new(AtomicUsize::new(0));
    let succeeded = Arc::new(AtomicUsize::new(0));
    let (f, s) = (Arc::clone(&failed), Arc::clone(&succeeded));
    loom::model(move || {
        let lock = rt::sync::Arc::new(rt::sync::Mutex::new(0u32));
        let holder = {
            let lock = rt::sync::Arc::clone(&lock);
            rt::thread::spawn(move || *lock.lock().unwrap() += 1)
        };
        match lock.try_lock() {
            Ok(mut n) => {
                *n += 1;
                s.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                f.fetch_add(1, Ordering::Relaxed);
            }
        }
        holder.join().unwrap();
    });
    assert!(
        failed.load(Ordering::Relaxed) > 0,
        "no execution saw the lock held"
    );
    assert!(
        succeeded.load(Ordering::Relaxed) > 0,
        "no execution found the lock free"
    );
}

/// The same for a reader-writer lock: a `try_write` while a reader holds the lock.
#[test]
fn loom_explores_a_try_write_that_fails_while_a_reader_holds_the_lock() {
    let failed = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&failed);
    loom::model(move || {
        let lock = rt::sync::Arc::new(rt::sync::RwLock::new(0u32));
        let reader = {
            let lock = rt::sync::Arc::clone(&lock);
            rt::thread::spawn(move || *lock.read().unwrap())
        };
        if lock.try_write().is_err() {
            f.fetch_add(1, Ordering::Relaxed);
        }
        reader.join().unwrap();
    });
    assert!(
        failed.load(Ordering::Relaxed) > 0,
        "no execution saw the reader"
    );
}

/// loom's own `Barrier` is a stub that panics; the facade's releases every waiter
/// together and names one leader, in every interleaving.
#[test]
fn loom_barrier_releases_all_and_names_one_leader() {
    loom::model(|| {
        let barrier = rt::sync::Arc::new(rt::sync::Barrier::new(2));
        let arrived = rt::sync::Arc::new(rt::sync::atomic::AtomicUsize::new(0));
        let other = {
            let (barrier, arrived) = (
                rt::sync::Arc::clone(&barrier),
                rt::sync::Arc::clone(&arrived),
            );
            rt::thread::spawn(move || {
                arrived.fetch_add(1, rt::sync::atomic::Ordering::SeqCst);
                let leader = barrier.wait().is_leader();
                assert_eq!(arrived.load(rt::sync::atomic::Ordering::SeqCst), 2);
                leader
            })
        };
        arrived.fetch_add(1, rt::sync::atomic::Ordering::SeqCst);
        let leader = barrier.wait().is_leader();
        assert_eq!(arrived.load(rt::sync::atomic::Ordering::SeqCst), 2);
        assert!(leader ^ other.join().unwrap(), "exactly one leader");
    });
}

/// `wait_while` exists under loom too, and sees the notifier's write.
#[test]
fn loom_condvar_wait_while_sees_the_write() {
    loom::model(|| {
        let pair = rt::sync::Arc::new((rt::sync::Mutex::new(false), rt::sync::Condvar::new()));
        let setter = {
            let pair = rt::sync::Arc::clone(&pair);
            rt::thread::spawn(move || {
                *pair.0.lock().unwrap() = true;
                pair.1.notify_all();
            })
        };
        let ready = pair
            .1
            .wait_while(pair.0.lock().unwrap(), |ready| !*ready)
            .unwrap();
        assert!(*ready);
        drop(ready);
        setter.join().unwrap();
    });
}

/// `rt::thread_local!` gives each loom thread its own value, starting from the initial
/// one.
#[test]
fn loom_thread_locals_are_per_thread() {
    loom::model(|| {
        rt::thread_local! {
            static SEEN: std::cell::Cell<u32> = std::cell::Cell::new(7);
        }
        SEEN.with(|s| s.set(1));
        let other = rt::thread::spawn(|| SEEN.with(|s| s.get()));
        assert_eq!(other.join().unwrap(), 7);
        assert_eq!(SEEN.with(|s| s.get()), 1);
    });
}
