//! The SQLite store: a file in WAL mode, one writer thread that commits
//! concurrent requests in one transaction, and read connections beside it.
//!
//! Statements go straight to SQLite (`rusqlite`) on the thread that needs
//! them; the schema is migrated with sqlx's migrator, so a database keeps
//! its migration history.

mod anchor;
mod lock;
mod reads;
mod rows;
mod writer;

use super::audit::AuditReport;
use super::records::*;
use super::{Result, Store, StoreError};
use crate::keys::HostKey;
use async_trait::async_trait;
use reads::Readers;
use rusqlite::{Connection, OpenFlags};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection as _, SqlStr};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use writer::{Job, Outcome, Write};

/// How long a statement waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL pages after which a commit checkpoints anyway (SQLite's default is
/// 1000; idle checkpoints keep the WAL small, this only bounds it under
/// sustained load).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// Prepared statements kept per connection (the engine uses a few dozen
/// shapes).
const STATEMENT_CACHE: usize = 64;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "registry",
        include_str!("../../../migrations/sqlite/0002_registry.sql"),
    ),
    (
        3,
        "request digest",
        include_str!("../../../migrations/sqlite/0003_request_digest.sql"),
    ),
    (
        4,
        "host runs",
        include_str!("../../../migrations/sqlite/0004_host_runs.sql"),
    ),
    (
        5,
        "identities",
        include_str!("../../../migrations/sqlite/0005_identities.sql"),
    ),
    (
        6,
        "source sync",
        include_str!("../../../migrations/sqlite/0006_source_sync.sql"),
    ),
    (
        7,
        "reconciliation",
        include_str!("../../../migrations/sqlite/0007_reconciliation.sql"),
    ),
    (
        8,
        "links by identity",
        include_str!("../../../migrations/sqlite/0008_links_by_identity.sql"),
    ),
];

pub struct SqliteStore {
    readers: Arc<Readers>,
    writer: flume::Sender<Job>,
    key: HostKey,
    /// Where the writer anchors the audit chain.
    anchor: std::path::PathBuf,
    /// This start of a host on the store: `<store id>.<run>`.
    host_run: String,
    /// Held while the store is open: one host per store.
    _lock: lock::StoreLock,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub async fn open(path: &Path, key: HostKey) -> Result<SqliteStore> {
        Self::open_waiting(path, key, lock::WAIT).await
    }

    /// [`SqliteStore::open`], waiting at most `wait` for another host that
    /// holds the store to let it go.
    pub async fn open_waiting(path: &Path, key: HostKey, wait: Duration) -> Result<SqliteStore> {
        let lock = {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || lock::StoreLock::acquire(&path, wait))
                .await
                .map_err(|e| StoreError::Database(format!("the locking task failed: {e}")))??
        };
        migrate(path).await?;
        let conn = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        // WAL with NORMAL: a commit survives a process crash (SIGKILL);
        // only a power loss may lose the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        let host_run = register_run(&conn)?;
        let anchor = anchor::anchor_path(path);
        let writer = writer::spawn(conn, key.clone(), anchor.clone())?;
        Ok(SqliteStore {
            readers: Readers::new(path.to_owned()),
            writer,
            key,
            anchor,
            host_run,
            _lock: lock,
        })
    }

    /// Verifies the audit chain of the store at `path` without opening it
    /// for writing (and without its lock), so it runs beside a host that
    /// has it open.
    pub async fn verify_file(path: &Path, key: HostKey) -> Result<AuditReport> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let conn = connect(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            reads::verify_audit(&conn, &key, &anchor::anchor_path(&path))
        })
        .await
        .map_err(|e| StoreError::Database(format!("the verifying task failed: {e}")))?
    }

    async fn write(&self, write: Write) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send_async(Job { write, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Records this start of a host; its token.
fn register_run(conn: &Connection) -> Result<String> {
    let store_id: String = conn.query_row(
        "SELECT store_id FROM store_identity WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO host_runs (started_at, pid) VALUES (?, ?)",
        rusqlite::params![super::now_ms(), std::process::id()],
    )?;
    Ok(format!("{store_id}.{}", conn.last_insert_rowid()))
}

/// Creates the file if needed, turns on WAL (kept in the file) and applies
/// the migrations not yet applied.
async fn migrate(path: &Path) -> Result<()> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    migrator()
        .run(&mut conn)
        .await
        .map_err(|e| StoreError::Database(format!("migrating {}: {e}", path.display())))?;
    conn.close().await?;
    Ok(())
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

/// A connection with the settings every one of ours has.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| StoreError::Database(format!("opening {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
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
        self.readers.now(|conn| reads::operation(conn, id))
    }

    async fn operations(&self, query: &OperationQuery) -> Result<Vec<OperationRecord>> {
        let query = query.clone();
        self.readers
            .long(move |conn| reads::operations(conn, &query))
            .await
    }

    async fn open_operations(&self) -> Result<Vec<OperationRecord>> {
        self.readers.long(reads::open_operations).await
    }

    async fn sealed_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.readers.now(|conn| reads::sealed_secret(conn, id))
    }

    async fn link(&self, target: &str, class: &str, identity: &str) -> Result<Option<Link>> {
        self.readers
            .now(|conn| reads::link(conn, target, class, identity))
    }

    async fn link_by_uid(&self, target: &str, class: &str, uid: &str) -> Result<Option<Link>> {
        self.readers
            .now(|conn| reads::link_by_uid(conn, target, class, uid))
    }

    async fn links(&self, target: &str, after: Option<&str>, limit: u32) -> Result<Vec<Link>> {
        let (target, after) = (target.to_owned(), after.unwrap_or("").to_owned());
        self.readers
            .long(move |conn| reads::links(conn, &target, &after, limit))
            .await
    }

    async fn put_link(&self, link: Link, audit: AuditEvent) -> Result<()> {
        self.write(Write::PutLink(link, audit)).await.map(|_| ())
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        self.write(Write::Audit(events)).await.map(|_| ())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let query = query.clone();
        self.readers
            .long(move |conn| reads::audit(conn, &query))
            .await
    }

    fn host_run(&self) -> &str {
        &self.host_run
    }

    async fn verify_audit(&self) -> Result<AuditReport> {
        let (key, anchor) = (self.key.clone(), self.anchor.clone());
        self.readers
            .long(move |conn| reads::verify_audit(conn, &key, &anchor))
            .await
    }

    async fn quarantines(&self) -> Result<Vec<(String, String)>> {
        self.readers.now(reads::quarantines)
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

    async fn remove_connector_version(&self, sha256: &str, audit: AuditEvent) -> Result<bool> {
        match self
            .write(Write::RemoveVersion(sha256.to_owned(), audit))
            .await?
        {
            Outcome::Removed(removed) => Ok(removed),
            _ => unreachable!("a version removal answers Removed"),
        }
    }

    async fn connector_version(&self, sha256: &str) -> Result<Option<ConnectorVersion>> {
        self.readers
            .now(|conn| reads::connector_version(conn, sha256))
    }

    async fn connector_versions(&self) -> Result<Vec<ConnectorVersion>> {
        self.readers.long(reads::connector_versions).await
    }

    async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.readers.now(reads::deployments)
    }

    async fn set_deployment(&self, deployment: Deployment, audit: AuditEvent) -> Result<()> {
        self.write(Write::Deploy(Box::new(deployment), audit))
            .await
            .map(|_| ())
    }

    async fn write_identity(&self, write: IdentityWrite, audit: Vec<AuditEvent>) -> Result<()> {
        self.write(Write::Identity(Box::new(write), audit))
            .await
            .map(|_| ())
    }

    async fn identity(&self, id: &str) -> Result<Option<IdentityRecord>> {
        self.readers.now(|conn| reads::identity(conn, id))
    }

    async fn identities(&self, after: Option<&str>, limit: u32) -> Result<Vec<IdentityRecord>> {
        let after = after.unwrap_or("").to_owned();
        self.readers
            .long(move |conn| reads::identities(conn, &after, limit))
            .await
    }

    async fn identities_of_source(
        &self,
        source: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<IdentityRecord>> {
        let (source, after) = (source.to_owned(), after.unwrap_or("").to_owned());
        self.readers
            .long(move |conn| reads::identities_of_source(conn, &source, &after, limit))
            .await
    }

    async fn source_run(&self, id: &str) -> Result<Option<SourceRunRecord>> {
        self.readers.now(|conn| reads::source_run(conn, id))
    }

    async fn source_runs(&self, source: &str, limit: u32) -> Result<Vec<SourceRunRecord>> {
        self.readers
            .now(|conn| reads::source_runs(conn, source, limit))
    }

    async fn source_run_items(
        &self,
        run: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        let run = run.to_owned();
        self.readers
            .long(move |conn| reads::source_run_items(conn, &run, after, limit))
            .await
    }

    async fn source_cursor(&self, source: &str) -> Result<Option<SourceCursor>> {
        self.readers.now(|conn| reads::source_cursor(conn, source))
    }

    async fn source_record_identities(
        &self,
        source: &str,
        records: Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        let source = source.to_owned();
        self.readers
            .long(move |conn| reads::source_record_identities(conn, &source, &records))
            .await
    }

    async fn remove_link(
        &self,
        target: &str,
        class: &str,
        identity: &str,
        audit: AuditEvent,
    ) -> Result<bool> {
        let write = Write::RemoveLink(
            target.to_owned(),
            class.to_owned(),
            identity.to_owned(),
            audit,
        );
        match self.write(write).await? {
            Outcome::Removed(removed) => Ok(removed),
            _ => Ok(false),
        }
    }

    async fn write_recon(&self, write: ReconWrite, audit: Vec<AuditEvent>) -> Result<()> {
        self.write(Write::Recon(Box::new(write), audit))
            .await
            .map(|_| ())
    }

    async fn recon_run(&self, id: &str) -> Result<Option<ReconRunRecord>> {
        self.readers.now(|conn| reads::recon_run(conn, id))
    }

    async fn recon_cursor(&self, target: &str, class: &str) -> Result<Option<String>> {
        self.readers
            .now(|conn| reads::recon_cursor(conn, target, class))
    }

    async fn recon_runs(&self, target: &str, limit: u32) -> Result<Vec<ReconRunRecord>> {
        self.readers
            .now(|conn| reads::recon_runs(conn, target, limit))
    }

    async fn recon_items(
        &self,
        run: &str,
        situation: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReconItemRecord>> {
        let (run, situation) = (run.to_owned(), situation.map(str::to_owned));
        self.readers
            .long(move |conn| reads::recon_items(conn, &run, situation.as_deref(), after, limit))
            .await
    }

    async fn identities_due(&self, at: i64, limit: u32) -> Result<Vec<IdentityRecord>> {
        self.readers
            .long(move |conn| reads::identities_due(conn, at, limit))
            .await
    }

    async fn identity_accounts(&self, id: &str) -> Result<Vec<AccountRecord>> {
        self.readers.now(|conn| reads::identity_accounts(conn, id))
    }

    async fn identities_in(&self, ids: Vec<String>) -> Result<Vec<IdentityRecord>> {
        self.readers
            .long(move |conn| reads::identities_in(conn, &ids))
            .await
    }

    async fn accounts_in(
        &self,
        target: &str,
        class: &str,
        ids: Vec<String>,
    ) -> Result<Vec<AccountRecord>> {
        let (target, class) = (target.to_owned(), class.to_owned());
        self.readers
            .long(move |conn| reads::accounts_in(conn, &target, &class, &ids))
            .await
    }
}
