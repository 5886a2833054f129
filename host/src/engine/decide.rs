//! Reading operations and the decisions operators take on them: approve,
//! reject, cancel, retry.

use super::error::EngineError;
use super::queue::Entry;
use super::request;
use super::target::Held;
use super::{Actor, Engine};
use crate::store::{
    AuditEvent, Change, ErrorRecord, OperationQuery, OperationRecord, Status, StoreError,
};
use serde_json::json;

impl Engine {
    pub async fn operation(&self, id: &str) -> Result<OperationRecord, EngineError> {
        self.shared
            .store
            .operation(id)
            .await?
            .ok_or_else(|| EngineError::UnknownOperation(id.to_owned()))
    }

    /// The operation once it is final, or as it is when `timeout` ends;
    /// at once when it waits for an operator's decision.
    pub async fn wait_final(
        &self,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<OperationRecord, EngineError> {
        let mut waiter = self.shared.completions.register(id);
        let record = self.operation(id).await?;
        if record.status.is_final() || record.status.waits_for_a_person() {
            return Ok(record);
        }
        match tokio::time::timeout(timeout, waiter.ended()).await {
            Ok(Some(record)) => Ok(record),
            _ => self.operation(id).await,
        }
    }

    /// Why an open operation waits, when it does.
    pub fn held(&self, record: &OperationRecord) -> Option<Held> {
        match record.status {
            Status::PendingApproval => Some(Held {
                by: "approval",
                reason: "it waits for an operator to approve or reject it".into(),
            }),
            Status::Queued | Status::Retrying => self.target(&record.target).ok()?.held(),
            _ => None,
        }
    }

    pub async fn operations(
        &self,
        query: &OperationQuery,
    ) -> Result<Vec<OperationRecord>, EngineError> {
        Ok(self.shared.store.operations(query).await?)
    }

    /// Moves an operation between states on an operator's decision.
    async fn decide(
        &self,
        id: &str,
        actor: &Actor,
        expected: &[Status],
        change: Change,
        verb: &str,
        reason: Option<&str>,
    ) -> Result<OperationRecord, EngineError> {
        let current = self.operation(id).await?;
        let target = self.target(&current.target)?;
        let change = Change {
            id: id.to_owned(),
            expected: expected.to_vec(),
            decided_by: Some(actor.to_owned()),
            audit: vec![AuditEvent {
                actor: actor.to_owned(),
                target: Some(current.target.clone()),
                operation_id: Some(id.to_owned()),
                event: verb.to_owned(),
                detail: match reason {
                    Some(reason) => json!({"from": current.status, "reason": reason}),
                    None => json!({"from": current.status}),
                },
            }],
            ..change
        };
        match self.shared.store.apply(change).await {
            Ok(record) => {
                target.wake.notify_one();
                Ok(record)
            }
            Err(StoreError::Conflict {
                current, expected, ..
            }) => Err(EngineError::WrongState {
                id: id.to_owned(),
                current,
                reason: format!("only a {expected} operation can be {verb}"),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn approve(
        &self,
        id: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<OperationRecord, EngineError> {
        let current = self.operation(id).await?;
        if self
            .target(&current.target)?
            .policy()
            .config
            .approval
            .distinct_approver
            && current.submitted_by == actor
        {
            return Err(EngineError::NotAllowed(format!(
                "four eyes: {actor} submitted operation {id}, so another operator must approve it (approval.distinct_approver)"
            )));
        }
        let record = self
            .decide(
                id,
                actor,
                &[Status::PendingApproval],
                Change {
                    status: Some(Status::Queued),
                    ..Change::default()
                },
                "approved",
                reason,
            )
            .await?;
        let target = self.target(&record.target)?;
        target.queue().set_status(id, Status::Queued);
        target.wake.notify_one();
        Ok(record)
    }

    pub async fn reject(
        &self,
        id: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<OperationRecord, EngineError> {
        let change = Change {
            status: Some(Status::Cancelled),
            error: Some(Some(ErrorRecord {
                code: "rejected".into(),
                message: decided("rejected", actor, reason),
                retryable: false,
            })),
            erase_secret: true,
            ..Change::default()
        };
        let record = self
            .decide(
                id,
                actor,
                &[Status::PendingApproval],
                change,
                "rejected",
                reason,
            )
            .await?;
        self.target(&record.target)?.queue().remove(id);
        self.shared.completions.finished(&record);
        Ok(record)
    }

    pub async fn cancel(
        &self,
        id: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<OperationRecord, EngineError> {
        let change = Change {
            status: Some(Status::Cancelled),
            error: Some(Some(ErrorRecord {
                code: "cancelled".into(),
                message: decided("cancelled", actor, reason),
                retryable: false,
            })),
            next_attempt_at: Some(None),
            erase_secret: true,
            ..Change::default()
        };
        // A running operation is cancelled too: its attempt in flight ends
        // as it ends (what it did is recorded), and it is not retried.
        let expected = [
            Status::PendingApproval,
            Status::Queued,
            Status::Retrying,
            Status::Running,
        ];
        let record = self
            .decide(id, actor, &expected, change, "cancelled", reason)
            .await?;
        self.target(&record.target)?.queue().remove(id);
        self.shared.completions.finished(&record);
        Ok(record)
    }

    /// Queues a failed operation again, with fresh attempts.
    pub async fn retry(
        &self,
        id: &str,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<OperationRecord, EngineError> {
        let current = self.operation(id).await?;
        if request::carries_password(current.kind, &current.payload) {
            return Err(EngineError::Refused(format!(
                "operation {id} set a password, which was erased when it ended; submit it again"
            )));
        }
        let change = Change {
            status: Some(Status::Queued),
            attempts: Some(0),
            error: Some(None),
            next_attempt_at: Some(None),
            ..Change::default()
        };
        let record = self
            .decide(id, actor, &[Status::Failed], change, "retried", reason)
            .await?;
        let target = self.target(&record.target)?;
        target.queue().push(
            (record.class.clone(), record.identity.clone()),
            Entry {
                id: record.id.clone(),
                status: Status::Queued,
                due_at: None,
            },
        );
        target.wake.notify_one();
        Ok(record)
    }
}

/// "rejected by ops: not before the audit", as an operation's error says.
fn decided(verb: &str, actor: &Actor, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("{verb} by {actor}: {reason}"),
        None => format!("{verb} by {actor}"),
    }
}
