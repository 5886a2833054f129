//! The rows the store keeps, as Rust values.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    PendingApproval,
    Queued,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::PendingApproval,
        Status::Queued,
        Status::Running,
        Status::Retrying,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Status::PendingApproval => "pending-approval",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Retrying => "retrying",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Succeeded, failed and cancelled operations never change again
    /// (except an operator's explicit retry of a failed one).
    pub fn is_final(&self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }

    /// Whether nothing will happen to the operation until a person acts:
    /// a caller waiting for it to end is answered at once.
    pub fn waits_for_a_person(&self) -> bool {
        matches!(self, Status::PendingApproval)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Status::ALL.iter().map(Status::as_str).collect();
                format!("unknown status `{s}` (one of {})", all.join(", "))
            })
    }
}

/// What an operation does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// Create the account (and link it to the identity).
    Create,
    /// Apply attribute changes.
    Update,
    /// Remove the account, as the target's `on_delete` policy says.
    Delete,
    Enable,
    Disable,
    SetPassword,
    AddMember,
    RemoveMember,
}

impl OperationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OperationKind::Create => "create",
            OperationKind::Update => "update",
            OperationKind::Delete => "delete",
            OperationKind::Enable => "enable",
            OperationKind::Disable => "disable",
            OperationKind::SetPassword => "set-password",
            OperationKind::AddMember => "add-member",
            OperationKind::RemoveMember => "remove-member",
        }
    }

    pub const ALL: [OperationKind; 8] = [
        OperationKind::Create,
        OperationKind::Update,
        OperationKind::Delete,
        OperationKind::Enable,
        OperationKind::Disable,
        OperationKind::SetPassword,
        OperationKind::AddMember,
        OperationKind::RemoveMember,
    ];

    pub fn parse(s: &str) -> Option<OperationKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation's last attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// A stable code: a connector error case (`not-found`, `unavailable`, …)
    /// or a host one (`protected`, `not-linked`, `timeout`, `trap`, …).
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// A new operation, as submitted.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub id: String,
    pub target: String,
    pub class: String,
    pub identity: String,
    pub kind: OperationKind,
    /// The request, with secret values replaced by `"***"`.
    pub payload: serde_json::Value,
    /// The secret values, encrypted with the host key.
    pub sealed_secret: Option<Vec<u8>>,
    pub status: Status,
    pub max_attempts: u32,
    pub idempotency_key: Option<String>,
    /// An HMAC of the request (kind, class, identity, payload, password),
    /// kept with the idempotency key: a reuse for another request is
    /// refused.
    pub request_digest: Option<String>,
    pub submitted_by: String,
    pub created_at: i64,
    /// Set when the operation is submitted already running (its first
    /// attempt starts at once): the connector that runs it.
    pub started_by: Option<String>,
}

/// An operation as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationRecord {
    /// Order of submission, used for per-account ordering.
    #[serde(skip)]
    pub seq: i64,
    pub id: String,
    pub target: String,
    pub class: String,
    pub identity: String,
    pub kind: OperationKind,
    pub payload: serde_json::Value,
    pub status: Status,
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_attempt_at: Option<i64>,
    pub error: Option<ErrorRecord>,
    pub result: Option<serde_json::Value>,
    /// `name@version` of the connector that last ran it.
    pub connector: Option<String>,
    pub idempotency_key: Option<String>,
    pub submitted_by: String,
    /// Who approved, rejected, cancelled or retried it.
    pub decided_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the first attempt started: a create that started may have
    /// reached the target even if the host died before recording it.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A sealed secret (a password) waits with it.
    #[serde(skip)]
    pub has_secret: bool,
}

/// The outcome of a submission.
#[derive(Debug, Clone)]
pub enum Submitted {
    Created(OperationRecord),
    /// An operation with the same idempotency key already existed.
    Existing(OperationRecord),
}

/// A change to one operation, committed with its link change and audit.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub id: String,
    /// The change applies only from these statuses.
    pub expected: Vec<Status>,
    pub status: Option<Status>,
    pub attempts: Option<u32>,
    /// Adds one to the attempts (applied after `attempts`).
    pub increment_attempts: bool,
    /// `Some(None)` clears it.
    pub next_attempt_at: Option<Option<i64>>,
    pub error: Option<Option<ErrorRecord>>,
    pub result: Option<serde_json::Value>,
    pub connector: Option<String>,
    pub decided_by: Option<String>,
    pub mark_started: bool,
    /// Drops the sealed secret (once the operation is final).
    pub erase_secret: bool,
    pub link: Option<LinkChange>,
    pub audit: Vec<AuditEvent>,
}

/// Which account on a target an identity owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub target: String,
    pub class: String,
    /// The caller's key for the account (an employee number, a username).
    pub identity: String,
    /// The account's uid on the target.
    pub uid: String,
    /// True when Provisio created the account; false when it linked one.
    pub created_by_provisio: bool,
    pub operation_id: Option<String>,
    pub linked_at: i64,
}

#[derive(Debug, Clone)]
pub enum LinkChange {
    Put(Link),
    Remove {
        target: String,
        class: String,
        identity: String,
    },
}

/// One event for the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who caused it: a token name, `engine`, or `host`.
    pub actor: String,
    pub target: Option<String>,
    pub operation_id: Option<String>,
    /// `submitted`, `status:<status>`, `call`, `approved`, `quarantine`, …
    pub event: String,
    /// Details; never secret or password values.
    pub detail: serde_json::Value,
}

/// An audit row as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_mac: String,
    pub mac: String,
}

#[derive(Debug, Clone, Default)]
pub struct OperationQuery {
    pub target: Option<String>,
    pub status: Option<Status>,
    pub identity: Option<String>,
    /// Created at or after (ms).
    pub since: Option<i64>,
    /// Created before (ms).
    pub until: Option<i64>,
    /// Operations submitted after this one (a cursor: the last id seen).
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub target: Option<String>,
    pub operation_id: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: u32,
}

/// A connector version in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectorVersion {
    /// sha256 of the `.wasm`, in hex: the version's identity.
    pub sha256: String,
    /// The connector's declared name.
    pub name: String,
    /// The connector's declared semver.
    pub version: String,
    /// The contract version it was built against (`0.1.0`).
    pub contract: String,
    /// Size of the `.wasm` in bytes.
    pub size: u64,
    /// `upload`, `config` or `bundled`.
    pub source: String,
    /// Who added it (a token's name, or `config`).
    pub added_by: String,
    /// Unix milliseconds.
    pub added_at: i64,
}

impl ConnectorVersion {
    /// `name@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Which connector version a target runs, and which it ran before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub target: String,
    /// sha256 of the active version.
    pub active: String,
    /// sha256 of the version a rollback returns to.
    pub previous: Option<String>,
    /// sha256 of the connector the configuration named when this was set.
    pub configured: String,
    pub switched_at: i64,
    pub switched_by: String,
}

/// An identity as stored: its desired state is the identity layer's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub id: String,
    pub state: serde_json::Value,
    /// Counts changes of `state`, from 1.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    /// When the identity is to be planned again (a date in it passes).
    pub review_at: Option<i64>,
    /// The authoritative source that last set the state.
    pub source: Option<String>,
}

/// A run of an authoritative source; its summary is the identity layer's
/// JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRunRecord {
    pub id: String,
    pub source: String,
    pub state: String,
    pub dry_run: bool,
    pub requested_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub summary: serde_json::Value,
}

/// What Provisio last asked one target for on an identity's behalf (the
/// identity layer's JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub identity: String,
    pub target: String,
    pub class: String,
    pub state: serde_json::Value,
    pub updated_at: i64,
}

/// One write of the identity layer, committed in one transaction.
#[derive(Debug, Clone)]
pub enum IdentityWrite {
    /// Sets the identity (when given) and these account records.
    Put {
        identity: Option<IdentityRecord>,
        accounts: Vec<AccountRecord>,
    },
    /// Forgets the identity; its account records stay, as history of what
    /// was asked for, until they are put again.
    Remove { id: String },
    /// Records a source run; `items` (when given) replace its items,
    /// `cursor` (when given) is where the source's next `sync` starts, and
    /// `records` say which identity each record read set.
    Run {
        run: SourceRunRecord,
        /// Each item as JSON text.
        items: Option<Vec<String>>,
        cursor: Option<SourceCursor>,
        records: Vec<(String, String)>,
    },
    /// Which identity each record of a source set, all of them: the
    /// source's other records are forgotten.
    SourceRecords {
        source: String,
        records: Vec<(String, String)>,
    },
}

/// Where a source's next `sync` starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCursor {
    pub class: String,
    pub token: String,
}

/// A reconciliation run; its summary is the reconciliation layer's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconRunRecord {
    pub id: String,
    pub target: String,
    pub class: String,
    pub state: String,
    pub dry_run: bool,
    pub requested_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub summary: serde_json::Value,
}

/// One account a reconciliation run classified (the layer's JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconItemRecord {
    pub seq: i64,
    pub situation: String,
    pub item: serde_json::Value,
}

pub enum ReconWrite {
    /// Records the run; `clear_items` forgets its items first (a run read
    /// again from the start).
    Run {
        run: ReconRunRecord,
        clear_items: bool,
    },
    /// Adds items, or replaces those of the same sequence numbers.
    Items {
        run: String,
        items: Vec<ReconItemRecord>,
    },
    /// Where live reconciliation's next `sync` of a class starts.
    Cursor {
        target: String,
        class: String,
        token: String,
    },
}
