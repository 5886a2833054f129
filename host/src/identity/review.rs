//! Plans identities again when a date in them passes (a role's end, the
//! end date, the start date), so a role that ends at midnight is
//! deprovisioned then without anyone calling the API.

use super::service::Identities;
use std::time::Duration;

/// Who the audit log names for plans made at a review time.
pub const ACTOR: &str = "provisio:review";

impl Identities {
    /// Looks for identities due every `interval` until `stop` fires.
    pub fn spawn_reviews(&self, interval: Duration, stop: tokio::sync::watch::Receiver<bool>) {
        let identities = self.clone();
        let mut stop = stop;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                if let Err(e) = identities.review_due(ACTOR).await {
                    tracing::warn!("reviewing identities failed: {e}");
                }
            }
        });
    }
}
