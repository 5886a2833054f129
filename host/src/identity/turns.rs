//! Turns taken in a fixed order. A source run plans its joiners one at a
//! time in the file's order, so that of two Will Smiths the first row gets
//! `smithw` on every run, and submits the plans made several at once: the
//! store commits of one joiner after another were most of a run's time.

use tokio::sync::watch;

pub struct Turns {
    next: watch::Sender<usize>,
}

impl Default for Turns {
    fn default() -> Self {
        Turns {
            next: watch::channel(0).0,
        }
    }
}

impl Turns {
    /// Waits for turn `n`: every turn before it taken and ended. Each of
    /// `0, 1, 2, …` must be taken once, or the later ones wait for ever.
    pub async fn take(&self, n: usize) -> Turn<'_> {
        let mut next = self.next.subscribe();
        // `self` holds the sender, so the wait cannot fail.
        let _ = next.wait_for(|next| *next == n).await;
        Turn { turns: self }
    }
}

/// A turn being taken; the next begins when it is dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.next.send_modify(|next| *next += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn turns_run_in_order_whatever_order_they_are_asked_in() {
        let turns = Turns::default();
        let order = Mutex::new(Vec::new());
        let take = |n: usize| {
            let (turns, order) = (&turns, &order);
            async move {
                let _turn = turns.take(n).await;
                tokio::task::yield_now().await;
                order.lock().unwrap().push(n);
            }
        };
        futures_util::future::join_all([3, 1, 0, 4, 2].map(take)).await;
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
    }
}
