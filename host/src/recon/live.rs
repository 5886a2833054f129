//! Live reconciliation: every `live` interval, ask the connector's `sync`
//! what changed since the last poll and classify only those accounts,
//! with the target's reactions and budget. Each poll that sees a change
//! is an ordinary run (`requested_by` is `provisio:live`): its items, its
//! budget and what it applied are read like any other run's.

use super::error::ReconError;
use super::model::{Item, RunState, Summary};
use super::run::Reconciliations;
use crate::model::{DeltaKind, SyncRequest};
use crate::store::ReconWrite;
use std::collections::HashMap;
use std::time::Duration;

pub const ACTOR: &str = "provisio:live";
/// Deltas asked for per `sync` call.
const BATCH: u32 = 500;
/// Batches one poll reads at most; the rest waits for the next poll.
const MAX_BATCHES: usize = 200;

impl Reconciliations {
    /// Polls `target` every `interval` until `stop`.
    pub(super) fn spawn_live(
        &self,
        target: String,
        interval: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let runs = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                match runs.poll(&target).await {
                    Ok(_) | Err(ReconError::Busy { .. }) => {}
                    Err(ReconError::Invalid { message, .. }) => {
                        tracing::warn!(%target, "live reconciliation stops: {message}");
                        return;
                    }
                    Err(e) => tracing::warn!(%target, "a live reconciliation poll failed: {e}"),
                }
            }
        });
    }

    /// One poll: the changes since the last, classified and acted on.
    /// Answers the run it made, if anything changed.
    pub async fn poll(&self, target: &str) -> Result<Option<String>, ReconError> {
        let engine = self.engine();
        if !engine.can_sync(target)? {
            return Err(ReconError::Invalid {
                field: format!("targets.{target}.reconciliation.live"),
                message: format!("the connector of target {target} has no sync"),
            });
        }
        let class = engine.class_name(target, None)?;
        let store = engine.store();
        let Some(token) = store.recon_cursor(target, &class).await? else {
            // The first poll marks "now": what exists is a full run's work.
            let token = engine.latest_sync_token(target, &class).await?;
            self.save_cursor(target, &class, token).await?;
            return Ok(None);
        };
        let mut order: Vec<String> = Vec::new();
        let mut latest: HashMap<String, bool> = HashMap::new();
        let mut next = token.clone();
        for _ in 0..MAX_BATCHES {
            let batch = engine
                .sync(
                    target,
                    SyncRequest {
                        class: class.clone(),
                        token: Some(next.clone()),
                        max_deltas: BATCH,
                    },
                )
                .await?;
            for delta in batch.deltas {
                let exists = delta.kind != DeltaKind::Delete;
                if latest.insert(delta.uid.clone(), exists).is_none() {
                    order.push(delta.uid);
                }
            }
            next = batch.token;
            if !batch.has_more {
                break;
            }
        }
        if order.is_empty() {
            if next != token {
                self.save_cursor(target, &class, next).await?;
            }
            return Ok(None);
        }
        let used = self.config(target)?.reactions.clone();
        let mut record = self
            .begin(target, &class, false, used.clone(), ACTOR)
            .await?;
        let id = record.id.clone();
        let outcome = self.classify_changes(&mut record, &order, &latest).await;
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        if let Err(e) = outcome {
            summary.error = Some(e.to_string());
            let audit = Self::ended(&record, RunState::Failed, &summary);
            self.save(&mut record, RunState::Failed, &summary, vec![audit])
                .await;
            self.release(target);
            return Err(e);
        }
        // The changes are stored with the run: the next poll starts after
        // them.
        self.save_cursor(target, &class, next).await?;
        let runs = self.clone();
        let target = target.to_owned();
        tokio::spawn(async move {
            runs.decide(record).await;
            runs.release(&target);
        });
        Ok(Some(id))
    }

    async fn save_cursor(
        &self,
        target: &str,
        class: &str,
        token: String,
    ) -> Result<(), ReconError> {
        self.engine()
            .store()
            .write_recon(
                ReconWrite::Cursor {
                    target: target.to_owned(),
                    class: class.to_owned(),
                    token,
                },
                Vec::new(),
            )
            .await?;
        Ok(())
    }

    /// Reads each changed account again (a delta need not carry the
    /// attributes compared) and classifies it; a deleted one is `deleted`
    /// when it was linked, and nothing when it was not.
    async fn classify_changes(
        &self,
        record: &mut crate::store::ReconRunRecord,
        order: &[String],
        latest: &HashMap<String, bool>,
    ) -> Result<(), ReconError> {
        let engine = self.engine();
        let target = record.target.clone();
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        let known = self.known(&target, &record.class).await?;
        summary.links = known.links.len() as u64;
        let reactions = summary.reactions_used.clone();
        let mut classifier =
            known.classifier(self.identities(), &target, &reactions, record.started_at);
        let mut items: Vec<Item> = Vec::new();
        for uid in order {
            let account = match latest.get(uid) {
                Some(true) => {
                    engine
                        .read_account(&target, &record.class, uid, known.attributes.clone())
                        .await?
                }
                _ => None,
            };
            match account {
                Some(account) => {
                    summary.seen += 1;
                    let protected = engine.protected_part(&target, &account)?;
                    items.push(classifier.account(account, protected).await?);
                }
                None => {
                    if let Some(identity) = known.links.identity_of(uid) {
                        items.push(classifier.deleted(identity, uid).await?);
                    }
                }
            }
        }
        summary.pages = 1;
        self.store_items(record, &mut summary, items).await
    }
}
