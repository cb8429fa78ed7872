//! The reference process pool on real processes, beyond what the E2 suite asks of
//! every pool: what a caller gets when a callback panics, when two threads join at
//! once, and the errors of bad calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use racecourse_impl::process::process_pool::Pool;
use racecourse_spec::job::JobError;
use racecourse_spec::process_pool::{AsyncResult, Callbacks, PoolError, ProcessPool};

fn square(x: u64) -> Result<u64, String> {
    Ok(x * x)
}
racecourse_impl::job!(static SQUARE: fn(u64) -> u64 = square);

fn fail(x: u64) -> Result<u64, String> {
    Err(format!("no square for {x}"))
}
racecourse_impl::job!(static FAIL: fn(u64) -> u64 = fail);

/// Blocks until its pipe (named by its fd in the parent, as `/proc/<pid>/fd/<n>`)
/// reaches end of file: the job finishes when the test says so.
fn wait_for_eof(path: String) -> Result<u64, String> {
    use std::io::Read;
    let mut pipe = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let mut rest = Vec::new();
    pipe.read_to_end(&mut rest).map_err(|e| e.to_string())?;
    Ok(rest.len() as u64)
}
racecourse_impl::job!(static WAIT_FOR_EOF: fn(String) -> u64 = wait_for_eof);

#[test]
fn a_panicking_callback_keeps_the_result_and_the_pool() {
    let pool = Pool::new(1).unwrap();
    let callbacks = Callbacks::none().on_success(|_: &u64| panic!("a callback that panics"));
    let mut result = pool.apply_async(&SQUARE, 7, callbacks).unwrap();
    // A pool that loses the result with its handler would hang `get`: wait with a
    // bound far above the milliseconds this takes, so a regression fails, not hangs.
    assert_eq!(result.get_timeout(Duration::from_secs(60)), Ok(49));
    let callbacks = Callbacks::none().on_error(|_: &JobError| panic!("an error callback too"));
    let failed = pool.apply_async(&FAIL, 3, callbacks).unwrap().get();
    assert!(
        matches!(&failed, Err(PoolError::Job { index: 0, error: JobError::Failed(m) }) if m == "no square for 3"),
        "{failed:?}"
    );
    // The handler thread survived: the one-worker pool still serves.
    assert_eq!(pool.map(&SQUARE, vec![1, 2, 3]), Ok(vec![1, 4, 9]));
    pool.close();
    pool.join().unwrap();
}

#[test]
fn two_threads_joining_at_once_both_wait_for_the_work() {
    use std::os::fd::AsRawFd;
    let (reader, writer) = std::io::pipe().unwrap();
    let path = format!("/proc/{}/fd/{}", std::process::id(), reader.as_raw_fd());
    let pool = Arc::new(Pool::new(2).unwrap());
    let held = pool
        .apply_async(&WAIT_FOR_EOF, path, Callbacks::none())
        .unwrap();
    pool.close();
    let returned = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(3));
    let (done, joins) = mpsc::channel();
    for _ in 0..2 {
        let (pool, returned, start, done) = (
            Arc::clone(&pool),
            Arc::clone(&returned),
            Arc::clone(&start),
            done.clone(),
        );
        std::thread::spawn(move || {
            start.wait();
            let joined = pool.join();
            returned.fetch_add(1, Ordering::SeqCst);
            done.send(joined).unwrap();
        });
    }
    start.wait();
    // Neither join may return while the job is held; give a wrong one the chance.
    assert!(joins.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(returned.load(Ordering::SeqCst), 0, "a join returned early");
    drop(writer);
    drop(reader);
    for _ in 0..2 {
        let joined = joins.recv_timeout(Duration::from_secs(60));
        assert_eq!(
            joined,
            Ok(Ok(())),
            "a join did not return once the work was done"
        );
    }
    assert_eq!(held.get(), Ok(0));
}

#[test]
fn bad_calls_are_errors_that_say_what_to_do() {
    let zero = Pool::new(0).unwrap_err();
    assert_eq!(zero, PoolError::NoWorkers);
    assert!(zero.to_string().contains("at least one"), "{zero}");
    let pool = Pool::new(1).unwrap();
    let early = pool.join().unwrap_err();
    assert_eq!(early, PoolError::StillRunning);
    assert!(early.to_string().contains("close"), "{early}");
    pool.terminate();
    let after = pool.apply(&SQUARE, 2).unwrap_err();
    assert_eq!(after, PoolError::Terminated);
    assert!(after.to_string().contains("new pool"), "{after}");
}
