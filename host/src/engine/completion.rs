//! Waiters for operations to end, for callers that long-poll.

use crate::store::OperationRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

type Waiters = HashMap<String, Vec<oneshot::Sender<OperationRecord>>>;

#[derive(Default)]
pub struct Completions {
    waiters: Mutex<Waiters>,
}

impl Completions {
    /// A receiver that gets the operation when `id` ends. Register before
    /// reading the operation's state, so an end in between is not missed.
    pub fn register(&self, id: &str) -> oneshot::Receiver<OperationRecord> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(id.to_owned()).or_default().push(tx);
        rx
    }

    /// Hands the final operation to everyone waiting for it.
    pub fn finished(&self, record: &OperationRecord) {
        if let Some(waiters) = self.lock().remove(&record.id) {
            for waiter in waiters {
                let _ = waiter.send(record.clone());
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}
