//! The loom suites over the reference implementations.

racecourse::shared_list! {
    runtimes: [loom],
    fifo => racecourse_impl::thread::shared_list { list: Fifo, program: Program },
    lifo => racecourse_impl::thread::shared_list { list: Lifo, program: Program },
}
