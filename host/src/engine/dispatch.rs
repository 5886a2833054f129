//! The loop that runs a target's operations, and one attempt's bookkeeping.

use super::Shared;
use super::deployment::{Lease, Purpose};
use super::execute::{Attempt, Outcome};
use super::policy::backoff;
use super::queue::Next;
use super::request::Work;
use super::sync::lock;
use super::target::Target;
use crate::store::{AuditEvent, Change, ErrorRecord, OperationRecord, Status, StoreError, now_ms};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

/// Runs until the engine shuts down: takes the next ready operation of the
/// target, within its concurrency, rate limit and quarantine.
pub(super) async fn dispatch(target: Arc<Target>, shared: Arc<Shared>) {
    loop {
        let wake = target.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if shared.is_shutting_down() {
            return;
        }
        if target.held().is_some() {
            wake.await;
            continue;
        }
        let permit = match target.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Every slot is busy; a finishing attempt wakes us.
                wake.await;
                continue;
            }
        };
        let next = target.queue().next(now_ms());
        match next {
            Next::Run(_, id) => {
                pace(&target).await;
                tokio::spawn(run_attempt(target.clone(), shared.clone(), id, permit));
            }
            Next::Wait(due) => {
                drop(permit);
                match due {
                    Some(due) => {
                        let wait = Duration::from_millis((due - now_ms()).max(1) as u64);
                        let _ = tokio::time::timeout(wait, wake).await;
                    }
                    None => wake.await,
                }
            }
        }
    }
}

/// Waits for a token of the target's rate limit.
async fn pace(target: &Target) {
    let Some(bucket) = target.policy().bucket.clone() else {
        return;
    };
    loop {
        let wait = match lock(&bucket).try_take(Instant::now()) {
            Ok(()) => return,
            Err(wait) => wait,
        };
        tokio::time::sleep(wait).await;
    }
}

fn event(
    actor: &str,
    record: &OperationRecord,
    event: impl Into<String>,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        actor: actor.into(),
        target: Some(record.target.clone()),
        operation_id: Some(record.id.clone()),
        event: event.into(),
        detail,
    }
}

async fn run_attempt(
    target: Arc<Target>,
    shared: Arc<Shared>,
    id: String,
    permit: OwnedSemaphorePermit,
) {
    let lease = target.lease_for(Purpose::Operation);
    let connector = lease.label();
    let started = shared
        .store
        .apply(Change {
            id: id.clone(),
            expected: vec![Status::Queued, Status::Retrying, Status::Running],
            status: Some(Status::Running),
            increment_attempts: true,
            mark_started: true,
            connector: Some(connector.clone()),
            audit: vec![AuditEvent {
                actor: "engine".into(),
                target: Some(target.name.clone()),
                operation_id: Some(id.clone()),
                event: "status:running".into(),
                detail: json!({"connector": connector, "sha256": lease.version.sha256}),
            }],
            ..Change::default()
        })
        .await;
    let record = match started {
        // Normal failures end at max_attempts; past it only a loop that
        // never recorded an outcome (a store refusing it, a host killed
        // again and again mid-attempt) is left: end it.
        Ok(record) if record.attempts > record.max_attempts => {
            let change = Change {
                id: record.id.clone(),
                expected: vec![Status::Running],
                status: Some(Status::Failed),
                error: Some(Some(ErrorRecord {
                    code: "attempts-exhausted".into(),
                    message: format!(
                        "{} attempts started without an outcome being recorded (max_attempts {})",
                        record.attempts - 1,
                        record.max_attempts
                    ),
                    retryable: false,
                })),
                next_attempt_at: Some(None),
                erase_secret: true,
                audit: vec![event(
                    "engine",
                    &record,
                    "status:failed",
                    json!({"error": "attempts-exhausted"}),
                )],
                ..Change::default()
            };
            let ended = shared.store.apply(change).await;
            let status = ended.as_ref().map_or(Status::Retrying, |r| r.status);
            target
                .queue()
                .finish(&id, status, (!status.is_final()).then(|| now_ms() + 1000));
            if let Ok(done) = ended {
                shared.completions.finished(&done);
            }
            target.wake.notify_one();
            return;
        }
        Ok(record) => record,
        Err(StoreError::Conflict { current, .. }) => {
            // Cancelled (or otherwise settled) while it waited.
            target.queue().finish(&id, current, None);
            target.wake.notify_one();
            return;
        }
        Err(e) => {
            tracing::error!(target = %target.name, operation = %id, "cannot start the operation: {e}");
            target
                .queue()
                .finish(&id, Status::Retrying, Some(now_ms() + 1000));
            target.wake.notify_one();
            return;
        }
    };
    run_started(target, shared, record, permit, lease).await;
}

/// Runs an attempt whose operation is already recorded as running on the
/// leased version.
pub(super) async fn run_started(
    target: Arc<Target>,
    shared: Arc<Shared>,
    record: OperationRecord,
    permit: OwnedSemaphorePermit,
    lease: Lease,
) {
    let span = tracing::info_span!("operation", operation = %record.id, target = %record.target,
        kind = %record.kind, identity = %record.identity, attempt = record.attempts);
    attempt(target, shared, record, permit, lease)
        .instrument(span)
        .await
}

async fn attempt(
    target: Arc<Target>,
    shared: Arc<Shared>,
    record: OperationRecord,
    _permit: OwnedSemaphorePermit,
    lease: Lease,
) {
    let connector = lease.label();

    let mut attempt = Attempt::new(
        &target,
        lease.connector.clone(),
        shared.store.as_ref(),
        &record,
    );
    let outcome = match work_of(&shared, &record).await {
        Ok(work) => attempt.run(work).await,
        Err(error) => Outcome::Failed(super::execute::Failure {
            error,
            retry_after: None,
            fault: super::execute::Fault::Request,
        }),
    };
    let calls = std::mem::take(&mut attempt.calls);
    lease.record_calls(
        calls.len() as u64,
        calls
            .iter()
            .filter(|c| c.fault.is_some_and(|f| f.counts_against_version()))
            .count() as u64,
    );

    let mut audit: Vec<AuditEvent> = calls
        .iter()
        .map(|call| {
            event(
                "engine",
                &record,
                "call",
                json!({
                    "connector": connector,
                    "sha256": lease.version.sha256,
                    "operation": call.operation,
                    "identity": record.identity,
                    "uid": call.uid,
                    "name": call.name,
                    "attributes": call.attributes,
                    "outcome": if call.error.is_some() { "error" } else { "ok" },
                    "duration_ms": call.duration.as_secs_f64() * 1000.0,
                    "error": call.error,
                    "shared_by": call.shared_by,
                }),
            )
        })
        .collect();
    // The connector's work is done: the version may drain.
    drop(lease);
    let mut delay_ms = None;
    let (status, due, change) = match outcome {
        Outcome::Succeeded { result, link } => (
            Status::Succeeded,
            None,
            Change {
                status: Some(Status::Succeeded),
                result: Some(result),
                link,
                error: Some(None),
                next_attempt_at: Some(None),
                erase_secret: true,
                ..Change::default()
            },
        ),
        Outcome::Failed(failure)
            if failure.error.retryable && record.attempts < record.max_attempts =>
        {
            let delay = backoff(
                &target.policy().config.retry,
                record.attempts,
                failure.retry_after,
            );
            let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            delay_ms = Some(millis);
            let due = now_ms().saturating_add(i64::try_from(millis).unwrap_or(i64::MAX));
            metrics::counter!("provisio_retries_total", "target" => target.name.clone())
                .increment(1);
            (
                Status::Retrying,
                Some(due),
                Change {
                    status: Some(Status::Retrying),
                    error: Some(Some(failure.error)),
                    next_attempt_at: Some(Some(due)),
                    ..Change::default()
                },
            )
        }
        Outcome::Failed(failure) => (
            Status::Failed,
            None,
            Change {
                status: Some(Status::Failed),
                error: Some(Some(failure.error)),
                next_attempt_at: Some(None),
                erase_secret: true,
                ..Change::default()
            },
        ),
    };
    audit.push(event(
        "engine",
        &record,
        format!("status:{status}"),
        json!({
            "attempt": record.attempts,
            "error": change.error.clone().flatten(),
            "next_attempt_at": due,
            "delay_ms": delay_ms,
        }),
    ));
    let change = Change {
        id: record.id.clone(),
        expected: vec![Status::Running],
        audit,
        ..change
    };
    // Kept for the case the operation was cancelled while it ran.
    let (made, link) = (
        json!({"error": change.error.clone().flatten(), "result": change.result}),
        change.link.clone(),
    );
    match shared.store.apply(change).await {
        Ok(done) => {
            target.queue().finish(&record.id, status, due);
            record_metrics(&target, &done);
            if status.is_final() {
                shared.completions.finished(&done);
            }
        }
        Err(StoreError::Conflict { current, .. }) if current.is_final() => {
            // Cancelled while the attempt ran: it stays cancelled, and what
            // the attempt did is recorded, with the account it made linked
            // (an account nobody links would be lost to Provisio).
            let mut after = vec![event(
                "engine",
                &record,
                "attempt-ended-after-cancel",
                json!({"outcome": status, "made": made}),
            )];
            if let Some(crate::store::LinkChange::Put(link)) = link {
                let linked = event(
                    "engine",
                    &record,
                    "linked",
                    json!({"uid": link.uid, "class": link.class}),
                );
                if let Err(e) = shared.store.put_link(link, linked).await {
                    tracing::error!("cannot link what a cancelled attempt made: {e}");
                }
            }
            if let Err(e) = shared.store.append_audit(std::mem::take(&mut after)).await {
                tracing::error!("cannot record a cancelled attempt's end: {e}");
            }
            target.queue().finish(&record.id, current, None);
        }
        Err(StoreError::AlreadyLinked { identity, uid, .. }) => {
            // The account it made or found is another identity's: the
            // operation fails, the link stays whose it was.
            let refused = Change {
                id: record.id.clone(),
                expected: vec![Status::Running],
                status: Some(Status::Failed),
                error: Some(Some(ErrorRecord {
                    code: "conflict".into(),
                    message: format!("account {uid} is linked to identity {identity}"),
                    retryable: false,
                })),
                next_attempt_at: Some(None),
                erase_secret: true,
                audit: vec![event(
                    "engine",
                    &record,
                    "status:failed",
                    json!({"error": "conflict", "uid": uid}),
                )],
                ..Change::default()
            };
            match shared.store.apply(refused).await {
                Ok(done) => {
                    target.queue().finish(&record.id, Status::Failed, None);
                    shared.completions.finished(&done);
                }
                Err(e) => {
                    tracing::error!("cannot record the outcome: {e}");
                    target
                        .queue()
                        .finish(&record.id, Status::Retrying, Some(now_ms() + 1000));
                }
            }
        }
        Err(e) => {
            // The row still says running: on restart it runs again (and a
            // create finds its account); here, try again shortly (the
            // attempt cap above ends a loop).
            tracing::error!("cannot record the outcome: {e}");
            target
                .queue()
                .finish(&record.id, Status::Retrying, Some(now_ms() + 1000));
        }
    }
    shared.note_calls(&target, &calls).await;
    target.wake.notify_one();
}

/// The work of an operation, with its password unsealed when it has one.
async fn work_of(shared: &Shared, record: &OperationRecord) -> Result<Work, ErrorRecord> {
    let corrupt = |message: String| ErrorRecord {
        code: "corrupt".into(),
        message,
        retryable: false,
    };
    let kind = record.kind;
    let sealed = if record.has_secret {
        shared
            .store
            .sealed_secret(&record.id)
            .await
            .map_err(|e| ErrorRecord {
                code: "store".into(),
                message: e.to_string(),
                retryable: true,
            })?
    } else {
        None
    };
    let password = match sealed {
        Some(sealed) => {
            let plain = shared
                .key
                .open(&sealed)
                .map_err(|e| corrupt(e.to_string()))?;
            Some(
                String::from_utf8(plain)
                    .map_err(|_| corrupt("the sealed password is not UTF-8".into()))?,
            )
        }
        None => None,
    };
    Work::from_payload(kind, &record.payload, password.as_deref()).map_err(corrupt)
}

fn record_metrics(target: &Target, record: &OperationRecord) {
    let name = target.name.clone();
    metrics::counter!("provisio_operations_total", "target" => name.clone(), "status" => record.status.as_str())
        .increment(1);
    if let Some(finished) = record.finished_at {
        let seconds = (finished - record.created_at).max(0) as f64 / 1000.0;
        metrics::histogram!("provisio_operation_duration_seconds", "target" => name.clone())
            .record(seconds);
    }
    let queue = target.queue();
    metrics::gauge!("provisio_queue_depth", "target" => name.clone()).set(queue.len() as f64);
    metrics::gauge!("provisio_running", "target" => name).set(queue.running() as f64);
}
