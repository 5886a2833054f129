//! The one writer: a thread of its own that owns the write connection and
//! commits whatever requests are waiting in one transaction (group commit).
//!
//! A thread rather than an async task because every statement is a call
//! into SQLite that takes microseconds: run in place they cost nothing
//! more, while an async driver (sqlx) hands each one to a worker thread and
//! back, which cost several times the statement itself.

use super::super::audit::{self, GENESIS_MAC};
use super::super::records::*;
use super::super::{Result, StoreError, now_ms};
use super::anchor::{Anchor, AnchorFile, LOG_EVERY};
use super::rows::{self, operation_columns, select_operation};
use crate::keys::HostKey;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

/// Idle time after which the writer checkpoints the WAL.
const IDLE_CHECKPOINT: Duration = Duration::from_millis(250);

/// Requests committed together at most.
const MAX_BATCH: usize = 512;

pub(super) enum Write {
    Submit(Box<NewOperation>, Vec<AuditEvent>),
    Apply(Box<Change>),
    PutLink(Link, AuditEvent),
    Audit(Vec<AuditEvent>),
    Quarantine(String, Option<String>, AuditEvent),
    PutVersion(Box<ConnectorVersion>, AuditEvent),
    RemoveVersion(String, AuditEvent),
    Deploy(Box<Deployment>, AuditEvent),
    Identity(Box<IdentityWrite>, Vec<AuditEvent>),
    RemoveLink(String, String, String, AuditEvent),
    Recon(Box<ReconWrite>, Vec<AuditEvent>),
}

pub(super) enum Outcome {
    Submitted(Box<Submitted>),
    Applied(Box<OperationRecord>),
    Inserted(bool),
    Removed(bool),
    Done,
}

pub(super) struct Job {
    pub write: Write,
    pub reply: oneshot::Sender<Result<Outcome>>,
}

/// The newest link of the audit chain, and the rows a job adds to it
/// (written together when the batch commits).
#[derive(Clone)]
struct Chain {
    seq: i64,
    mac: String,
    pending: Vec<AuditRow>,
}

/// An audit row computed but not yet written.
#[derive(Clone)]
struct AuditRow {
    seq: i64,
    at: i64,
    event: AuditEvent,
    detail: String,
    prev_mac: String,
    mac: String,
}

impl Chain {
    /// The same place in the chain, with no pending rows.
    fn fork(&self) -> Chain {
        Chain {
            seq: self.seq,
            mac: self.mac.clone(),
            pending: Vec::new(),
        }
    }
}

/// The newest row of the chain as the database holds it.
fn read_chain(conn: &Connection) -> Result<Chain> {
    Ok(conn
        .query_row(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |row| {
                Ok(Chain {
                    seq: row.get(0)?,
                    mac: row.get(1)?,
                    pending: Vec::new(),
                })
            },
        )
        .optional()?
        .unwrap_or(Chain {
            seq: 0,
            mac: GENESIS_MAC.to_owned(),
            pending: Vec::new(),
        }))
}

/// Starts the writer thread on `conn`; it ends when every sender is gone.
/// After each commit it writes the chain's anchor to `anchor`.
pub(super) fn spawn(conn: Connection, key: HostKey, anchor: PathBuf) -> Result<flume::Sender<Job>> {
    let chain = read_chain(&conn)?;
    let (tx, rx) = flume::bounded(4096);
    std::thread::Builder::new()
        .name("provisio-store".into())
        .spawn(move || write_loop(conn, rx, chain, key, anchor))
        .map_err(|e| StoreError::Database(format!("cannot start the store's writer: {e}")))?;
    Ok(tx)
}

/// Records where the chain ends, outside the database.
fn anchor_chain(file: Option<&AnchorFile>, before: i64, chain: &Chain) {
    if chain.seq == before {
        return;
    }
    let anchor = Anchor {
        seq: chain.seq,
        mac: chain.mac.clone(),
    };
    if let Some(Err(e)) = file.map(|f| f.write(&anchor)) {
        tracing::error!("cannot write the audit anchor: {e}");
    }
    metrics::gauge!("provisio_audit_head_seq").set(chain.seq as f64);
    if before / LOG_EVERY != chain.seq / LOG_EVERY {
        tracing::info!(seq = chain.seq, mac = %chain.mac, "audit head");
    }
}

fn write_loop(
    mut conn: Connection,
    jobs: flume::Receiver<Job>,
    mut chain: Chain,
    key: HostKey,
    anchor: PathBuf,
) {
    let anchor = match AnchorFile::open(&anchor) {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::error!(path = %anchor.display(), "cannot open the audit anchor; verification will not see truncation: {e}");
            None
        }
    };
    loop {
        // Checkpoint the WAL into the database file while nothing waits, so
        // that commits under load do not pay for it.
        let first = match jobs.recv_timeout(IDLE_CHECKPOINT) {
            Ok(job) => job,
            Err(flume::RecvTimeoutError::Disconnected) => return,
            Err(flume::RecvTimeoutError::Timeout) => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (outcomes, advanced) = commit_batch(&mut conn, &batch, &chain, &key);
        let before = chain.seq;
        chain = advanced;
        if outcomes.iter().any(Result::is_err) {
            // A failed commit may mean the database moved under us (another
            // writer, a restore): continue from what it holds.
            match read_chain(&conn) {
                Ok(held) => chain = held,
                Err(e) => tracing::error!("cannot re-read the audit chain: {e}"),
            }
        }
        anchor_chain(anchor.as_ref(), before, &chain);
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
}

/// Commits a batch in one transaction. Every expected refusal (a status
/// conflict, an unknown operation, a link held by another identity) is
/// found before a job writes anything, so jobs need no savepoints. An
/// unexpected database error rolls the whole batch back; its jobs are then
/// committed one by one, so that a bad job fails alone.
fn commit_batch(
    conn: &mut Connection,
    batch: &[Job],
    chain: &Chain,
    key: &HostKey,
) -> (Vec<Result<Outcome>>, Chain) {
    match try_commit(conn, batch.iter(), chain, key) {
        Ok(done) => done,
        Err(e) if batch.len() == 1 => (vec![Err(e)], chain.clone()),
        Err(e) => {
            tracing::warn!(
                "a batch of {} writes failed ({e}); committing them one by one",
                batch.len()
            );
            let mut chain = chain.clone();
            let mut outcomes = Vec::with_capacity(batch.len());
            for job in batch {
                match try_commit(conn, std::iter::once(job), &chain, key) {
                    Ok((mut one, advanced)) => {
                        chain = advanced;
                        outcomes.push(one.pop().expect("one outcome per job"));
                    }
                    Err(e) => outcomes.push(Err(e)),
                }
            }
            (outcomes, chain)
        }
    }
}

fn try_commit<'j>(
    conn: &mut Connection,
    batch: impl Iterator<Item = &'j Job>,
    chain: &Chain,
    key: &HostKey,
) -> Result<(Vec<Result<Outcome>>, Chain)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut chain = chain.fork();
    let mut outcomes = Vec::new();
    for job in batch {
        let mut attempt = chain.fork();
        match apply_write(&tx, &job.write, &mut attempt, key) {
            Ok(outcome) => {
                chain.seq = attempt.seq;
                chain.mac = attempt.mac;
                chain.pending.extend(attempt.pending);
                outcomes.push(Ok(outcome));
            }
            // Refused before writing anything: the others go on.
            Err(
                e @ (StoreError::Conflict { .. }
                | StoreError::IdempotencyKeyReused { .. }
                | StoreError::NotFound(_)
                | StoreError::AlreadyLinked { .. }),
            ) => outcomes.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    write_audit(&tx, &chain.pending)?;
    chain.pending = Vec::new();
    if chain.seq > 0 {
        tx.prepare_cached(
            "INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac",
        )?
        .execute(params![
            chain.seq,
            chain.mac,
            audit::head_mac(key, chain.seq, &chain.mac)
        ])?;
    }
    tx.commit()?;
    Ok((outcomes, chain))
}

fn apply_write(
    tx: &Connection,
    write: &Write,
    chain: &mut Chain,
    key: &HostKey,
) -> Result<Outcome> {
    match write {
        Write::Submit(op, audit) => {
            submit(tx, op, audit, chain, key).map(|s| Outcome::Submitted(Box::new(s)))
        }
        Write::Apply(change) => {
            apply_change(tx, change, chain, key).map(|r| Outcome::Applied(Box::new(r)))
        }
        Write::PutLink(link, audit) => {
            check_link_free(tx, link)?;
            write_link(tx, link)?;
            append(std::slice::from_ref(audit), chain, key);
            Ok(Outcome::Done)
        }
        Write::Audit(events) => {
            append(events, chain, key);
            Ok(Outcome::Done)
        }
        Write::Quarantine(target, reason, audit) => {
            match reason {
                Some(reason) => {
                    tx.prepare_cached(
                        "INSERT INTO quarantines (target, reason, since) VALUES (?, ?, ?)
                         ON CONFLICT (target) DO UPDATE SET reason = excluded.reason",
                    )?
                    .execute(params![target, reason, now_ms()])?;
                }
                None => {
                    tx.prepare_cached("DELETE FROM quarantines WHERE target = ?")?
                        .execute([target])?;
                }
            }
            append(std::slice::from_ref(audit), chain, key);
            Ok(Outcome::Done)
        }
        Write::PutVersion(version, audit) => {
            let inserted =
                tx.prepare_cached(
                    "INSERT INTO connector_versions
                       (sha256, name, version, contract, size, source, added_by, added_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                )?
                .execute(params![
                    version.sha256,
                    version.name,
                    version.version,
                    version.contract,
                    version.size as i64,
                    version.source,
                    version.added_by,
                    version.added_at,
                ])? == 1;
            if inserted {
                append(std::slice::from_ref(audit), chain, key);
            }
            Ok(Outcome::Inserted(inserted))
        }
        Write::RemoveVersion(sha256, audit) => {
            let removed = tx
                .prepare_cached("DELETE FROM connector_versions WHERE sha256 = ?")?
                .execute([sha256])?
                == 1;
            if removed {
                append(std::slice::from_ref(audit), chain, key);
            }
            Ok(Outcome::Removed(removed))
        }
        Write::Deploy(deployment, audit) => {
            tx.prepare_cached(
                "INSERT INTO deployments (target, active, previous, configured, switched_at, switched_by)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (target) DO UPDATE SET active = excluded.active,
                   previous = excluded.previous, configured = excluded.configured,
                   switched_at = excluded.switched_at, switched_by = excluded.switched_by",
            )?
            .execute(params![
                deployment.target,
                deployment.active,
                deployment.previous,
                deployment.configured,
                deployment.switched_at,
                deployment.switched_by,
            ])?;
            append(std::slice::from_ref(audit), chain, key);
            Ok(Outcome::Done)
        }
        Write::Identity(write, audit) => {
            write_identity(tx, write)?;
            append(audit, chain, key);
            Ok(Outcome::Done)
        }
        Write::RemoveLink(target, class, identity, audit) => {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM account_links WHERE target = ? AND class = ? AND identity = ?",
                )?
                .execute(params![target, class, identity])?
                == 1;
            if removed {
                append(std::slice::from_ref(audit), chain, key);
            }
            Ok(Outcome::Removed(removed))
        }
        Write::Recon(write, audit) => {
            write_recon(tx, write)?;
            append(audit, chain, key);
            Ok(Outcome::Done)
        }
    }
}

fn write_recon(tx: &Connection, write: &ReconWrite) -> Result<()> {
    match write {
        ReconWrite::Run { run, clear_items } => {
            if *clear_items {
                tx.prepare_cached("DELETE FROM recon_items WHERE run = ?")?
                    .execute([&run.id])?;
            }
            tx.prepare_cached(
                "INSERT INTO recon_runs
                   (id, target, class, state, dry_run, requested_by, started_at, finished_at, summary)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                   requested_by = excluded.requested_by,
                   finished_at = excluded.finished_at, summary = excluded.summary",
            )?
            .execute(params![
                run.id,
                run.target,
                run.class,
                run.state,
                run.dry_run,
                run.requested_by,
                run.started_at,
                run.finished_at,
                serde_json::to_string(&run.summary)
                    .map_err(|e| StoreError::Database(e.to_string()))?,
            ])?;
        }
        ReconWrite::Items { run, items } => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO recon_items (run, seq, situation, item) VALUES (?, ?, ?, ?)
                 ON CONFLICT (run, seq) DO UPDATE SET situation = excluded.situation,
                   item = excluded.item",
            )?;
            for item in items {
                insert.execute(params![
                    run,
                    item.seq,
                    item.situation,
                    serde_json::to_string(&item.item)
                        .map_err(|e| StoreError::Database(e.to_string()))?,
                ])?;
            }
        }
        ReconWrite::Cursor {
            target,
            class,
            token,
        } => {
            tx.prepare_cached(
                "INSERT INTO recon_cursors (target, class, token, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (target, class) DO UPDATE SET token = excluded.token,
                   updated_at = excluded.updated_at",
            )?
            .execute(params![target, class, token, now_ms()])?;
        }
    }
    Ok(())
}

fn write_identity(tx: &Connection, write: &IdentityWrite) -> Result<()> {
    let json = |value: &serde_json::Value| {
        serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
    };
    match write {
        IdentityWrite::Put { identity, accounts } => {
            if let Some(identity) = identity {
                tx.prepare_cached(
                    "INSERT INTO identities
                       (id, state, revision, created_at, updated_at, updated_by, review_at, source)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                       revision = excluded.revision, updated_at = excluded.updated_at,
                       updated_by = excluded.updated_by, review_at = excluded.review_at,
                       source = excluded.source",
                )?
                .execute(params![
                    identity.id,
                    json(&identity.state)?,
                    identity.revision,
                    identity.created_at,
                    identity.updated_at,
                    identity.updated_by,
                    identity.review_at,
                    identity.source,
                ])?;
            }
            for account in accounts {
                tx.prepare_cached(
                    "INSERT INTO identity_accounts (identity, target, class, state, updated_at)
                     VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (identity, target, class) DO UPDATE SET
                       state = excluded.state, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    account.identity,
                    account.target,
                    account.class,
                    json(&account.state)?,
                    account.updated_at,
                ])?;
            }
        }
        IdentityWrite::Remove { id } => {
            tx.prepare_cached("DELETE FROM identities WHERE id = ?")?
                .execute([id])?;
        }
        IdentityWrite::Run {
            run,
            items,
            cursor,
            records,
        } => {
            tx.prepare_cached(
                "INSERT INTO source_runs
                   (id, source, state, dry_run, requested_by, started_at, finished_at, summary)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                   finished_at = excluded.finished_at, summary = excluded.summary",
            )?
            .execute(params![
                run.id,
                run.source,
                run.state,
                run.dry_run,
                run.requested_by,
                run.started_at,
                run.finished_at,
                json(&run.summary)?,
            ])?;
            if let Some(items) = items {
                tx.prepare_cached("DELETE FROM source_run_items WHERE run = ?")?
                    .execute([&run.id])?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO source_run_items (run, seq, item) VALUES (?, ?, ?)",
                )?;
                for (seq, item) in items.iter().enumerate() {
                    insert.execute(params![run.id, seq as i64 + 1, item])?;
                }
            }
            if let Some(cursor) = cursor {
                tx.prepare_cached(
                    "INSERT INTO source_cursors (source, class, token, updated_at)
                     VALUES (?, ?, ?, ?)
                     ON CONFLICT (source) DO UPDATE SET class = excluded.class,
                       token = excluded.token, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    run.source,
                    cursor.class,
                    cursor.token,
                    now_ms()
                ])?;
            }
            put_source_records(tx, &run.source, records)?;
        }
        IdentityWrite::SourceRecords { source, records } => {
            tx.prepare_cached("DELETE FROM source_records WHERE source = ?")?
                .execute([&source])?;
            put_source_records(tx, source, records)?;
        }
    }
    Ok(())
}

fn put_source_records(tx: &Connection, source: &str, records: &[(String, String)]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO source_records (source, record, identity) VALUES (?, ?, ?)
         ON CONFLICT (source, record) DO UPDATE SET identity = excluded.identity",
    )?;
    for (record, identity) in records {
        insert.execute(params![source, record, identity])?;
    }
    Ok(())
}

fn submit(
    tx: &Connection,
    op: &NewOperation,
    audit: &[AuditEvent],
    chain: &mut Chain,
    key: &HostKey,
) -> Result<Submitted> {
    if let Some(idempotency_key) = &op.idempotency_key {
        let first: Option<(String, Option<String>)> = tx
            .prepare_cached(
                "SELECT id, request_digest FROM operations
                 WHERE target = ? AND submitted_by = ? AND idempotency_key = ?",
            )?
            .query_row(
                params![op.target, op.submitted_by, idempotency_key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((id, digest)) = first {
            // A row from before digests were kept replays, as it did.
            if digest.is_some() && digest != op.request_digest {
                return Err(StoreError::IdempotencyKeyReused {
                    key: idempotency_key.clone(),
                    id,
                });
            }
            let mut existing = tx.prepare_cached(select_operation!("WHERE id = ?"))?;
            if let Some(record) = rows::first(existing.query([&id])?, rows::operation)? {
                return Ok(Submitted::Existing(record));
            }
        }
    }
    let started = op.started_by.is_some();
    let started_at = started.then_some(op.created_at);
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO operations (id, target, class, identity, kind, payload, sealed_secret, status,
                 max_attempts, idempotency_key, request_digest, submitted_by, created_at, updated_at,
                 attempts, started_at, connector)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        )?
        .query_row(
            params![
                op.id,
                op.target,
                op.class,
                op.identity,
                op.kind.as_str(),
                op.payload.to_string(),
                op.sealed_secret,
                op.status.as_str(),
                op.max_attempts as i64,
                op.idempotency_key,
                op.request_digest,
                op.submitted_by,
                op.created_at,
                op.created_at,
                started as i64,
                started_at,
                op.started_by,
            ],
            |row| row.get(0),
        )?;
    append(audit, chain, key);
    Ok(Submitted::Created(OperationRecord {
        seq,
        id: op.id.clone(),
        target: op.target.clone(),
        class: op.class.clone(),
        identity: op.identity.clone(),
        kind: op.kind,
        payload: op.payload.clone(),
        status: op.status,
        attempts: started as u32,
        max_attempts: op.max_attempts,
        next_attempt_at: None,
        error: None,
        result: None,
        connector: op.started_by.clone(),
        idempotency_key: op.idempotency_key.clone(),
        submitted_by: op.submitted_by.clone(),
        decided_by: None,
        created_at: op.created_at,
        updated_at: op.created_at,
        started_at,
        finished_at: None,
        has_secret: op.sealed_secret.is_some(),
    }))
}

/// `UPDATE operations SET …` for the fields a change sets, and its values.
fn update_statement(change: &Change, now: i64) -> (String, Vec<Value>) {
    let mut sql = String::from("UPDATE operations SET updated_at = ?");
    let mut values = vec![Value::Integer(now)];
    let text = |s: &str| Value::Text(s.to_owned());
    let optional = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    if let Some(status) = change.status {
        sql.push_str(", status = ?, finished_at = ?");
        values.push(text(status.as_str()));
        values.push(optional(status.is_final().then_some(now)));
    }
    if let Some(attempts) = change.attempts {
        sql.push_str(", attempts = ?");
        values.push(Value::Integer(attempts as i64));
    }
    if change.increment_attempts {
        sql.push_str(", attempts = attempts + 1");
    }
    if let Some(next) = change.next_attempt_at {
        sql.push_str(", next_attempt_at = ?");
        values.push(optional(next));
    }
    if let Some(error) = &change.error {
        sql.push_str(", error = ?");
        values.push(error.as_ref().map_or(Value::Null, |e| {
            Value::Text(serde_json::to_string(e).expect("serialisable"))
        }));
    }
    if let Some(result) = &change.result {
        sql.push_str(", result = ?");
        values.push(Value::Text(result.to_string()));
    }
    if let Some(connector) = &change.connector {
        sql.push_str(", connector = ?");
        values.push(text(connector));
    }
    if let Some(decided_by) = &change.decided_by {
        sql.push_str(", decided_by = ?");
        values.push(text(decided_by));
    }
    if change.mark_started {
        sql.push_str(", started_at = COALESCE(started_at, ?)");
        values.push(Value::Integer(now));
    }
    if change.erase_secret {
        sql.push_str(", sealed_secret = NULL");
    }
    sql.push_str(" WHERE id = ?");
    values.push(text(&change.id));
    if !change.expected.is_empty() {
        sql.push_str(" AND status IN (");
        for (i, status) in change.expected.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            values.push(text(status.as_str()));
        }
        sql.push(')');
    }
    sql.push_str(concat!(" RETURNING ", operation_columns!()));
    (sql, values)
}

fn apply_change(
    tx: &Connection,
    change: &Change,
    chain: &mut Chain,
    key: &HostKey,
) -> Result<OperationRecord> {
    if let Some(LinkChange::Put(link)) = &change.link {
        check_link_free(tx, link)?;
    }
    let (sql, values) = update_statement(change, now_ms());
    // The few shapes the engine uses stay prepared.
    let mut update = tx.prepare_cached(&sql)?;
    let Some(op) = rows::first(update.query(params_from_iter(values))?, rows::operation)? else {
        // Nothing was written: say why.
        let current: Option<String> = tx
            .prepare_cached("SELECT status FROM operations WHERE id = ?")?
            .query_row([&change.id], |row| row.get(0))
            .optional()?;
        return Err(match current {
            None => StoreError::NotFound(change.id.clone()),
            Some(status) => {
                let expected: Vec<&str> = change.expected.iter().map(Status::as_str).collect();
                StoreError::Conflict {
                    id: change.id.clone(),
                    current: status.parse().map_err(StoreError::Database)?,
                    expected: expected.join(" or "),
                }
            }
        });
    };
    match &change.link {
        Some(LinkChange::Put(link)) => write_link(tx, link)?,
        Some(LinkChange::Remove {
            target,
            class,
            identity,
        }) => {
            tx.prepare_cached(
                "DELETE FROM account_links WHERE target = ? AND class = ? AND identity = ?",
            )?
            .execute(params![target, class, identity])?;
        }
        None => {}
    }
    append(&change.audit, chain, key);
    Ok(op)
}

/// Refuses to give an account already linked to another identity.
fn check_link_free(tx: &Connection, link: &Link) -> Result<()> {
    let holder: Option<String> = tx
        .prepare_cached(
            "SELECT identity FROM account_links WHERE target = ? AND class = ? AND uid = ?",
        )?
        .query_row(params![link.target, link.class, link.uid], |row| row.get(0))
        .optional()?;
    match holder {
        Some(identity) if identity != link.identity => Err(StoreError::AlreadyLinked {
            target: link.target.clone(),
            class: link.class.clone(),
            identity,
            uid: link.uid.clone(),
        }),
        _ => Ok(()),
    }
}

fn write_link(tx: &Connection, link: &Link) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO account_links (target, class, identity, uid, created_by_provisio, operation_id, linked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, class, identity) DO UPDATE SET uid = excluded.uid,
             created_by_provisio = excluded.created_by_provisio,
             operation_id = excluded.operation_id, linked_at = excluded.linked_at",
    )?
    .execute(params![
        link.target,
        link.class,
        link.identity,
        link.uid,
        link.created_by_provisio,
        link.operation_id,
        link.linked_at,
    ])?;
    Ok(())
}

/// Adds events to the chain; they are written when the batch commits.
fn append(events: &[AuditEvent], chain: &mut Chain, key: &HostKey) {
    for event in events {
        let seq = chain.seq + 1;
        let at = now_ms();
        let detail = event.detail.to_string();
        let mac = audit::row_mac(key, &chain.mac, seq, at, event, &detail);
        let prev_mac = std::mem::replace(&mut chain.mac, mac.clone());
        chain.seq = seq;
        chain.pending.push(AuditRow {
            seq,
            at,
            event: event.clone(),
            detail,
            prev_mac,
            mac,
        });
    }
}

/// Writes a batch's audit rows.
fn write_audit(tx: &Connection, rows: &[AuditRow]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, target, operation_id, event, detail, prev_mac, mac)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for r in rows {
        insert.execute(params![
            r.seq,
            r.at,
            r.event.actor,
            r.event.target,
            r.event.operation_id,
            r.event.event,
            r.detail,
            r.prev_mac,
            r.mac,
        ])?;
    }
    Ok(())
}
