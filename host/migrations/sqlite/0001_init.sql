-- Provisio's durable state (SQLite). Timestamps are Unix milliseconds.

CREATE TABLE operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    class TEXT NOT NULL,
    identity TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    sealed_secret BLOB,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    error TEXT,
    result TEXT,
    connector TEXT,
    idempotency_key TEXT,
    submitted_by TEXT NOT NULL,
    decided_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER
);
CREATE UNIQUE INDEX operations_idempotency ON operations (target, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX operations_status ON operations (status, seq);
CREATE INDEX operations_target ON operations (target, seq);
CREATE INDEX operations_identity ON operations (target, identity, seq);
CREATE INDEX operations_created ON operations (created_at);

CREATE TABLE account_links (
    target TEXT NOT NULL,
    class TEXT NOT NULL,
    identity TEXT NOT NULL,
    uid TEXT NOT NULL,
    created_by_provisio INTEGER NOT NULL,
    operation_id TEXT,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (target, class, identity)
);
CREATE UNIQUE INDEX account_links_uid ON account_links (target, class, uid);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    target TEXT,
    operation_id TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL
);
CREATE INDEX audit_log_operation ON audit_log (operation_id);
CREATE INDEX audit_log_target ON audit_log (target, seq);

-- The newest row of the chain, authenticated, so that deleting rows from
-- the end of the log is detected too.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    mac TEXT NOT NULL,
    head_mac TEXT NOT NULL
);

-- The log is append-only; the MAC chain detects edits made around this.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE quarantines (
    target TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since INTEGER NOT NULL
);
