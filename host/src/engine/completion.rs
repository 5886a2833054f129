//! Waiters for operations to end, for callers that long-poll.
//!
//! A waiter is registered before the operation's state is read, so an end
//! in between is not missed, and it removes itself when dropped, on every
//! path out (the operation ended, the wait timed out, the id was unknown,
//! the client went away): nothing a caller does leaves an entry behind.

use crate::store::OperationRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

type Waiters = HashMap<String, Vec<oneshot::Sender<OperationRecord>>>;

#[derive(Default)]
pub struct Completions {
    waiters: Mutex<Waiters>,
}

/// One caller waiting for one operation; unregisters itself when dropped.
pub struct Waiter<'a> {
    completions: &'a Completions,
    id: String,
    receiver: oneshot::Receiver<OperationRecord>,
}

impl Waiter<'_> {
    /// The operation, once it ends; None if the host dropped the waiter.
    pub async fn ended(&mut self) -> Option<OperationRecord> {
        (&mut self.receiver).await.ok()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.receiver.close();
        self.completions.forget_closed(&self.id);
    }
}

impl Completions {
    /// A waiter that gets the operation when `id` ends.
    pub fn register(&self, id: &str) -> Waiter<'_> {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.lock();
        waiters.entry(id.to_owned()).or_default().push(tx);
        metrics::gauge!("provisio_waiters").set(waiters.len() as f64);
        Waiter {
            completions: self,
            id: id.to_owned(),
            receiver: rx,
        }
    }

    /// Hands the final operation to everyone waiting for it.
    pub fn finished(&self, record: &OperationRecord) {
        let waiters = {
            let mut waiters = self.lock();
            let mine = waiters.remove(&record.id);
            metrics::gauge!("provisio_waiters").set(waiters.len() as f64);
            mine
        };
        for waiter in waiters.into_iter().flatten() {
            let _ = waiter.send(record.clone());
        }
    }

    /// Operations waited for right now.
    #[cfg(test)]
    pub fn waited_for(&self) -> usize {
        self.lock().len()
    }

    fn forget_closed(&self, id: &str) {
        let mut waiters = self.lock();
        if let Some(list) = waiters.get_mut(id) {
            list.retain(|w| !w.is_closed());
            if list.is_empty() {
                waiters.remove(id);
            }
        }
        metrics::gauge!("provisio_waiters").set(waiters.len() as f64);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl super::Engine {
    /// The operation `id` once it has ended (now, if it already has), or
    /// `None` when it has not within `within` or does not exist.
    pub async fn ended(&self, id: &str, within: std::time::Duration) -> Option<OperationRecord> {
        let mut waiter = self.shared.completions.register(id);
        // It may have ended before the waiter was registered.
        match self.shared.store.operation(id).await.ok()? {
            Some(record) if record.status.is_final() => return Some(record),
            None => return None,
            Some(_) => {}
        }
        tokio::time::timeout(within, waiter.ended())
            .await
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_leaves_nothing_behind_on_any_path() {
        let completions = Completions::default();
        {
            let _unknown = completions.register("no-such-operation");
            let _twice = completions.register("no-such-operation");
            assert_eq!(completions.waited_for(), 1);
        }
        assert_eq!(completions.waited_for(), 0, "dropped without an end");
        let kept = completions.register("a");
        drop(completions.register("a"));
        assert_eq!(completions.waited_for(), 1, "the other waiter stays");
        drop(kept);
        assert_eq!(completions.waited_for(), 0);
    }
}
