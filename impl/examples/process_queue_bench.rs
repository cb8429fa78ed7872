//! The process Queue (E5 (P)) against Python's `multiprocessing.Queue`.
//!
//! ```text
//! cargo run --release -p racecourse-impl --example process_queue_bench [RUNS]
//! ```
//!
//! Each figure is a rate computed from the median batch time over RUNS batches
//! (default 20), with the rates of the p90 and p10 batch times as its spread:
//! - one-way: the parent puts a batch of items into the requests queue, the child
//!   gets them all and puts one acknowledgement into the replies queue (so the batch
//!   time includes delivery);
//! - round trips: the parent puts an item and waits for the child's echo through the
//!   replies queue, over and over.
//!
//! Both for 8-byte and 64 KiB items, through the reference ("Queue", `RingQueue`:
//! items through a ring in shared memory) and through `PipeQueue` (items through an
//! OS pipe). For each, the child is started once (spawn start method) with both
//! queues and serves every batch; start-up is not timed.
//!
//! The Queue is measured three times: where the scheduler puts the two processes,
//! both pinned to one CPU, and each pinned to a CPU of its own (`[one core]`, `[two
//! cores]`; on a machine with two CPUs or more): its ring spins while the other side
//! runs on another core, and sleeps at once when both share one.
//!
//! With `python3` on the PATH it runs `process_queue_bench.py` (beside this file) the
//! same way (two `multiprocessing.Queue`s of bytes, spawn start method), in the same
//! run, and prints the ratios. Issue 10's target: the reference at least 5x Python's
//! round trips.

mod common;

use common::{run_python, runs_arg, summary, timed, Placement, Summary};
use std::os::fd::OwnedFd;

use racecourse_impl::process::process_queue::{spawn_with_fds, PipeQueue};
use racecourse_impl::process::ring_queue::RingQueue;
use racecourse_spec::child_processes::Child;
use racecourse_spec::job::Job;
use racecourse_spec::process_queue::{ProcessQueue, QueueError, QueueHandle};

const SMALL: usize = 8;
const LARGE: usize = 64 * 1024;

/// Items per batch: (one-way, round trips), for small and large items.
const SMALL_BATCH: (u32, u32) = (20_000, 5_000);
const LARGE_BATCH: (u32, u32) = (2_000, 1_000);

const ECHO: u8 = 1;
const SINK: u8 = 2;
const QUIT: u8 = 3;

/// A command: what the child does with the next `count` items.
fn command(op: u8, count: u32) -> [u8; 5] {
    let mut c = [0; 5];
    c[0] = op;
    c[1..5].copy_from_slice(&count.to_le_bytes());
    c
}

/// A queue type measured here: what its child gets (the handle's token and the fds).
trait Measured: ProcessQueue {
    fn for_child(&self) -> Result<(String, Vec<OwnedFd>), QueueError>;
}

impl Measured for RingQueue {
    fn for_child(&self) -> Result<(String, Vec<OwnedFd>), QueueError> {
        RingQueue::for_child(self)
    }
}

impl Measured for PipeQueue {
    fn for_child(&self) -> Result<(String, Vec<OwnedFd>), QueueError> {
        PipeQueue::for_child(self)
    }
}

/// The child: opens both queues (`requests|replies`) and serves commands until QUIT.
fn served<Q: ProcessQueue>((handle, _): (QueueHandle, ())) -> Result<(), String> {
    let (requests, replies) = handle
        .0
        .split_once('|')
        .ok_or("the handle names two queues")?;
    let requests = Q::open(QueueHandle(requests.into())).map_err(|e| e.to_string())?;
    let replies = Q::open(QueueHandle(replies.into())).map_err(|e| e.to_string())?;
    loop {
        let c = requests.get().map_err(|e| e.to_string())?;
        let count = u32::from_le_bytes(c[1..5].try_into().map_err(|_| "a short command")?);
        match c[0] {
            QUIT => return Ok(()),
            op => {
                for _ in 0..count {
                    let item = requests.get().map_err(|e| e.to_string())?;
                    if op == ECHO {
                        replies.put(&item).map_err(|e| e.to_string())?;
                    }
                }
                if op == SINK {
                    replies.put(b"k").map_err(|e| e.to_string())?;
                }
            }
        }
    }
}
racecourse_impl::job!(static SERVED_RING: fn((QueueHandle, ())) -> () = served::<RingQueue>);
racecourse_impl::job!(static SERVED_PIPE: fn((QueueHandle, ())) -> () = served::<PipeQueue>);

/// A rate line: `count` items per batch, batch times `s` (ms); returns the median rate.
fn row(what: &str, count: u32, s: Summary) -> f64 {
    let rate = |ms: f64| f64::from(count) / (ms / 1e3);
    println!(
        "rust   {what:<48} {:>10.0} /s  (p90 batch {:.0} /s, p10 batch {:.0} /s; median batch {:.3} ms)",
        rate(s.median),
        rate(s.p90),
        rate(s.p10),
        s.median
    );
    rate(s.median)
}

/// Every row of queue type `Q` (named `name` in the rows), its child running `job`,
/// placed as `placement` says; returns the median rates, in the order of the Python
/// rows.
fn measure<Q: Measured>(
    name: &str,
    job: &'static Job<(QueueHandle, ()), ()>,
    runs: usize,
    placement: Placement,
) -> Vec<f64> {
    let name = format!("{name}{}", placement.name());
    let requests = Q::new(0).expect("a queue");
    let replies = Q::new(0).expect("a queue");
    let (a, mut pass) = requests.for_child().expect("the requests' fds");
    let (b, more) = replies.for_child().expect("the replies' fds");
    pass.extend(more);
    let child = placement
        .spawn(|| spawn_with_fds(job, (), format!("{a}|{b}"), pass))
        .expect("the child starts");
    let mut rates = Vec::new();
    let batch = |op: u8, count: u32, size: usize| {
        let item = vec![7u8; size];
        let time = || {
            timed(|| {
                requests.put(&command(op, count)).expect("put");
                for _ in 0..count {
                    requests.put(&item).expect("put");
                    if op == ECHO {
                        assert_eq!(replies.get().expect("get").len(), size);
                    }
                }
                if op == SINK {
                    assert_eq!(replies.get().expect("get"), b"k");
                }
            })
        };
        time();
        summary((0..runs).map(|_| time()).collect())
    };
    for (size, (one_way, trips), size_name) in
        [(SMALL, SMALL_BATCH, "8 B"), (LARGE, LARGE_BATCH, "64 KiB")]
    {
        rates.push(row(
            &format!("{name} one-way items, {size_name}"),
            one_way,
            batch(SINK, one_way, size),
        ));
        rates.push(row(
            &format!("{name} round trips, {size_name}"),
            trips,
            batch(ECHO, trips, size),
        ));
    }
    placement.release();
    requests.put(&command(QUIT, 0)).expect("put");
    child.join().expect("the child ends");
    rates
}

fn main() {
    let runs = runs_arg(20);
    let anywhere = Placement::Scheduler;
    let ours = measure::<RingQueue>("Queue", &SERVED_RING, runs, anywhere);
    let pipe = measure::<PipeQueue>("PipeQueue", &SERVED_PIPE, runs, anywhere);
    // The Queue's ring spins before it sleeps: pinned both to one CPU, then each to
    // its own.
    let pinned: Vec<_> = Placement::all()
        .into_iter()
        .filter(|&p| p != anywhere)
        .map(|p| (p, measure::<RingQueue>("Queue", &SERVED_RING, runs, p)))
        .collect();

    let names = [
        "one-way, 8 B",
        "round trips, 8 B",
        "one-way, 64 KiB",
        "round trips, 64 KiB",
    ];
    let counts = [SMALL_BATCH.0, SMALL_BATCH.1, LARGE_BATCH.0, LARGE_BATCH.1];
    let args: Vec<String> = std::iter::once(runs.to_string())
        .chain(counts.iter().map(u32::to_string))
        .collect();
    if let Some(python) = run_python("process_queue_bench.py", &args) {
        for (i, name) in names.iter().enumerate() {
            match python.get(i) {
                Some(&ms) => {
                    let py = f64::from(counts[i]) / (ms / 1e3);
                    println!(
                        "ratio  Queue / python, {name}: {:.1}x (python {py:.0} /s){}",
                        ours[i] / py,
                        if i % 2 == 1 { " (target >= 5x)" } else { "" }
                    );
                    for (placement, ours) in &pinned {
                        println!(
                            "ratio  Queue{} / python, {name}: {:.1}x{}",
                            placement.name(),
                            ours[i] / py,
                            if i % 2 == 1 { " (target >= 5x)" } else { "" }
                        );
                    }
                    println!("ratio  PipeQueue / python, {name}: {:.1}x", pipe[i] / py);
                }
                None => println!("ratio  {name}: python printed no median"),
            }
        }
    }
}
