//! Rows of the SQLite schema read back as records.

use super::super::records::*;
use super::super::{Result, StoreError};
use rusqlite::Row;

/// Every column of an operation row, as [`operation`] reads them.
macro_rules! operation_columns {
    () => {
        concat!(
            "seq, id, target, class, identity, kind, payload, status, attempts, max_attempts, ",
            "next_attempt_at, error, result, connector, idempotency_key, submitted_by, decided_by, ",
            "created_at, updated_at, started_at, finished_at, sealed_secret IS NOT NULL AS has_secret"
        )
    };
}
pub(super) use operation_columns;

/// `SELECT <every operation column> FROM operations <rest>`, as a literal.
macro_rules! select_operation {
    ($($rest:literal)?) => {
        concat!("SELECT ", $crate::store::sqlite::rows::operation_columns!(), " FROM operations" $(, " ", $rest)?)
    };
}
pub(super) use select_operation;

/// `SELECT <every connector version column> FROM connector_versions <rest>`.
macro_rules! select_version {
    ($rest:literal) => {
        concat!(
            "SELECT sha256, name, version, contract, size, source, added_by, added_at ",
            "FROM connector_versions ",
            $rest
        )
    };
}
pub(super) use select_version;

pub(super) fn operation(row: &Row) -> Result<OperationRecord> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Database(format!("operation row: {what}: {e}"))
    };
    let status: String = row.get("status")?;
    let kind: String = row.get("kind")?;
    let payload: String = row.get("payload")?;
    let error: Option<String> = row.get("error")?;
    let result: Option<String> = row.get("result")?;
    Ok(OperationRecord {
        seq: row.get("seq")?,
        id: row.get("id")?,
        target: row.get("target")?,
        class: row.get("class")?,
        identity: row.get("identity")?,
        kind: OperationKind::parse(&kind)
            .ok_or_else(|| corrupt("kind", &format!("unknown kind {kind:?}")))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", &e))?,
        status: status.parse().map_err(|e: String| corrupt("status", &e))?,
        attempts: row.get::<_, i64>("attempts")? as u32,
        max_attempts: row.get::<_, i64>("max_attempts")? as u32,
        next_attempt_at: row.get("next_attempt_at")?,
        error: error
            .map(|e| serde_json::from_str(&e))
            .transpose()
            .map_err(|e| corrupt("error", &e))?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| corrupt("result", &e))?,
        connector: row.get("connector")?,
        idempotency_key: row.get("idempotency_key")?,
        submitted_by: row.get("submitted_by")?,
        decided_by: row.get("decided_by")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        started_at: row.get("started_at")?,
        finished_at: row.get("finished_at")?,
        has_secret: row.get("has_secret")?,
    })
}

pub(super) fn link(row: &Row) -> Result<Link> {
    Ok(Link {
        target: row.get("target")?,
        class: row.get("class")?,
        identity: row.get("identity")?,
        uid: row.get("uid")?,
        created_by_provisio: row.get("created_by_provisio")?,
        operation_id: row.get("operation_id")?,
        linked_at: row.get("linked_at")?,
    })
}

/// An audit row, and its `detail` exactly as stored (its MAC covers that
/// text, not the parsed value).
pub(super) fn audit(row: &Row) -> Result<(AuditRecord, String)> {
    let detail: String = row.get("detail")?;
    let record = AuditRecord {
        seq: row.get("seq")?,
        at: row.get("at")?,
        event: AuditEvent {
            actor: row.get("actor")?,
            target: row.get("target")?,
            operation_id: row.get("operation_id")?,
            event: row.get("event")?,
            detail: serde_json::from_str(&detail)
                .map_err(|e| StoreError::Database(format!("audit row detail: {e}")))?,
        },
        prev_mac: row.get("prev_mac")?,
        mac: row.get("mac")?,
    };
    Ok((record, detail))
}

pub(super) fn version(row: &Row) -> Result<ConnectorVersion> {
    Ok(ConnectorVersion {
        sha256: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        contract: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        source: row.get(5)?,
        added_by: row.get(6)?,
        added_at: row.get(7)?,
    })
}

pub(super) fn deployment(row: &Row) -> Result<Deployment> {
    Ok(Deployment {
        target: row.get(0)?,
        active: row.get(1)?,
        previous: row.get(2)?,
        configured: row.get(3)?,
        switched_at: row.get(4)?,
        switched_by: row.get(5)?,
    })
}

/// Runs a query and converts each row; `rusqlite`'s `query_map` wants the
/// conversion to fail with its own error type, these fail with ours.
pub(super) fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    convert: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

/// The first row converted, if there is one.
pub(super) fn first<T>(
    mut rows: rusqlite::Rows<'_>,
    convert: impl Fn(&Row) -> Result<T>,
) -> Result<Option<T>> {
    rows.next()?.map(convert).transpose()
}

fn json_column(row: &Row, column: &str) -> Result<serde_json::Value> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Database(format!("{column} is not JSON: {e}")))
}

pub(super) fn identity(row: &Row) -> Result<IdentityRecord> {
    Ok(IdentityRecord {
        id: row.get("id")?,
        state: json_column(row, "state")?,
        revision: row.get("revision")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        updated_by: row.get("updated_by")?,
        review_at: row.get("review_at")?,
        source: row.get("source")?,
    })
}

pub(super) fn account(row: &Row) -> Result<AccountRecord> {
    Ok(AccountRecord {
        identity: row.get("identity")?,
        target: row.get("target")?,
        class: row.get("class")?,
        state: json_column(row, "state")?,
        updated_at: row.get("updated_at")?,
    })
}

pub(super) fn recon_run(row: &Row) -> Result<ReconRunRecord> {
    Ok(ReconRunRecord {
        id: row.get("id")?,
        target: row.get("target")?,
        class: row.get("class")?,
        state: row.get("state")?,
        dry_run: row.get("dry_run")?,
        requested_by: row.get("requested_by")?,
        started_at: row.get("started_at")?,
        finished_at: row.get("finished_at")?,
        summary: json_column(row, "summary")?,
    })
}

pub(super) fn recon_item(row: &Row) -> Result<ReconItemRecord> {
    Ok(ReconItemRecord {
        seq: row.get("seq")?,
        situation: row.get("situation")?,
        item: json_column(row, "item")?,
    })
}

pub(super) fn source_run(row: &Row) -> Result<SourceRunRecord> {
    Ok(SourceRunRecord {
        id: row.get("id")?,
        source: row.get("source")?,
        state: row.get("state")?,
        dry_run: row.get("dry_run")?,
        requested_by: row.get("requested_by")?,
        started_at: row.get("started_at")?,
        finished_at: row.get("finished_at")?,
        summary: json_column(row, "summary")?,
    })
}
