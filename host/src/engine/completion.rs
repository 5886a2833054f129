//! Waiters for operations to end, for callers that long-poll.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Completions {
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
}

impl Completions {
    /// A receiver that fires when `id` ends. Register before reading the
    /// operation's state, so an end in between is not missed.
    pub fn register(&self, id: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(id.to_owned()).or_default().push(tx);
        rx
    }

    /// Wakes everyone waiting for `id`.
    pub fn finished(&self, id: &str) {
        if let Some(waiters) = self.lock().remove(id) {
            for waiter in waiters {
                let _ = waiter.send(());
            }
        }
    }

    /// Forgets waiters that gave up (their receiver was dropped).
    pub fn forget_abandoned(&self, id: &str) {
        let mut waiters = self.lock();
        if let Some(list) = waiters.get_mut(id) {
            list.retain(|w| !w.is_closed());
            if list.is_empty() {
                waiters.remove(id);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<oneshot::Sender<()>>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}
