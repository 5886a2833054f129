//! Durable state: operations, account links, the audit log, target
//! quarantines, and the connector registry's records.
//!
//! [`Store`] is what the engine and the API use; SQLite (a file next to the
//! configuration) is the embedded implementation, and a PostgreSQL one will
//! satisfy the same trait for several nodes. Writes go through one writer
//! that commits concurrent requests together (group commit), so every
//! accepted operation is durable before the API answers, at thousands of
//! operations per second on one core.

mod audit;
mod records;
mod sqlite;
mod time;

pub use audit::{AuditReport, GENESIS_MAC};
pub use records::{
    AccountRecord, AuditEvent, AuditQuery, AuditRecord, Change, ConnectorVersion, Deployment,
    ErrorRecord, IdentityRecord, IdentityWrite, Link, LinkChange, NewOperation, OperationKind,
    OperationQuery, OperationRecord, ReconItemRecord, ReconRunRecord, ReconWrite, SourceCursor,
    SourceRunRecord, Status, Submitted,
};
pub use sqlite::SqliteStore;
pub use time::{parse_rfc3339, rfc3339};

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store failed: {0}")]
    Database(String),
    #[error("the store is closed")]
    Closed,
    #[error("operation {id} is {current}, not {expected}")]
    Conflict {
        id: String,
        current: Status,
        expected: String,
    },
    #[error("operation {0} does not exist")]
    NotFound(String),
    #[error("idempotency key {key:?} was used for another request (operation {id})")]
    IdempotencyKeyReused { key: String, id: String },
    #[error("identity {identity} of class {class} on target {target} is already linked to {uid}")]
    AlreadyLinked {
        target: String,
        class: String,
        identity: String,
        uid: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What the engine and the API need from durable storage.
#[async_trait]
pub trait Store: Send + Sync {
    /// This start of a host on the store (`<store id>.<run>`, the run
    /// counting up): what connectors mark their lock files with.
    fn host_run(&self) -> &str;

    /// Records a new operation, or returns the one already recorded with the
    /// same idempotency key on the same target.
    async fn submit(&self, operation: NewOperation, audit: Vec<AuditEvent>) -> Result<Submitted>;

    /// Applies a change to an operation, if its status is one of
    /// `change.expected`; its link change and audit events commit with it.
    async fn apply(&self, change: Change) -> Result<OperationRecord>;

    async fn operation(&self, id: &str) -> Result<Option<OperationRecord>>;

    async fn operations(&self, query: &OperationQuery) -> Result<Vec<OperationRecord>>;

    /// Every operation not in a final state, oldest first.
    async fn open_operations(&self) -> Result<Vec<OperationRecord>>;

    /// The sealed secret of an operation (a password), while it is open.
    async fn sealed_secret(&self, id: &str) -> Result<Option<Vec<u8>>>;

    async fn link(&self, target: &str, class: &str, identity: &str) -> Result<Option<Link>>;

    /// The link that holds the account `uid`, whoever's it is.
    async fn link_by_uid(&self, target: &str, class: &str, uid: &str) -> Result<Option<Link>>;

    async fn links(&self, target: &str, after: Option<&str>, limit: u32) -> Result<Vec<Link>>;

    /// Links an existing account (made outside Provisio) to an identity.
    async fn put_link(&self, link: Link, audit: AuditEvent) -> Result<()>;

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()>;

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;

    /// Recomputes the whole audit chain.
    async fn verify_audit(&self) -> Result<AuditReport>;

    /// Quarantined targets and why.
    async fn quarantines(&self) -> Result<Vec<(String, String)>>;

    /// Quarantines a target (`Some(reason)`) or lifts it (`None`).
    async fn set_quarantine(
        &self,
        target: &str,
        reason: Option<String>,
        audit: AuditEvent,
    ) -> Result<()>;

    /// Records a connector version (nothing happens when its sha256 is
    /// already recorded; the audit event is written only when it is new).
    /// Returns whether it was new.
    async fn put_connector_version(
        &self,
        version: ConnectorVersion,
        audit: AuditEvent,
    ) -> Result<bool>;

    async fn connector_version(&self, sha256: &str) -> Result<Option<ConnectorVersion>>;

    /// Forgets a connector version, with its audit event (written only when
    /// the version was recorded). Returns whether it was.
    async fn remove_connector_version(&self, sha256: &str, audit: AuditEvent) -> Result<bool>;

    /// Every recorded version, oldest first.
    async fn connector_versions(&self) -> Result<Vec<ConnectorVersion>>;

    /// Which version each target runs.
    async fn deployments(&self) -> Result<Vec<Deployment>>;

    /// Points a target at a version, with the audit event of the switch.
    async fn set_deployment(&self, deployment: Deployment, audit: AuditEvent) -> Result<()>;

    /// Writes identities and their account records with their audit
    /// events, in one transaction.
    async fn write_identity(&self, write: IdentityWrite, audit: Vec<AuditEvent>) -> Result<()>;

    async fn identity(&self, id: &str) -> Result<Option<IdentityRecord>>;

    /// Identities by id, after `after`, at most `limit`.
    async fn identities(&self, after: Option<&str>, limit: u32) -> Result<Vec<IdentityRecord>>;

    /// Identities an authoritative source set, by id.
    async fn identities_of_source(
        &self,
        source: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<IdentityRecord>>;

    async fn source_run(&self, id: &str) -> Result<Option<SourceRunRecord>>;

    /// A source's runs, newest first.
    async fn source_runs(&self, source: &str, limit: u32) -> Result<Vec<SourceRunRecord>>;

    /// A run's items after `after` (their sequence numbers), in order.
    async fn source_run_items(
        &self,
        run: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>>;

    /// Where a source's next `sync` starts, once a run was applied.
    async fn source_cursor(&self, source: &str) -> Result<Option<SourceCursor>>;

    /// The identities these records of a source set (records it has no
    /// identity for are left out).
    async fn source_record_identities(
        &self,
        source: &str,
        records: Vec<String>,
    ) -> Result<Vec<(String, String)>>;

    /// Forgets a link (the account is no longer the identity's); false
    /// when there was none.
    async fn remove_link(
        &self,
        target: &str,
        class: &str,
        identity: &str,
        audit: AuditEvent,
    ) -> Result<bool>;

    async fn write_recon(&self, write: ReconWrite, audit: Vec<AuditEvent>) -> Result<()>;

    async fn recon_run(&self, id: &str) -> Result<Option<ReconRunRecord>>;

    /// Where live reconciliation's next `sync` of a class starts.
    async fn recon_cursor(&self, target: &str, class: &str) -> Result<Option<String>>;

    /// A target's reconciliation runs, newest first.
    async fn recon_runs(&self, target: &str, limit: u32) -> Result<Vec<ReconRunRecord>>;

    /// A run's items after `after` (sequence numbers), in order; only
    /// those of `situation` when given.
    async fn recon_items(
        &self,
        run: &str,
        situation: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReconItemRecord>>;

    /// Identities whose review time is at or before `at`, soonest first.
    async fn identities_due(&self, at: i64, limit: u32) -> Result<Vec<IdentityRecord>>;

    /// The account records of an identity, by target and class.
    async fn identity_accounts(&self, id: &str) -> Result<Vec<AccountRecord>>;

    /// The identities of these ids that exist, in no order.
    async fn identities_in(&self, ids: Vec<String>) -> Result<Vec<IdentityRecord>>;

    /// The account records of these identities on one class of a target.
    async fn accounts_in(
        &self,
        target: &str,
        class: &str,
        ids: Vec<String>,
    ) -> Result<Vec<AccountRecord>>;
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
