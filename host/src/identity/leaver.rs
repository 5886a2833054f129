//! Leaving in a hurry, and proof of leaving: the kill switch disables a
//! person on every target at once, ahead of other queued work; the
//! termination report says per target what was done, when, and what the
//! target holds now (read back through `get`).

use super::account::AccountState;
use super::error::IdentityError;
use super::model::Status;
use super::service::{Identities, Outcome, SubmittedOperation, TargetFailure};
use crate::engine::{Actor, OperationRequest};
use crate::model::{Value, names};
use crate::store::{AuditEvent, OperationQuery};
use serde::Serialize;
use serde_json::json;

/// What a target holds for a leaver now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReadBack {
    /// `absent` (no link, or the target has no such account), `disabled`,
    /// `enabled`, or `unreadable` (the read failed: `error` says why).
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An operation of a leaver's last plan on a target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Done {
    pub id: String,
    pub kind: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetReport {
    pub target: String,
    pub class: String,
    /// Provisio no longer wants the account (it deprovisioned it).
    pub deprovisioned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprovisioned_at: Option<String>,
    /// Steps of the target's leaver schedule done.
    pub leaver_steps_done: usize,
    pub operations: Vec<Done>,
    pub read_back: ReadBack,
    /// The account is gone or disabled, as read now.
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TerminationReport {
    pub identity: String,
    /// The identity's status (none once it was deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    pub targets: Vec<TargetReport>,
    /// Every target verified.
    pub verified: bool,
}

impl Identities {
    /// Terminates `id` and disables its account on every target at once:
    /// its queued operations there are cancelled and the disable goes ahead
    /// of every other account's queued work; then the leaver's plan (groups,
    /// delete or the leaver schedule) is made and submitted as usual.
    pub async fn terminate_now(&self, id: &str, actor: &Actor) -> Result<Outcome, IdentityError> {
        let engine = self.engine().clone();
        let store = engine.store().clone();
        let mut urgent = Vec::new();
        let mut failures = Vec::new();
        let reason = "cancelled by terminate-now";
        {
            let _guard = self.lock(id).await;
            let stored = self.stored(id).await?;
            for map in self.policies().maps.values() {
                let Some(link) = store.link(&map.target, &map.class, id).await? else {
                    continue;
                };
                let open = store
                    .operations(&OperationQuery {
                        target: Some(map.target.clone()),
                        identity: Some(id.to_owned()),
                        limit: 1000,
                        ..OperationQuery::default()
                    })
                    .await?;
                for operation in open
                    .iter()
                    .filter(|o| !o.status.is_final() && o.status != crate::store::Status::Running)
                {
                    // One that started meanwhile runs to its end; the
                    // disable comes right after it.
                    let _ = engine.cancel(&operation.id, actor, Some(reason)).await;
                }
                let request: OperationRequest = serde_json::from_value(
                    json!({"kind": "disable", "identity": id, "class": map.class}),
                )
                .expect("a disable request is valid");
                match engine.submit_urgent(&map.target, request, actor).await {
                    Ok(record) => urgent.push(SubmittedOperation {
                        target: map.target.clone(),
                        id: record.id,
                        kind: record.kind.as_str().to_owned(),
                        status: record.status.as_str().to_owned(),
                    }),
                    Err(e) => failures.push(TargetFailure {
                        target: map.target.clone(),
                        error: format!("the disable of {} was refused: {e}", link.uid),
                    }),
                }
            }
            let audit = AuditEvent {
                actor: actor.to_owned(),
                target: None,
                operation_id: None,
                event: "identity-terminated-now".into(),
                detail: json!({"identity": id, "revision": stored.revision,
                               "disables": urgent.iter().map(|o| o.id.clone()).collect::<Vec<_>>()}),
            };
            store.append_audit(vec![audit]).await?;
        }
        let mut state = self.get(id).await?.state;
        state.status = Status::Terminated;
        let mut outcome = self.put(id, state, actor, false, false).await?;
        outcome.operations.splice(0..0, urgent);
        outcome.failures.splice(0..0, failures);
        Ok(outcome)
    }

    /// Per target: what was done for the leaver, when, and what the target
    /// holds now.
    pub async fn termination_report(&self, id: &str) -> Result<TerminationReport, IdentityError> {
        let engine = self.engine();
        let store = engine.store();
        let identity = store.identity(id).await?;
        let records = store.identity_accounts(id).await?;
        if identity.is_none() && records.is_empty() {
            return Err(IdentityError::NotFound(id.to_owned()));
        }
        let mut targets = Vec::new();
        for record in records {
            let state = AccountState::from_json(&record.state);
            let mut operations = Vec::new();
            for op in &state.operations {
                if let Some(done) = store.operation(op).await? {
                    operations.push(Done {
                        id: done.id,
                        kind: done.kind.as_str().to_owned(),
                        status: done.status.as_str().to_owned(),
                        finished_at: done.finished_at.map(crate::expr::date_of_ms),
                    });
                }
            }
            let link = store.link(&record.target, &record.class, id).await?;
            let read_back = match &link {
                None => ReadBack {
                    account: "absent".into(),
                    uid: None,
                    error: None,
                },
                Some(link) => match engine
                    .read_account(
                        &record.target,
                        &record.class,
                        &link.uid,
                        vec![names::ENABLE.to_owned()],
                    )
                    .await
                {
                    Ok(None) => ReadBack {
                        account: "absent".into(),
                        uid: Some(link.uid.clone()),
                        error: None,
                    },
                    Ok(Some(object)) => {
                        let enabled = object
                            .attribute(names::ENABLE)
                            .and_then(|a| a.values.first())
                            .map(|v| matches!(v, Value::Boolean(true)));
                        ReadBack {
                            account: match enabled {
                                Some(false) => "disabled",
                                Some(true) => "enabled",
                                None => "unreadable",
                            }
                            .into(),
                            uid: Some(object.uid),
                            error: enabled.is_none().then(|| {
                                "the target does not say whether the account is enabled".into()
                            }),
                        }
                    }
                    Err(e) => ReadBack {
                        account: "unreadable".into(),
                        uid: Some(link.uid.clone()),
                        error: Some(e.to_string()),
                    },
                },
            };
            let verified = matches!(read_back.account.as_str(), "absent" | "disabled");
            targets.push(TargetReport {
                target: record.target,
                class: record.class,
                deprovisioned: !state.provisioned,
                deprovisioned_at: state.deprovisioned_at.map(crate::expr::date_of_ms),
                leaver_steps_done: state.leaver_done,
                operations,
                read_back,
                verified,
            });
        }
        Ok(TerminationReport {
            identity: id.to_owned(),
            status: identity.map(|r| {
                serde_json::from_value::<super::model::DesiredState>(r.state)
                    .unwrap_or_default()
                    .status
            }),
            verified: targets.iter().all(|t| t.verified),
            targets,
        })
    }
}
