//! Submission: a request validated against the target, recorded durably
//! with its audit rows, and then started at once when nothing stands in
//! its way, or queued.

use super::completion::Waiter;
use super::deployment::{Lease, Purpose};
use super::error::EngineError;
use super::queue::{AccountKey, Entry};
use super::request::{OperationKind, OperationRequest, RequestError, Rules, Validated};
use super::sync::lock;
use super::target::Target;
use super::{Actor, Engine, dispatch};
use crate::config::OnDelete;
use crate::store::{AuditEvent, NewOperation, OperationRecord, Status, Submitted, now_ms};
use serde_json::json;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// A slot to run an operation the moment it is recorded: an instance
/// permit and the version it runs on.
type StartSlot = (OwnedSemaphorePermit, Lease);

/// What a submission recorded.
struct Recorded<'a> {
    record: OperationRecord,
    /// An earlier operation with the same idempotency key was returned.
    replayed: bool,
    /// Fires when the operation ends, when the caller waits for it.
    finished: Option<Waiter<'a>>,
}

impl Engine {
    /// Stores an operation and starts or queues it. With `wait`, answers
    /// when the operation ends or `wait` passes, whichever is first; the
    /// operation is durable either way before anything runs. The flag says
    /// the idempotency key returned an earlier operation.
    pub async fn submit(
        &self,
        target_name: &str,
        request: OperationRequest,
        actor: &Actor,
        wait: Option<Duration>,
    ) -> Result<(OperationRecord, bool), EngineError> {
        let Recorded {
            record,
            replayed,
            finished,
        } = self
            .record(target_name, request, actor, wait.is_some(), false)
            .await?;
        let (Some(wait), Some(mut finished)) = (wait, finished) else {
            return Ok((record, replayed));
        };
        if record.status.is_final() || record.status.waits_for_a_person() {
            return Ok((record, replayed));
        }
        match tokio::time::timeout(wait, finished.ended()).await {
            Ok(Some(record)) => Ok((record, replayed)),
            _ => Ok((self.operation(&record.id).await?, replayed)),
        }
    }

    /// Stores an operation that goes ahead of every other account's queued
    /// work on the target, and of its own account's (after the attempt
    /// running, if one is): a kill switch's disable.
    pub async fn submit_urgent(
        &self,
        target_name: &str,
        request: OperationRequest,
        actor: &Actor,
    ) -> Result<OperationRecord, EngineError> {
        Ok(self
            .record(target_name, request, actor, false, true)
            .await?
            .record)
    }

    async fn record(
        &self,
        target_name: &str,
        request: OperationRequest,
        actor: &Actor,
        wait: bool,
        urgent: bool,
    ) -> Result<Recorded<'_>, EngineError> {
        let target = self.target(target_name)?;
        let schema = target.schema();
        let policy = target.policy();
        let validated = request.validate(&Rules {
            default_class: &policy.config.class,
            schema: schema.as_ref(),
            max_attributes: policy.config.max_attributes,
        })?;
        supported(target, &validated)?;
        let id = uuid::Uuid::now_v7().to_string();
        // Registered before the operation can start, so its end is not missed.
        let finished = wait.then(|| self.shared.completions.register(&id));
        let account = (validated.class.clone(), validated.identity.clone());
        // When the operation can start right away, it is recorded already
        // running: one commit instead of two, and no hop through the
        // dispatcher. The record is still durable before the connector is
        // called, so a crash cannot hide an attempt.
        let needs_approval = policy.approval.applies(&validated);
        if needs_approval {
            self.refuse_if_protected(target, &validated).await?;
        }
        let slot = (!needs_approval)
            .then(|| self.start_now(target, &account, &id, urgent))
            .flatten()
            .map(|permit| (permit, target.lease_for(Purpose::Operation)));
        let (operation, audit) =
            self.new_operation(target, &id, validated, &slot, needs_approval, actor);
        let submitted = self.shared.store.submit(operation, audit).await;
        let undo = |finished: Option<Waiter<'_>>| {
            if slot.is_some() {
                target.queue().finish(&id, Status::Cancelled, None);
                target.wake.notify_one();
            }
            drop(finished);
        };
        match submitted {
            Ok(Submitted::Created(record)) => {
                metrics::counter!("provisio_operations_submitted_total", "target" => target_name.to_owned()).increment(1);
                self.start_or_queue(target, &record, account, slot, urgent);
                Ok(Recorded {
                    record,
                    replayed: false,
                    finished,
                })
            }
            Ok(Submitted::Existing(record)) => {
                undo(finished);
                let finished = wait.then(|| self.shared.completions.register(&record.id));
                // The earlier operation may have ended before the waiter was
                // registered: read it again.
                let record = match finished {
                    Some(_) => self.operation(&record.id).await?,
                    None => record,
                };
                Ok(Recorded {
                    record,
                    replayed: true,
                    finished,
                })
            }
            Err(e) => {
                undo(finished);
                Err(e.into())
            }
        }
    }

    /// An operation that will wait for approval is checked against the
    /// protected filter now, so that an approver is never asked to approve
    /// what would be refused. (Execution checks again: the account may
    /// change while it waits.) A target that cannot answer now is left to
    /// that check.
    async fn refuse_if_protected(
        &self,
        target: &Target,
        validated: &Validated,
    ) -> Result<(), EngineError> {
        let policy = target.policy();
        let Some(protection) = &policy.protection else {
            return Ok(());
        };
        if validated.kind == OperationKind::Create {
            return Ok(());
        }
        let Some(link) = self
            .shared
            .store
            .link(&target.name, &validated.class, &validated.identity)
            .await?
        else {
            return Ok(());
        };
        let lease = target.lease();
        let account = lease
            .connector
            .get(
                validated.class.clone(),
                link.uid.clone(),
                protection.attributes(),
            )
            .await;
        match account
            .ok()
            .and_then(|a| Some((protection.matched_part(&a)?, a.name)))
        {
            Some((part, name)) => Err(EngineError::Protected(format!(
                "account {} ({name}) is protected on target {}: it matches `{part}` of the protected filter; it is never changed",
                link.uid, target.name
            ))),
            None => Ok(()),
        }
    }

    /// The row to store and its audit rows (`submitted`, and
    /// `status:running` when it starts at once).
    fn new_operation(
        &self,
        target: &Target,
        id: &str,
        validated: Validated,
        slot: &Option<StartSlot>,
        needs_approval: bool,
        actor: &Actor,
    ) -> (NewOperation, Vec<AuditEvent>) {
        let status = match (slot, needs_approval) {
            (Some(_), _) => Status::Running,
            (None, true) => Status::PendingApproval,
            (None, false) => Status::Queued,
        };
        let connector = match slot {
            Some((_, lease)) => lease.label(),
            None => target.active().label(),
        };
        let event = |event: &str, detail| AuditEvent {
            actor: actor.to_owned(),
            target: Some(target.name.clone()),
            operation_id: Some(id.to_owned()),
            event: event.into(),
            detail,
        };
        let mut audit = vec![event(
            "submitted",
            json!({
                "kind": validated.kind.as_str(),
                "class": validated.class,
                "identity": validated.identity,
                "status": if slot.is_some() { Status::Queued } else { status },
                "payload": validated.redacted,
            }),
        )];
        if let Some((_, lease)) = slot {
            audit.push(AuditEvent {
                actor: "engine".into(),
                ..event(
                    "status:running",
                    json!({"connector": connector, "sha256": lease.version.sha256}),
                )
            });
        }
        // What the key was first used for, so that its reuse for another
        // request is refused. Keyed with the host key: the password is part
        // of the request, and must not be guessable from the store.
        let request_digest = validated.idempotency_key.as_ref().map(|_| {
            self.shared.key.audit_mac(&[
                b"idempotent request v1",
                validated.kind.as_str().as_bytes(),
                validated.class.as_bytes(),
                validated.identity.as_bytes(),
                validated.redacted.to_string().as_bytes(),
                validated.secret.as_deref().unwrap_or("").as_bytes(),
            ])
        });
        let operation = NewOperation {
            id: id.to_owned(),
            request_digest,
            target: target.name.clone(),
            class: validated.class,
            identity: validated.identity,
            kind: validated.kind,
            payload: validated.redacted,
            sealed_secret: validated
                .secret
                .as_ref()
                .map(|p| self.shared.key.seal(p.as_bytes())),
            status,
            max_attempts: target.policy().config.retry.max_attempts,
            idempotency_key: validated.idempotency_key,
            submitted_by: actor.to_owned(),
            created_at: now_ms(),
            started_by: slot.is_some().then_some(connector),
        };
        (operation, audit)
    }

    /// Runs a recorded operation in the slot it was given, or queues it.
    fn start_or_queue(
        &self,
        target: &std::sync::Arc<Target>,
        record: &OperationRecord,
        account: AccountKey,
        slot: Option<StartSlot>,
        urgent: bool,
    ) {
        match slot {
            Some((permit, lease)) => {
                tokio::spawn(dispatch::run_started(
                    target.clone(),
                    self.shared.clone(),
                    record.clone(),
                    permit,
                    lease,
                ));
            }
            None => {
                let entry = Entry {
                    id: record.id.clone(),
                    status: record.status,
                    due_at: None,
                };
                if urgent {
                    target.queue().push_urgent(account, entry);
                } else {
                    target.queue().push(account, entry);
                }
                target.wake.notify_one();
            }
        }
    }

    /// A slot to run the operation at once, if nothing stands in its way:
    /// no quarantine, an idle account, a free instance and a token of the
    /// rate limit (an operation that waits for approval never asks).
    fn start_now(
        &self,
        target: &Target,
        account: &AccountKey,
        id: &str,
        urgent: bool,
    ) -> Option<OwnedSemaphorePermit> {
        if target.held().is_some() || self.shared.is_shutting_down() {
            return None;
        }
        let permit = target.permits.clone().try_acquire_owned().ok()?;
        let claimed = if urgent {
            target.queue().claim_idle_urgent(account.clone(), id)
        } else {
            target.queue().claim_idle(account.clone(), id, now_ms())
        };
        if !claimed {
            return None;
        }
        if let Some(bucket) = &target.policy().bucket
            && lock(bucket).try_take(std::time::Instant::now()).is_err()
        {
            target.queue().finish(id, Status::Cancelled, None);
            return None;
        }
        Some(permit)
    }
}

/// Refuses an operation the active connector cannot carry out.
fn supported(target: &Target, validated: &Validated) -> Result<(), EngineError> {
    let active = target.active();
    let capabilities = active.connector.info().capabilities;
    let (operation, declared) = match validated.kind {
        OperationKind::Create => ("create", capabilities.create),
        OperationKind::Delete if target.policy().config.on_delete == OnDelete::Delete => {
            ("delete", capabilities.delete)
        }
        _ => ("update", capabilities.update),
    };
    if declared {
        return Ok(());
    }
    Err(EngineError::Invalid(RequestError {
        field: "kind".into(),
        message: format!(
            "{} needs the connector's {operation} operation, which {} does not support",
            validated.kind,
            active.label()
        ),
    }))
}
