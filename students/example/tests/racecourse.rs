//! The whole racecourse suite for this submission: one line per exercise. Every check
//! runs in its own child process, so loom and shuttle never share one.

racecourse::shared_list!(mine => students_example::shared_list { list: Stack, program: Program });
racecourse::counter!(mine => students_example::counter { counter: Locked });
racecourse::rlock!(not_attempted);
racecourse::semaphore!(not_attempted);
racecourse::event!(not_attempted);
racecourse::io_fanout!(not_attempted);
racecourse::condition!(not_attempted);
racecourse::queue!(not_attempted);
racecourse::thread_local!(not_attempted);
racecourse::score_board!(not_attempted);
racecourse::executor!(not_attempted);
racecourse::shm_counter!(not_attempted);
racecourse::errors!(not_attempted);
racecourse::lecture!(not_attempted);
racecourse::process_pool!(not_attempted);
racecourse::pool_sizes!(not_attempted);
racecourse::cpu_bound!(not_attempted);
racecourse::child_processes!(not_attempted);
racecourse::shm_array!(not_attempted);
racecourse::pipe!(not_attempted);
racecourse::process_queue!(not_attempted);
racecourse::shm_list!(not_attempted);
racecourse::manager!(not_attempted);
