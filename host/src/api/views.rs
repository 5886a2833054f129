//! What the API returns: store rows with RFC 3339 times.

use crate::engine::{Engine, Held};
use crate::store::{AuditRecord, ErrorRecord, Link, OperationRecord};
use serde::Serialize;
use serde_json::Value as Json;

pub use crate::store::{parse_rfc3339, rfc3339};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorView {
    /// `not-found`, `unavailable`, `protected`, `not-linked`, `timeout`, …
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl From<ErrorRecord> for ErrorView {
    fn from(e: ErrorRecord) -> Self {
        ErrorView {
            code: e.code,
            message: e.message,
            retryable: e.retryable,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperationView {
    pub id: String,
    pub target: String,
    pub kind: String,
    pub class: String,
    pub identity: String,
    /// `pending-approval`, `queued`, `running`, `retrying`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: u32,
    pub max_attempts: u32,
    /// The request; passwords show as `***`.
    #[schema(value_type = Object)]
    pub payload: Json,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Json>,
    pub error: Option<ErrorView>,
    /// `name@version` of the connector that last ran it.
    pub connector: Option<String>,
    pub idempotency_key: Option<String>,
    pub submitted_by: String,
    pub decided_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub next_attempt_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why it waits, while it does: for an operator (`approval`), a
    /// quarantined target (`quarantine`), or a protected filter not yet
    /// checked against the target's schema (`protection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

impl OperationView {
    /// The operation as the API shows it, with why it waits.
    pub fn of(engine: &Engine, record: OperationRecord) -> Self {
        let held = engine.held(&record);
        OperationView {
            held,
            ..record.into()
        }
    }
}

impl From<OperationRecord> for OperationView {
    fn from(r: OperationRecord) -> Self {
        OperationView {
            id: r.id,
            target: r.target,
            kind: r.kind.as_str().to_owned(),
            class: r.class,
            identity: r.identity,
            status: r.status.as_str().to_owned(),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            payload: r.payload,
            result: r.result,
            error: r.error.map(Into::into),
            connector: r.connector,
            idempotency_key: r.idempotency_key,
            submitted_by: r.submitted_by,
            decided_by: r.decided_by,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            next_attempt_at: r.next_attempt_at.map(rfc3339),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            held: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperationList {
    pub operations: Vec<OperationView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub target: String,
    pub class: String,
    pub identity: String,
    pub uid: String,
    pub created_by_provisio: bool,
    pub operation_id: Option<String>,
    pub linked_at: String,
}

impl From<Link> for LinkView {
    fn from(l: Link) -> Self {
        LinkView {
            target: l.target,
            class: l.class,
            identity: l.identity,
            uid: l.uid,
            created_by_provisio: l.created_by_provisio,
            operation_id: l.operation_id,
            linked_at: rfc3339(l.linked_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub target: Option<String>,
    pub operation_id: Option<String>,
    pub event: String,
    #[schema(value_type = Object)]
    pub detail: Json,
    pub prev_mac: String,
    pub mac: String,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            seq: r.seq,
            at: rfc3339(r.at),
            actor: r.event.actor,
            target: r.event.target,
            operation_id: r.event.operation_id,
            event: r.event.event,
            detail: r.event.detail,
            prev_mac: r.prev_mac,
            mac: r.mac,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_round_trip() {
        let ms = 1_763_760_000_123;
        let text = super::rfc3339(ms);
        assert_eq!(text, "2025-11-21T21:20:00.123Z");
        assert_eq!(super::parse_rfc3339(&text), Ok(ms));
        assert!(super::parse_rfc3339("yesterday").is_err());
    }
}
