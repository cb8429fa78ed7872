//! The std suites over the reference implementations.

racecourse::shared_list! {
    runtimes: [std],
    fifo => racecourse_impl::thread::shared_list { list: Fifo, program: Program },
    lifo => racecourse_impl::thread::shared_list { list: Lifo, program: Program },
}

racecourse::counter! {
    runtimes: [std],
    locked => racecourse_impl::thread::counter { counter: Locked },
}
