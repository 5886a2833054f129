//! Driving a runtime future to its end from synchronous code: loading a
//! connector (its `info` probe) and the [`Blocking`](super::Blocking) calls.

use std::cell::OnceCell;
use std::future::Future;
use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};

thread_local! {
    /// A runtime for threads that have none, built on first use.
    static OWN: OnceCell<Runtime> = const { OnceCell::new() };
}

/// Runs `future` to completion on the calling thread.
///
/// On a multi-threaded runtime's thread (a worker or its blocking pool) it
/// runs on that runtime, so I/O opened there (database pools, directory
/// connections) keeps working; a current-thread runtime cannot be blocked,
/// so the future runs on a scoped thread of its own; elsewhere it runs on a
/// runtime this thread keeps.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(|| on_own_runtime(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
        Err(_) => on_own_runtime(future),
    }
}

fn on_own_runtime<F: Future>(future: F) -> F::Output {
    OWN.with(|own| {
        own.get_or_init(|| {
            Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build a current-thread tokio runtime")
        })
        .block_on(future)
    })
}
