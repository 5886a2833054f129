//! The SQLite store: a file in WAL mode, one writer that commits concurrent
//! requests in one transaction (each in its own savepoint, so one failing
//! request does not fail the others), and a pool of readers.

use super::audit::{self, AuditReport, GENESIS_MAC};
use super::records::*;
use super::{Result, Store, StoreError, now_ms};
use crate::keys::HostKey;
use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, SqlStr, Sqlite, Transaction};
use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Every column of an operation row, as `operation_from_row` reads them.
macro_rules! operation_columns {
    () => {
        concat!(
            "seq, id, target, class, identity, kind, payload, status, attempts, max_attempts, ",
            "next_attempt_at, error, result, connector, idempotency_key, submitted_by, decided_by, ",
            "created_at, updated_at, started_at, finished_at, sealed_secret IS NOT NULL AS has_secret"
        )
    };
}

/// `SELECT <every operation column> FROM operations <rest>`, as a literal.
macro_rules! select_operation {
    ($($rest:literal)?) => {
        concat!("SELECT ", operation_columns!(), " FROM operations" $(, " ", $rest)?)
    };
}

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

/// Idle time after which the writer checkpoints the WAL.
const IDLE_CHECKPOINT: Duration = Duration::from_millis(250);

/// WAL pages after which a commit checkpoints anyway (SQLite's default is
/// 1000; idle checkpoints keep the WAL small, this only bounds it under
/// sustained load).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// Requests committed together at most.
const MAX_BATCH: usize = 512;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "registry",
        include_str!("../../migrations/sqlite/0002_registry.sql"),
    ),
];

pub struct SqliteStore {
    reads: SqlitePool,
    writer: mpsc::Sender<Job>,
    key: HostKey,
}

enum Write {
    Submit(Box<NewOperation>, Vec<AuditEvent>),
    Apply(Box<Change>),
    PutLink(Link, AuditEvent),
    Audit(Vec<AuditEvent>),
    Quarantine(String, Option<String>, AuditEvent),
    PutVersion(Box<ConnectorVersion>, AuditEvent),
    Deploy(Box<Deployment>, AuditEvent),
}

enum Outcome {
    Submitted(Box<Submitted>),
    Applied(Box<OperationRecord>),
    Inserted(bool),
    Done,
}

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The newest link of the audit chain, and the rows a job adds to it
/// (written together when the batch commits).
#[derive(Clone, Default)]
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

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub async fn open(path: &Path, key: HostKey) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL: a commit survives a process crash (SIGKILL);
            // only a power loss may lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let mut writer = SqliteConnection::connect_with(
            &options
                .clone()
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string()),
        )
        .await?;
        migrator()
            .run(&mut writer)
            .await
            .map_err(|e| StoreError::Database(format!("migrating {}: {e}", path.display())))?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            // sqlx pings a connection on every acquire by default: for a
            // local file that is a round trip to the connection's thread
            // per read, and nothing to detect.
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        let chain = sqlx::query("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut writer)
            .await?
            .map(|row| Chain {
                seq: row.get(0),
                mac: row.get(1),
                pending: Vec::new(),
            })
            .unwrap_or(Chain {
                seq: 0,
                mac: GENESIS_MAC.to_owned(),
                pending: Vec::new(),
            });
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(write_loop(writer, rx, chain, key.clone()));
        Ok(SqliteStore {
            reads,
            writer: tx,
            key,
        })
    }

    async fn write(&self, write: Write) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job { write, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        SqlStr::from_static(sql),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

async fn write_loop(
    mut conn: SqliteConnection,
    mut jobs: mpsc::Receiver<Job>,
    mut chain: Chain,
    key: HostKey,
) {
    loop {
        // Checkpoint the WAL into the database file while nothing waits, so
        // that commits under load do not pay for it.
        let first = match tokio::time::timeout(IDLE_CHECKPOINT, jobs.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_idle) => {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
                match jobs.recv().await {
                    Some(job) => job,
                    None => return,
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
        let (outcomes, advanced) = commit_batch(&mut conn, &batch, &chain, &key).await;
        chain = advanced;
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
async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &[Job],
    chain: &Chain,
    key: &HostKey,
) -> (Vec<Result<Outcome>>, Chain) {
    match try_commit(conn, batch.iter(), chain, key).await {
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
                match try_commit(conn, std::iter::once(job), &chain, key).await {
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

async fn try_commit<'j>(
    conn: &mut SqliteConnection,
    batch: impl Iterator<Item = &'j Job>,
    chain: &Chain,
    key: &HostKey,
) -> Result<(Vec<Result<Outcome>>, Chain)> {
    let mut tx = conn.begin().await?;
    let mut chain = chain.fork();
    let mut outcomes = Vec::new();
    for job in batch {
        let mut attempt = chain.fork();
        match apply_write(&mut tx, &job.write, &mut attempt, key).await {
            Ok(outcome) => {
                chain.seq = attempt.seq;
                chain.mac = attempt.mac;
                chain.pending.extend(attempt.pending);
                outcomes.push(Ok(outcome));
            }
            // Refused before writing anything: the others go on.
            Err(
                e @ (StoreError::Conflict { .. }
                | StoreError::NotFound(_)
                | StoreError::AlreadyLinked { .. }),
            ) => outcomes.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    write_audit(&mut tx, &chain.pending).await?;
    chain.pending = Vec::new();
    if chain.seq > 0 {
        sqlx::query(
            "INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac",
        )
        .bind(chain.seq)
        .bind(&chain.mac)
        .bind(audit::head_mac(key, chain.seq, &chain.mac))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((outcomes, chain))
}

type Tx<'a> = Transaction<'a, Sqlite>;

async fn apply_write(
    tx: &mut Tx<'_>,
    write: &Write,
    chain: &mut Chain,
    key: &HostKey,
) -> Result<Outcome> {
    match write {
        Write::Submit(op, audit) => submit(tx, op, audit, chain, key)
            .await
            .map(|s| Outcome::Submitted(Box::new(s))),
        Write::Apply(change) => apply_change(tx, change, chain, key)
            .await
            .map(|r| Outcome::Applied(Box::new(r))),
        Write::PutLink(link, audit) => {
            put_link(tx, link).await?;
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
                    sqlx::query(
                        "INSERT INTO quarantines (target, reason, since) VALUES (?, ?, ?)
                         ON CONFLICT (target) DO UPDATE SET reason = excluded.reason",
                    )
                    .bind(target)
                    .bind(reason)
                    .bind(now_ms())
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM quarantines WHERE target = ?")
                        .bind(target)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            append(std::slice::from_ref(audit), chain, key);
            Ok(Outcome::Done)
        }
        Write::PutVersion(version, audit) => {
            let inserted = sqlx::query(
                "INSERT INTO connector_versions
                   (sha256, name, version, contract, size, source, added_by, added_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&version.sha256)
            .bind(&version.name)
            .bind(&version.version)
            .bind(&version.contract)
            .bind(version.size as i64)
            .bind(&version.source)
            .bind(&version.added_by)
            .bind(version.added_at)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                append(std::slice::from_ref(audit), chain, key);
            }
            Ok(Outcome::Inserted(inserted))
        }
        Write::Deploy(deployment, audit) => {
            sqlx::query(
                "INSERT INTO deployments (target, active, previous, configured, switched_at, switched_by)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (target) DO UPDATE SET active = excluded.active,
                   previous = excluded.previous, configured = excluded.configured,
                   switched_at = excluded.switched_at, switched_by = excluded.switched_by",
            )
            .bind(&deployment.target)
            .bind(&deployment.active)
            .bind(&deployment.previous)
            .bind(&deployment.configured)
            .bind(deployment.switched_at)
            .bind(&deployment.switched_by)
            .execute(&mut **tx)
            .await?;
            append(std::slice::from_ref(audit), chain, key);
            Ok(Outcome::Done)
        }
    }
}

async fn submit(
    tx: &mut Tx<'_>,
    op: &NewOperation,
    audit: &[AuditEvent],
    chain: &mut Chain,
    key: &HostKey,
) -> Result<Submitted> {
    if let Some(idempotency_key) = &op.idempotency_key {
        let existing = sqlx::query(select_operation!(
            "WHERE target = ? AND idempotency_key = ?"
        ))
        .bind(&op.target)
        .bind(idempotency_key)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = existing {
            return Ok(Submitted::Existing(operation_from_row(&row)?));
        }
    }
    let started = op.started_by.is_some();
    let started_at = started.then_some(op.created_at);
    let seq: i64 = sqlx::query(
        "INSERT INTO operations (id, target, class, identity, kind, payload, sealed_secret, status,
             max_attempts, idempotency_key, submitted_by, created_at, updated_at, attempts, started_at, connector)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(&op.id)
    .bind(&op.target)
    .bind(&op.class)
    .bind(&op.identity)
    .bind(&op.kind)
    .bind(op.payload.to_string())
    .bind(op.sealed_secret.as_deref())
    .bind(op.status.as_str())
    .bind(op.max_attempts as i64)
    .bind(op.idempotency_key.as_deref())
    .bind(&op.submitted_by)
    .bind(op.created_at)
    .bind(op.created_at)
    .bind(started as i64)
    .bind(started_at)
    .bind(op.started_by.as_deref())
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    append(audit, chain, key);
    Ok(Submitted::Created(OperationRecord {
        seq,
        id: op.id.clone(),
        target: op.target.clone(),
        class: op.class.clone(),
        identity: op.identity.clone(),
        kind: op.kind.clone(),
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

async fn apply_change(
    tx: &mut Tx<'_>,
    change: &Change,
    chain: &mut Chain,
    key: &HostKey,
) -> Result<OperationRecord> {
    if let Some(LinkChange::Put(link)) = &change.link {
        check_link_free(tx, link).await?;
    }
    let now = now_ms();
    let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE operations SET updated_at = ");
    sql.push_bind(now);
    if let Some(status) = change.status {
        sql.push(", status = ").push_bind(status.as_str());
        sql.push(", finished_at = ")
            .push_bind(status.is_final().then_some(now));
    }
    if let Some(attempts) = change.attempts {
        sql.push(", attempts = ").push_bind(attempts as i64);
    }
    if change.increment_attempts {
        sql.push(", attempts = attempts + 1");
    }
    if let Some(next) = change.next_attempt_at {
        sql.push(", next_attempt_at = ").push_bind(next);
    }
    if let Some(error) = &change.error {
        sql.push(", error = ").push_bind(
            error
                .as_ref()
                .map(|e| serde_json::to_string(e).expect("serialisable")),
        );
    }
    if let Some(result) = &change.result {
        sql.push(", result = ").push_bind(result.to_string());
    }
    if let Some(connector) = &change.connector {
        sql.push(", connector = ").push_bind(connector.clone());
    }
    if let Some(decided_by) = &change.decided_by {
        sql.push(", decided_by = ").push_bind(decided_by.clone());
    }
    if change.mark_started {
        sql.push(", started_at = COALESCE(started_at, ")
            .push_bind(now)
            .push(")");
    }
    if change.erase_secret {
        sql.push(", sealed_secret = NULL");
    }
    sql.push(" WHERE id = ").push_bind(change.id.clone());
    if !change.expected.is_empty() {
        sql.push(" AND status IN (");
        let mut statuses = sql.separated(", ");
        for status in &change.expected {
            statuses.push_bind(status.as_str());
        }
        sql.push(")");
    }
    sql.push(concat!(" RETURNING ", operation_columns!()));
    let Some(row) = sql.build().fetch_optional(&mut **tx).await? else {
        // Nothing was written: say why.
        let current = sqlx::query("SELECT status FROM operations WHERE id = ?")
            .bind(&change.id)
            .fetch_optional(&mut **tx)
            .await?;
        return Err(match current {
            None => StoreError::NotFound(change.id.clone()),
            Some(row) => {
                let status: String = row.get(0);
                let expected: Vec<&str> = change.expected.iter().map(Status::as_str).collect();
                StoreError::Conflict {
                    id: change.id.clone(),
                    current: status.parse().map_err(StoreError::Database)?,
                    expected: expected.join(" or "),
                }
            }
        });
    };
    let op = operation_from_row(&row)?;
    match &change.link {
        Some(LinkChange::Put(link)) => write_link(tx, link).await?,
        Some(LinkChange::Remove {
            target,
            class,
            identity,
        }) => {
            sqlx::query(
                "DELETE FROM account_links WHERE target = ? AND class = ? AND identity = ?",
            )
            .bind(target)
            .bind(class)
            .bind(identity)
            .execute(&mut **tx)
            .await?;
        }
        None => {}
    }
    append(&change.audit, chain, key);
    Ok(op)
}

async fn put_link(tx: &mut Tx<'_>, link: &Link) -> Result<()> {
    check_link_free(tx, link).await?;
    write_link(tx, link).await
}

/// Refuses to give an account already linked to another identity.
async fn check_link_free(tx: &mut Tx<'_>, link: &Link) -> Result<()> {
    let taken = sqlx::query(
        "SELECT identity FROM account_links WHERE target = ? AND class = ? AND uid = ?",
    )
    .bind(&link.target)
    .bind(&link.class)
    .bind(&link.uid)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = taken {
        let identity: String = row.get(0);
        if identity != link.identity {
            return Err(StoreError::AlreadyLinked {
                target: link.target.clone(),
                class: link.class.clone(),
                identity,
                uid: link.uid.clone(),
            });
        }
    }
    Ok(())
}

async fn write_link(tx: &mut Tx<'_>, link: &Link) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_links (target, class, identity, uid, created_by_provisio, operation_id, linked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, class, identity) DO UPDATE SET uid = excluded.uid,
             created_by_provisio = excluded.created_by_provisio,
             operation_id = excluded.operation_id, linked_at = excluded.linked_at",
    )
    .bind(&link.target)
    .bind(&link.class)
    .bind(&link.identity)
    .bind(&link.uid)
    .bind(link.created_by_provisio)
    .bind(link.operation_id.as_deref())
    .bind(link.linked_at)
    .execute(&mut **tx)
    .await?;
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

/// Writes a batch's audit rows, many rows per statement.
async fn write_audit(tx: &mut Tx<'_>, rows: &[AuditRow]) -> Result<()> {
    // SQLite takes up to 32766 parameters; nine per row.
    for chunk in rows.chunks(1000) {
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO audit_log (seq, at, actor, target, operation_id, event, detail, prev_mac, mac) ",
        );
        sql.push_values(chunk, |mut row, r| {
            row.push_bind(r.seq)
                .push_bind(r.at)
                .push_bind(r.event.actor.clone())
                .push_bind(r.event.target.clone())
                .push_bind(r.event.operation_id.clone())
                .push_bind(r.event.event.clone())
                .push_bind(r.detail.clone())
                .push_bind(r.prev_mac.clone())
                .push_bind(r.mac.clone());
        });
        sql.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn operation_from_row(row: &SqliteRow) -> Result<OperationRecord> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Database(format!("operation row: {what}: {e}"))
    };
    let status: String = row.get("status");
    let payload: String = row.get("payload");
    let error: Option<String> = row.get("error");
    let result: Option<String> = row.get("result");
    Ok(OperationRecord {
        seq: row.get("seq"),
        id: row.get("id"),
        target: row.get("target"),
        class: row.get("class"),
        identity: row.get("identity"),
        kind: row.get("kind"),
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", &e))?,
        status: status.parse().map_err(|e: String| corrupt("status", &e))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        max_attempts: row.get::<i64, _>("max_attempts") as u32,
        next_attempt_at: row.get("next_attempt_at"),
        error: error
            .map(|e| serde_json::from_str(&e))
            .transpose()
            .map_err(|e| corrupt("error", &e))?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| corrupt("result", &e))?,
        connector: row.get("connector"),
        idempotency_key: row.get("idempotency_key"),
        submitted_by: row.get("submitted_by"),
        decided_by: row.get("decided_by"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        has_secret: row.get("has_secret"),
    })
}

fn link_from_row(row: &SqliteRow) -> Link {
    Link {
        target: row.get("target"),
        class: row.get("class"),
        identity: row.get("identity"),
        uid: row.get("uid"),
        created_by_provisio: row.get("created_by_provisio"),
        operation_id: row.get("operation_id"),
        linked_at: row.get("linked_at"),
    }
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditRecord> {
    let detail: String = row.get("detail");
    Ok(AuditRecord {
        seq: row.get("seq"),
        at: row.get("at"),
        event: AuditEvent {
            actor: row.get("actor"),
            target: row.get("target"),
            operation_id: row.get("operation_id"),
            event: row.get("event"),
            detail: serde_json::from_str(&detail)
                .map_err(|e| StoreError::Database(format!("audit row detail: {e}")))?,
        },
        prev_mac: row.get("prev_mac"),
        mac: row.get("mac"),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn submit(&self, operation: NewOperation, audit: Vec<AuditEvent>) -> Result<Submitted> {
        match self
            .write(Write::Submit(Box::new(operation), audit))
            .await?
        {
            Outcome::Submitted(s) => Ok(*s),
            _ => unreachable!("a submit answers Submitted"),
        }
    }

    async fn apply(&self, change: Change) -> Result<OperationRecord> {
        match self.write(Write::Apply(Box::new(change))).await? {
            Outcome::Applied(op) => Ok(*op),
            _ => unreachable!("an apply answers Applied"),
        }
    }

    async fn operation(&self, id: &str) -> Result<Option<OperationRecord>> {
        sqlx::query(select_operation!("WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reads)
            .await?
            .map(|row| operation_from_row(&row))
            .transpose()
    }

    async fn operations(&self, query: &OperationQuery) -> Result<Vec<OperationRecord>> {
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(select_operation!());
        sql.push(" WHERE 1 = 1");
        if let Some(target) = &query.target {
            sql.push(" AND target = ").push_bind(target);
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(identity) = &query.identity {
            sql.push(" AND identity = ").push_bind(identity);
        }
        if let Some(since) = query.since {
            sql.push(" AND created_at >= ").push_bind(since);
        }
        if let Some(until) = query.until {
            sql.push(" AND created_at < ").push_bind(until);
        }
        if let Some(after) = &query.after {
            sql.push(" AND seq > (SELECT seq FROM operations WHERE id = ")
                .push_bind(after)
                .push(")");
        }
        sql.push(" ORDER BY seq LIMIT ")
            .push_bind(query.limit.max(1) as i64);
        sql.build()
            .fetch_all(&self.reads)
            .await?
            .iter()
            .map(operation_from_row)
            .collect()
    }

    async fn open_operations(&self) -> Result<Vec<OperationRecord>> {
        sqlx::query(select_operation!(
            "WHERE status IN ('pending-approval', 'queued', 'running', 'retrying') ORDER BY seq"
        ))
        .fetch_all(&self.reads)
        .await?
        .iter()
        .map(operation_from_row)
        .collect()
    }

    async fn sealed_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query("SELECT sealed_secret FROM operations WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reads)
                .await?
                .and_then(|row| row.get(0)),
        )
    }

    async fn link(&self, target: &str, class: &str, identity: &str) -> Result<Option<Link>> {
        Ok(sqlx::query(
            "SELECT * FROM account_links WHERE target = ? AND class = ? AND identity = ?",
        )
        .bind(target)
        .bind(class)
        .bind(identity)
        .fetch_optional(&self.reads)
        .await?
        .map(|row| link_from_row(&row)))
    }

    async fn links(&self, target: &str, after: Option<&str>, limit: u32) -> Result<Vec<Link>> {
        Ok(sqlx::query(
            "SELECT * FROM account_links WHERE target = ? AND identity > ? ORDER BY identity LIMIT ?",
        )
        .bind(target)
        .bind(after.unwrap_or(""))
        .bind(limit.max(1) as i64)
        .fetch_all(&self.reads)
        .await?
        .iter()
        .map(link_from_row)
        .collect())
    }

    async fn put_link(&self, link: Link, audit: AuditEvent) -> Result<()> {
        self.write(Write::PutLink(link, audit)).await.map(|_| ())
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        self.write(Write::Audit(events)).await.map(|_| ())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT * FROM audit_log WHERE 1 = 1");
        if let Some(target) = &query.target {
            sql.push(" AND target = ").push_bind(target);
        }
        if let Some(op) = &query.operation_id {
            sql.push(" AND operation_id = ").push_bind(op);
        }
        if let Some(after) = query.after_seq {
            sql.push(" AND seq > ").push_bind(after);
        }
        sql.push(" ORDER BY seq LIMIT ")
            .push_bind(query.limit.max(1) as i64);
        sql.build()
            .fetch_all(&self.reads)
            .await?
            .iter()
            .map(audit_from_row)
            .collect()
    }

    async fn verify_audit(&self) -> Result<AuditReport> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq").fetch(&self.reads);
        let mut expected_seq = 1i64;
        let mut prev_mac = GENESIS_MAC.to_owned();
        let mut count = 0u64;
        let fail = |count, problem: String| {
            Ok(AuditReport {
                rows: count,
                ok: false,
                problem: Some(problem),
            })
        };
        while let Some(row) = rows.try_next().await? {
            let record = match audit_from_row(&row) {
                Ok(record) => record,
                Err(e) => return fail(count, format!("row after seq {}: {e}", expected_seq - 1)),
            };
            if record.seq != expected_seq {
                return fail(
                    count,
                    format!("rows {expected_seq} to {} are missing", record.seq - 1),
                );
            }
            if record.prev_mac != prev_mac {
                return fail(
                    count,
                    format!("row {} does not follow row {}", record.seq, record.seq - 1),
                );
            }
            let detail: String = row.get("detail");
            let mac = audit::row_mac(
                &self.key,
                &prev_mac,
                record.seq,
                record.at,
                &record.event,
                &detail,
            );
            if mac != record.mac {
                return fail(count, format!("row {} was altered", record.seq));
            }
            prev_mac = record.mac;
            expected_seq += 1;
            count += 1;
        }
        drop(rows);
        let head = sqlx::query("SELECT seq, mac, head_mac FROM audit_head WHERE id = 1")
            .fetch_optional(&self.reads)
            .await?;
        match head {
            None if count == 0 => {}
            None => return fail(count, "the chain's head record is missing".into()),
            Some(head) => {
                let (seq, mac, head_mac): (i64, String, String) =
                    (head.get(0), head.get(1), head.get(2));
                if head_mac != audit::head_mac(&self.key, seq, &mac) {
                    return fail(count, "the chain's head record was altered".into());
                }
                if seq != expected_seq - 1 || mac != prev_mac {
                    return fail(
                        count,
                        format!(
                            "the log ends at row {} but its head says row {seq}: rows were deleted",
                            expected_seq - 1
                        ),
                    );
                }
            }
        }
        Ok(AuditReport {
            rows: count,
            ok: true,
            problem: None,
        })
    }

    async fn quarantines(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query("SELECT target, reason FROM quarantines ORDER BY target")
                .fetch_all(&self.reads)
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect(),
        )
    }

    async fn set_quarantine(
        &self,
        target: &str,
        reason: Option<String>,
        audit: AuditEvent,
    ) -> Result<()> {
        self.write(Write::Quarantine(target.to_owned(), reason, audit))
            .await
            .map(|_| ())
    }

    async fn put_connector_version(
        &self,
        version: ConnectorVersion,
        audit: AuditEvent,
    ) -> Result<bool> {
        match self
            .write(Write::PutVersion(Box::new(version), audit))
            .await?
        {
            Outcome::Inserted(inserted) => Ok(inserted),
            _ => unreachable!("a version write answers Inserted"),
        }
    }

    async fn connector_version(&self, sha256: &str) -> Result<Option<ConnectorVersion>> {
        Ok(sqlx::query(select_version!("WHERE sha256 = ?"))
            .bind(sha256)
            .fetch_optional(&self.reads)
            .await?
            .as_ref()
            .map(version_from_row))
    }

    async fn connector_versions(&self) -> Result<Vec<ConnectorVersion>> {
        Ok(sqlx::query(select_version!("ORDER BY added_at, sha256"))
            .fetch_all(&self.reads)
            .await?
            .iter()
            .map(version_from_row)
            .collect())
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        Ok(sqlx::query(
            "SELECT target, active, previous, configured, switched_at, switched_by
             FROM deployments ORDER BY target",
        )
        .fetch_all(&self.reads)
        .await?
        .iter()
        .map(|row| Deployment {
            target: row.get(0),
            active: row.get(1),
            previous: row.get(2),
            configured: row.get(3),
            switched_at: row.get(4),
            switched_by: row.get(5),
        })
        .collect())
    }

    async fn set_deployment(&self, deployment: Deployment, audit: AuditEvent) -> Result<()> {
        self.write(Write::Deploy(Box::new(deployment), audit))
            .await
            .map(|_| ())
    }
}

fn version_from_row(row: &SqliteRow) -> ConnectorVersion {
    ConnectorVersion {
        sha256: row.get(0),
        name: row.get(1),
        version: row.get(2),
        contract: row.get(3),
        size: row.get::<i64, _>(4) as u64,
        source: row.get(5),
        added_by: row.get(6),
        added_at: row.get(7),
    }
}
