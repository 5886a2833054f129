//! The audit log's MAC chain: each row's MAC covers its fields and the MAC
//! of the row before, keyed with the host key; the head row authenticates
//! the newest entry. Editing, reordering or deleting any row (including the
//! last ones) breaks verification, and re-chaining needs the host key.

use crate::keys::HostKey;
use crate::store::records::AuditEvent;
use serde::Serialize;

/// The `prev_mac` of the first row.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The MAC of one row.
pub fn row_mac(
    key: &HostKey,
    prev_mac: &str,
    seq: i64,
    at: i64,
    event: &AuditEvent,
    detail: &str,
) -> String {
    key.audit_mac(&[
        prev_mac.as_bytes(),
        &seq.to_be_bytes(),
        &at.to_be_bytes(),
        event.actor.as_bytes(),
        event.target.as_deref().unwrap_or("").as_bytes(),
        event.operation_id.as_deref().unwrap_or("").as_bytes(),
        event.event.as_bytes(),
        detail.as_bytes(),
    ])
}

/// The MAC of the head row (the newest seq and its MAC).
pub fn head_mac(key: &HostKey, seq: i64, mac: &str) -> String {
    key.audit_mac(&[b"head", &seq.to_be_bytes(), mac.as_bytes()])
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Rows checked.
    pub rows: u64,
    pub ok: bool,
    /// The first problem found, naming the row.
    pub problem: Option<String>,
}
