//! Applying a run's stored items, exactly: each item whose reaction acts
//! is first checked against the target (the account read again and
//! compared with what the run read; a changed one is `stale` and not
//! touched), then its reaction runs as ordinary engine operations
//! (ordered, retried, audited, approvable), with idempotency keys so an
//! interrupted apply that resumes submits nothing twice.

use super::classify::orphan_identity;
use super::error::ReconError;
use super::index::texts;
use super::model::{Item, ItemResult, Outcome, Summary};
use crate::config::{Reaction, Situation};
use crate::engine::{Actor, Engine, OperationRequest};
use crate::model::names;
use crate::store::{AuditEvent, ReconItemRecord, ReconRunRecord, ReconWrite};
use futures_util::StreamExt;
use serde_json::json;

/// Items read from the store at once.
const BATCH: u32 = 200;
/// Items applied at once.
const CONCURRENCY: usize = 16;

pub async fn apply(
    engine: &Engine,
    record: &ReconRunRecord,
    summary: &mut Summary,
    actor: &Actor,
    stopping: Option<&tokio::sync::watch::Receiver<bool>>,
) -> Result<(), ReconError> {
    let store = engine.store();
    let mut after = 0;
    loop {
        // What was applied is recorded per batch; a stopped host resumes
        // with the rest (idempotency keys make a repeated item harmless).
        if stopping.is_some_and(|s| *s.borrow()) {
            return Err(ReconError::Stopping);
        }
        let rows = store.recon_items(&record.id, None, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let full = rows.len() as u32 == BATCH;
        let todo: Vec<(ReconItemRecord, Item)> = rows
            .into_iter()
            .filter_map(|row| {
                let item = serde_json::from_value::<Item>(row.item.clone()).ok()?;
                (item.acts() && item.outcome.is_none()).then_some((row, item))
            })
            .collect();
        // Items are distinct accounts: several at once, each one's
        // operations still in order.
        let outcomes: Vec<(ReconItemRecord, Item, Outcome)> = futures_util::stream::iter(todo)
            .map(|(row, item)| async move {
                let outcome = match stale(engine, record, &item).await {
                    Ok(Some(why)) => Outcome {
                        result: ItemResult::Stale,
                        detail: why,
                        operations: Vec::new(),
                    },
                    Ok(None) => react(engine, record, row.seq, &item, actor).await,
                    Err(e) => Outcome {
                        result: ItemResult::Failed,
                        detail: format!("the account could not be read again: {e}"),
                        operations: Vec::new(),
                    },
                };
                (row, item, outcome)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut changed = Vec::new();
        for (row, mut item, outcome) in outcomes {
            let counts = &mut summary.applied;
            match outcome.result {
                ItemResult::Applied => counts.applied += 1,
                ItemResult::Stale => counts.stale += 1,
                ItemResult::Failed => counts.failed += 1,
                ItemResult::Skipped => counts.skipped += 1,
            }
            counts.operations += outcome.operations.len() as u64;
            item.outcome = Some(outcome);
            changed.push(ReconItemRecord {
                seq: row.seq,
                situation: row.situation,
                item: json!(item),
            });
        }
        if !changed.is_empty() {
            store
                .write_recon(
                    ReconWrite::Items {
                        run: record.id.clone(),
                        items: changed,
                    },
                    Vec::new(),
                )
                .await?;
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// Why the item no longer holds, if it does not: the account changed (or
/// came back, or went) since the run read it, or its link did.
async fn stale(
    engine: &Engine,
    record: &ReconRunRecord,
    item: &Item,
) -> Result<Option<String>, ReconError> {
    let store = engine.store();
    let linked = store
        .link_by_uid(&record.target, &record.class, &item.uid)
        .await?
        .map(|l| l.identity);
    if item.situation == Situation::Deleted {
        if linked.as_deref() != item.identity.as_deref() {
            return Ok(Some("the link changed since the run".into()));
        }
        let back = engine
            .read_account(&record.target, &record.class, &item.uid, vec![])
            .await?;
        return Ok(back.map(|_| format!("account {} is on the target again", item.uid)));
    }
    let was_linked = matches!(item.situation, Situation::InSync | Situation::Drifted);
    if was_linked != linked.is_some()
        && !linked
            .as_deref()
            .is_some_and(|l| l.starts_with(crate::identity::ORPHAN_PREFIX))
    {
        return Ok(Some(if was_linked {
            "the account was unlinked since the run".into()
        } else {
            format!(
                "the account was linked to {} since the run",
                linked.unwrap_or_default()
            )
        }));
    }
    let attributes: Vec<String> = item
        .read
        .keys()
        .filter(|a| !a.eq_ignore_ascii_case(names::NAME))
        .cloned()
        .collect();
    let Some(account) = engine
        .read_account(&record.target, &record.class, &item.uid, attributes)
        .await?
    else {
        return Ok(Some(format!(
            "account {} is gone from the target",
            item.uid
        )));
    };
    let changed: Vec<&str> = item
        .read
        .iter()
        .filter(|(attribute, was)| texts(&account, attribute) != **was)
        .map(|(attribute, _)| attribute.as_str())
        .collect();
    Ok((!changed.is_empty()).then(|| {
        format!(
            "changed on the target since the run read it ({}): not touched",
            changed.join(", ")
        )
    }))
}

fn failed(detail: String, operations: Vec<String>) -> Outcome {
    Outcome {
        result: ItemResult::Failed,
        detail,
        operations,
    }
}

async fn react(
    engine: &Engine,
    record: &ReconRunRecord,
    seq: i64,
    item: &Item,
    actor: &Actor,
) -> Outcome {
    let (target, class) = (&record.target, &record.class);
    let identity = item.identity.clone().unwrap_or_default();
    match item.reaction {
        Reaction::Report => Outcome {
            result: ItemResult::Skipped,
            detail: "report only".into(),
            operations: Vec::new(),
        },
        Reaction::Link => {
            match engine
                .link(target, Some(class.clone()), &identity, &item.uid, actor)
                .await
            {
                Ok(_) => Outcome {
                    result: ItemResult::Applied,
                    detail: format!("linked to {identity}"),
                    operations: Vec::new(),
                },
                Err(e) => failed(e.to_string(), Vec::new()),
            }
        }
        Reaction::Unlink => match unlink(engine, record, &identity, actor).await {
            Ok(()) => Outcome {
                result: ItemResult::Applied,
                detail: format!("the link of {identity} to {} is removed", item.uid),
                operations: Vec::new(),
            },
            Err(e) => failed(e.to_string(), Vec::new()),
        },
        Reaction::Update | Reaction::Create => {
            if item.operations.is_empty() {
                return Outcome {
                    result: ItemResult::Skipped,
                    detail: "the policy map gives nothing to submit".into(),
                    operations: Vec::new(),
                };
            }
            if item.reaction == Reaction::Create
                && let Err(e) = unlink(engine, record, &identity, actor).await
            {
                return failed(e.to_string(), Vec::new());
            }
            submit_all(engine, record, seq, item, &identity, actor).await
        }
        Reaction::Disable | Reaction::Delete => {
            let orphan = orphan_identity(&item.uid);
            let holder = engine
                .store()
                .link_by_uid(target, class, &item.uid)
                .await
                .ok()
                .flatten();
            if holder.is_none()
                && let Err(e) = engine
                    .link(target, Some(class.clone()), &orphan, &item.uid, actor)
                    .await
            {
                return failed(e.to_string(), Vec::new());
            }
            let owner = holder.map_or(orphan, |l| l.identity);
            submit_all(engine, record, seq, item, &owner, actor).await
        }
    }
}

async fn unlink(
    engine: &Engine,
    record: &ReconRunRecord,
    identity: &str,
    actor: &Actor,
) -> Result<(), ReconError> {
    let audit = AuditEvent {
        actor: actor.to_owned(),
        target: Some(record.target.clone()),
        operation_id: None,
        event: "unlinked".into(),
        detail: json!({"class": record.class, "identity": identity, "run": record.id}),
    };
    engine
        .store()
        .remove_link(&record.target, &record.class, identity, audit)
        .await?;
    Ok(())
}

async fn submit_all(
    engine: &Engine,
    record: &ReconRunRecord,
    seq: i64,
    item: &Item,
    identity: &str,
    actor: &Actor,
) -> Outcome {
    let mut submitted = Vec::new();
    for (i, request) in item.operations.iter().enumerate() {
        let mut body = request.clone();
        if let Some(map) = body.as_object_mut() {
            map.insert("identity".into(), json!(identity));
            map.insert("class".into(), json!(record.class));
            map.insert(
                "idempotency_key".into(),
                json!(format!("recon:{}:{seq}:{i}", record.id)),
            );
        }
        let request: OperationRequest = match serde_json::from_value(body) {
            Ok(request) => request,
            Err(e) => return failed(format!("the stored operation is not valid: {e}"), submitted),
        };
        match engine.submit(&record.target, request, actor, None).await {
            Ok((operation, _)) => submitted.push(operation.id),
            Err(e) => return failed(e.to_string(), submitted),
        }
    }
    Outcome {
        result: ItemResult::Applied,
        detail: format!("{} operations submitted", submitted.len()),
        operations: submitted,
    }
}
