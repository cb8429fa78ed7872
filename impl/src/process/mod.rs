//! Process implementations, and the machinery to run code in other processes safely.
//!
//! - [`child`]: supervised child processes (own process group, captured and capped
//!   output, bounded waits, the group killed and the child reaped in every case);
//! - [`child_processes`]: the E1/E6/L reference, one worker process per job
//!   ([`child_processes::Spawn`]);
//! - [`heartbeat`]: how a supervised process shows progress, so that only a stall
//!   (no progress over a window), never slowness, gets it killed;
//! - [`job`]: typed functions that run in worker processes ([`job!`](crate::job)), and
//!   how their arguments and results cross the boundary;
//! - [`worker`]: the spawn start method: a registered task runs in a fresh execution
//!   of the current binary, routed there by an ELF constructor before `main`;
//! - [`ring_pipe`]: the E5 Pipe reference, [`ring_pipe::RingPipe`], two rings in
//!   shared memory with OS pipes as doorbells;
//! - [`pipe`]: the second E5 Pipe, [`pipe::OsPipe`] (two OS pipes), and how a child
//!   gets its end of a pipe ([`pipe::spawn_child`]);
//! - [`process_queue`]: the second E5 process Queue, through an OS pipe,
//!   [`process_queue::PipeQueue`], and the bound and locks every queue here shares;
//! - [`ring`]: a byte stream through shared memory for one writer and one reader at
//!   a time, which wakes a sleeping side only when it sleeps ([`ring::Ring`]);
//! - [`ring_queue`]: the E5 process Queue reference, [`ring_queue::RingQueue`], its
//!   items through a ring in shared memory;
//! - [`shm`]: shared memory ([`shm::SharedMemory`]) and a robust process-shared mutex
//!   ([`shm::RobustMutex`]), and both in one region ([`shm::LockedRegion`]);
//! - [`shm_counter`]: the E5 shared value reference, [`shm_counter::RobustLocked`];
//! - [`shm_array`]: the E5 shared array reference, [`shm_array::RobustArray`];
//! - [`shm_list`]: the E4 process twin reference, [`shm_list::RobustList`];
//! - [`driver`]: the scenario runs the conformance suites call
//!   ([`driver::run_shm_counter`], [`driver::run_shm_array`]);
//! - [`mutants`]: wrong shared counters the suites must reject;
//! - [`must_pass`]: correct but unusual shared counters the suites must accept.
//!
//! Every way work in another process can fail reaches the caller as one
//! [`TaskError`]. The worker protocol and the rendezvous that exposes a missing lock
//! are described in `README.md` beside this file.

pub mod child;
pub mod child_processes;
pub mod driver;
mod error;
pub mod heartbeat;
pub mod job;
pub mod manager;
pub mod must_pass;
pub mod mutants;
pub mod pipe;
pub mod process_pool;
pub mod process_queue;
pub mod ring;
pub mod ring_pipe;
pub mod ring_queue;
pub mod serve;
pub mod shm;
pub mod shm_array;
pub mod shm_counter;
pub mod shm_list;
pub mod worker;

pub use error::{TaskError, TaskErrorKind};
