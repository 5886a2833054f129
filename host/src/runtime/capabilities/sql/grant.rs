//! The databases of one target: host-owned pools, and the statements a
//! connector runs through them.

use super::convert;
use super::error::SqlError;
use super::recorded::{self, Outcome, RecordedRows};
use super::rows::{Column, RowShape, Rows, SqlValue};
use crate::runtime::HostBudget;
use crate::runtime::recording::Tape;
use crate::secret::Secret;
use futures_util::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Rows a cursor fetches ahead of the connector's reads, at most.
const CURSOR_PREFETCH: usize = 256;
/// Bytes of rows a cursor holds ahead of the connector's reads, at most (a
/// row larger than this is held alone).
const CURSOR_PREFETCH_BYTES: usize = 4 << 20;

/// One database as the operator grants it.
#[derive(Debug, Clone)]
pub struct DatabaseSpec {
    /// `postgres://user@host:port/db` or `sqlite://path`; never a password.
    pub url: String,
    pub password: Option<Secret>,
    pub max_connections: u32,
}

/// Which SQL a database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A granted database: its pool, shared by every instance of the target.
#[derive(Debug)]
pub struct GrantedDatabase {
    name: String,
    pool: Pool,
}

/// The databases of one target, and the runtime their pools live on.
#[derive(Debug)]
pub struct SqlGrant {
    databases: BTreeMap<String, Arc<GrantedDatabase>>,
    /// The databases' passwords, which the connector must never echo.
    passwords: Vec<Secret>,
    runtime: tokio::runtime::Handle,
    /// Longest one statement (or one batch of a cursor) may take.
    timeout: Duration,
    /// Where calls are recorded to or answered from, when taped.
    tape: Option<Arc<Tape>>,
    /// Numbers transactions and cursors, which a recording names: the
    /// same calls in the same order get the same numbers on replay.
    handles: AtomicU64,
}

impl SqlGrant {
    /// Pools for `specs`, connecting lazily: a database that is down does
    /// not stop the target from starting, its calls fail `unavailable`.
    /// Must run inside a tokio runtime.
    pub fn connect_lazy(
        specs: &BTreeMap<String, DatabaseSpec>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "SQL grants need a tokio runtime".to_owned())?;
        let _entered = runtime.enter();
        let mut databases = BTreeMap::new();
        for (name, spec) in specs {
            let pool = open_pool(spec, timeout).map_err(|e| format!("database {name}: {e}"))?;
            databases.insert(
                name.clone(),
                Arc::new(GrantedDatabase {
                    name: name.clone(),
                    pool,
                }),
            );
        }
        Ok(SqlGrant {
            databases,
            passwords: specs.values().filter_map(|s| s.password.clone()).collect(),
            runtime,
            timeout,
            tape: None,
            handles: AtomicU64::new(0),
        })
    }

    /// Records every call on `tape`, or answers it from there (then no
    /// database is reached).
    pub fn set_tape(&mut self, tape: Arc<Tape>) {
        self.tape = Some(tape);
    }

    fn replaying(&self) -> bool {
        self.tape.as_ref().is_some_and(|t| t.replaying())
    }

    fn next_handle(&self) -> u64 {
        self.handles.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `live`'s outcome, recorded when taping (as `keep` makes it); the
    /// recorded one, without running `live`, when replaying (as `back`
    /// makes it again).
    async fn taped<T, K>(
        &self,
        call: &str,
        request: impl FnOnce() -> serde_json::Value,
        live: impl Future<Output = Result<T, SqlError>>,
        keep: impl FnOnce(&T) -> K,
        back: impl FnOnce(K) -> T,
    ) -> Result<T, SqlError>
    where
        K: serde::Serialize + serde::de::DeserializeOwned,
    {
        let Some(tape) = &self.tape else {
            return live.await;
        };
        let live = async { Outcome::of(&live.await, keep) };
        match tape.exchange("sql", call, request(), live).await {
            Ok(outcome) => outcome.into_result(back),
            Err(unrecorded) => Err(SqlError::Failed(unrecorded.to_string())),
        }
    }

    /// Rows from `live`, or, when taped, recorded under `call` with
    /// `request` (None when untaped), or answered from the recording;
    /// rows answered from a recording count against the call's budget as
    /// rows from the database do.
    async fn taped_rows(
        &self,
        call: &str,
        request: Option<serde_json::Value>,
        budget: &mut HostBudget,
        live: impl AsyncFnOnce(&mut HostBudget) -> Result<Rows, SqlError>,
    ) -> Result<Rows, SqlError> {
        let Some(request) = request else {
            return live(budget).await;
        };
        let rows = self
            .taped(
                call,
                || request,
                live(budget),
                |rows: &Rows| RecordedRows::from(rows),
                Rows::from,
            )
            .await?;
        if self.replaying() {
            for row in &rows.rows {
                budget
                    .take(row_bytes(row))
                    .map_err(|over| SqlError::Failed(over.to_string()))?;
            }
        }
        Ok(rows)
    }

    pub fn passwords(&self) -> impl Iterator<Item = &Secret> {
        self.passwords.iter()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.databases.keys().map(String::as_str)
    }

    pub fn open(&self, name: &str) -> Result<DatabaseHandle, SqlError> {
        let database = self.databases.get(name).ok_or_else(|| {
            let granted: Vec<&str> = self.names().collect();
            SqlError::NotGranted(if granted.is_empty() {
                format!("no database is granted to this target (asked for {name:?})")
            } else {
                format!(
                    "database {name:?} is not granted to this target (granted: {})",
                    granted.join(", ")
                )
            })
        })?;
        Ok(DatabaseHandle {
            database: database.clone(),
        })
    }

    /// Runs `f` under the statement timeout.
    async fn within<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, SqlError>>,
    ) -> Result<T, SqlError> {
        tokio::time::timeout(self.timeout, f)
            .await
            .unwrap_or_else(|_| {
                Err(SqlError::Unavailable(format!(
                    "{what} took longer than {}",
                    humantime::format_duration(self.timeout)
                )))
            })
    }

    pub async fn query(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
        shape: RowShape,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        let request = self
            .tape
            .as_ref()
            .map(|_| recorded::statement(db.name(), &sql, &params, Some(shape)));
        self.taped_rows("query", request, budget, async |budget| {
            self.live_query(db, sql, params, shape, budget).await
        })
        .await
    }

    async fn live_query(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
        shape: RowShape,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        self.within("the query", async {
            match &db.database.pool {
                Pool::Postgres(pool) => {
                    let rows = convert::pg_query(sql, params).fetch(pool);
                    collect(rows, shape, convert::pg_row, budget).await
                }
                Pool::Sqlite(pool) => {
                    let mut conn = pool.acquire().await?;
                    interrupt_after(&mut conn, self.timeout).await?;
                    let rows = convert::sqlite_query(sql, params).fetch(&mut *conn);
                    collect(rows, shape, convert::sqlite_row, budget).await
                }
            }
        })
        .await
    }

    pub async fn execute(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<u64, SqlError> {
        if self.tape.is_none() {
            return self.live_execute(db, sql, params).await;
        }
        let request = recorded::statement(db.name(), &sql, &params, None);
        self.taped(
            "execute",
            || request,
            self.live_execute(db, sql, params),
            |n| *n,
            |n| n,
        )
        .await
    }

    async fn live_execute(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<u64, SqlError> {
        self.within("the statement", async {
            Ok(match &db.database.pool {
                Pool::Postgres(pool) => convert::pg_query(sql, params)
                    .execute(pool)
                    .await?
                    .rows_affected(),
                Pool::Sqlite(pool) => {
                    let mut conn = pool.acquire().await?;
                    interrupt_after(&mut conn, self.timeout).await?;
                    convert::sqlite_query(sql, params)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                }
            })
        })
        .await
    }

    pub async fn begin(&self, db: &DatabaseHandle) -> Result<TransactionHandle, SqlError> {
        let id = self.next_handle();
        let mut live = None;
        let started = self.live_begin(db);
        self.taped(
            "begin",
            || serde_json::json!({"database": db.name(), "transaction": id}),
            async {
                live = Some(started.await?);
                Ok(())
            },
            |()| (),
            |()| (),
        )
        .await?;
        Ok(TransactionHandle { id, live })
    }

    async fn live_begin(&self, db: &DatabaseHandle) -> Result<LiveTransaction, SqlError> {
        self.within("starting a transaction", async {
            Ok(match &db.database.pool {
                Pool::Postgres(pool) => LiveTransaction::Postgres(pool.begin().await?),
                Pool::Sqlite(pool) => LiveTransaction::Sqlite(pool.begin().await?),
            })
        })
        .await
    }

    pub async fn tx_query(
        &self,
        tx: &mut TransactionHandle,
        sql: String,
        params: Vec<SqlValue>,
        shape: RowShape,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        let request = self
            .tape
            .as_ref()
            .map(|_| recorded::in_transaction(tx.id, &sql, &params, Some(shape)));
        self.taped_rows("tx-query", request, budget, async |budget| {
            self.live_tx_query(tx, sql, params, shape, budget).await
        })
        .await
    }

    async fn live_tx_query(
        &self,
        tx: &mut TransactionHandle,
        sql: String,
        params: Vec<SqlValue>,
        shape: RowShape,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        let tx = tx.live()?;
        self.within("the query", async {
            match tx {
                LiveTransaction::Postgres(tx) => {
                    let rows = convert::pg_query(sql, params).fetch(&mut **tx);
                    collect(rows, shape, convert::pg_row, budget).await
                }
                LiveTransaction::Sqlite(tx) => {
                    interrupt_after(tx, self.timeout).await?;
                    let rows = convert::sqlite_query(sql, params).fetch(&mut **tx);
                    collect(rows, shape, convert::sqlite_row, budget).await
                }
            }
        })
        .await
    }

    pub async fn tx_execute(
        &self,
        tx: &mut TransactionHandle,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<u64, SqlError> {
        if self.tape.is_none() {
            return self.live_tx_execute(tx, sql, params).await;
        }
        let request = recorded::in_transaction(tx.id, &sql, &params, None);
        self.taped(
            "tx-execute",
            || request,
            self.live_tx_execute(tx, sql, params),
            |n| *n,
            |n| n,
        )
        .await
    }

    async fn live_tx_execute(
        &self,
        tx: &mut TransactionHandle,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<u64, SqlError> {
        let tx = tx.live()?;
        self.within("the statement", async {
            Ok(match tx {
                LiveTransaction::Postgres(tx) => convert::pg_query(sql, params)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                LiveTransaction::Sqlite(tx) => {
                    interrupt_after(tx, self.timeout).await?;
                    convert::sqlite_query(sql, params)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                }
            })
        })
        .await
    }

    pub async fn commit(&self, tx: TransactionHandle) -> Result<(), SqlError> {
        self.end(tx, "commit").await
    }

    pub async fn rollback(&self, tx: TransactionHandle) -> Result<(), SqlError> {
        self.end(tx, "rollback").await
    }

    async fn end(&self, tx: TransactionHandle, how: &'static str) -> Result<(), SqlError> {
        let id = tx.id;
        let live = async move {
            let Some(tx) = tx.live else {
                return Err(replayed_handle());
            };
            self.within(
                if how == "commit" {
                    "the commit"
                } else {
                    "the rollback"
                },
                async {
                    match (tx, how) {
                        (LiveTransaction::Postgres(tx), "commit") => tx.commit().await?,
                        (LiveTransaction::Sqlite(tx), "commit") => tx.commit().await?,
                        (LiveTransaction::Postgres(tx), _) => tx.rollback().await?,
                        (LiveTransaction::Sqlite(tx), _) => tx.rollback().await?,
                    }
                    Ok(())
                },
            )
            .await
        };
        self.taped(
            how,
            || serde_json::json!({"transaction": id}),
            live,
            |()| (),
            |()| (),
        )
        .await
    }

    /// Starts streaming a query's rows from a connection of its own; the
    /// stream stops when the cursor is dropped.
    pub fn cursor(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
    ) -> Result<CursorHandle, SqlError> {
        let id = self.next_handle();
        let Some(tape) = &self.tape else {
            return Ok(self.live_cursor(db, sql, params, id));
        };
        let mut request = recorded::statement(db.name(), &sql, &params, None);
        request["cursor"] = serde_json::json!(id);
        let mut live = None;
        let outcome = tape.exchange_now("sql", "cursor", request, || {
            live = Some(self.live_cursor(db, sql, params, id));
            Outcome::Ok(())
        });
        match outcome {
            Ok(outcome) => outcome.into_result(|()| ())?,
            Err(unrecorded) => return Err(SqlError::Failed(unrecorded.to_string())),
        }
        Ok(live.unwrap_or(CursorHandle {
            id,
            rows: None,
            columns: Vec::new(),
            done: false,
            deadline: Arc::new(AtomicU64::new(0)),
        }))
    }

    fn live_cursor(
        &self,
        db: &DatabaseHandle,
        sql: String,
        params: Vec<SqlValue>,
        id: u64,
    ) -> CursorHandle {
        let (tx, rx) = tokio::sync::mpsc::channel(CURSOR_PREFETCH);
        let pool = db.database.pool.clone();
        let room = Arc::new(tokio::sync::Semaphore::new(CURSOR_PREFETCH_BYTES));
        // The statement may step while the connector reads batches, each
        // within the timeout: every `next` moves the deadline on, so a
        // cursor nobody reads is interrupted, and one read is not.
        let deadline = Arc::new(AtomicU64::new(deadline_after(self.timeout)));
        let watched = deadline.clone();
        self.runtime.spawn(async move {
            // A row is sent once the bytes it holds fit the prefetch room;
            // the reader gives them back as it takes the row.
            let send = |row: Result<(Option<Vec<Column>>, Vec<SqlValue>), SqlError>| {
                let (tx, room) = (tx.clone(), room.clone());
                async move {
                    let bytes = row.as_ref().map_or(0, |(_, values)| row_bytes(values));
                    let wanted =
                        u32::try_from(bytes.min(CURSOR_PREFETCH_BYTES)).unwrap_or(u32::MAX);
                    let Ok(held) = room.acquire_many_owned(wanted).await else {
                        return false;
                    };
                    tx.send(row.map(|row| (row, held))).await.is_ok()
                }
            };
            // Columns go with the first row only.
            let mut first = true;
            match pool {
                Pool::Postgres(pool) => {
                    let mut rows = convert::pg_query(sql, params).fetch(&pool);
                    while let Some(row) = rows.next().await {
                        let row = row.map_err(SqlError::from).and_then(|r| {
                            let columns = first.then(|| convert::columns(&r));
                            Ok((columns, convert::pg_row(&r)?))
                        });
                        first = false;
                        if !send(row).await {
                            break;
                        }
                    }
                }
                Pool::Sqlite(pool) => {
                    let mut conn = match pool.acquire().await {
                        Ok(conn) => conn,
                        Err(e) => {
                            let _ = send(Err(SqlError::from(e))).await;
                            return;
                        }
                    };
                    match conn.lock_handle().await {
                        Ok(mut handle) => handle.set_progress_handler(PROGRESS_STEPS, move || {
                            now_ms() < watched.load(Ordering::Relaxed)
                        }),
                        Err(e) => {
                            let _ = send(Err(SqlError::from(e))).await;
                            return;
                        }
                    }
                    let mut rows = convert::sqlite_query(sql, params).fetch(&mut *conn);
                    while let Some(row) = rows.next().await {
                        let row = row.map_err(SqlError::from).and_then(|r| {
                            let columns = first.then(|| convert::columns(&r));
                            Ok((columns, convert::sqlite_row(&r)?))
                        });
                        first = false;
                        if !send(row).await {
                            break;
                        }
                    }
                }
            }
        });
        CursorHandle {
            id,
            rows: Some(rx),
            columns: Vec::new(),
            done: false,
            deadline,
        }
    }

    pub async fn next(
        &self,
        cursor: &mut CursorHandle,
        max: u32,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        let request = self
            .tape
            .as_ref()
            .map(|_| serde_json::json!({"cursor": cursor.id, "max": max}));
        self.taped_rows("next", request, budget, async |budget| {
            self.live_next(cursor, max, budget).await
        })
        .await
    }

    async fn live_next(
        &self,
        cursor: &mut CursorHandle,
        max: u32,
        budget: &mut HostBudget,
    ) -> Result<Rows, SqlError> {
        let mut batch = Rows::default();
        if cursor.done || max == 0 {
            return Ok(batch);
        }
        cursor
            .deadline
            .store(deadline_after(self.timeout), Ordering::Relaxed);
        self.within("fetching rows", async {
            let Some(rows) = cursor.rows.as_mut() else {
                return Err(replayed_handle());
            };
            while batch.rows.len() < max as usize {
                match rows.recv().await {
                    None => {
                        cursor.done = true;
                        break;
                    }
                    Some(Err(e)) => {
                        cursor.done = true;
                        return Err(e);
                    }
                    Some(Ok(((columns, values), _room))) => {
                        if let Some(columns) = columns {
                            cursor.columns = columns;
                        }
                        budget
                            .take(row_bytes(&values))
                            .map_err(|over| SqlError::Failed(over.to_string()))?;
                        batch.rows.push(values);
                    }
                }
            }
            Ok(())
        })
        .await?;
        batch.columns = cursor.columns.clone();
        Ok(batch)
    }
}

fn open_pool(spec: &DatabaseSpec, timeout: Duration) -> Result<Pool, String> {
    let acquire = timeout.min(Duration::from_secs(10));
    let scheme = spec.url.split(':').next().unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => {
            let mut options = PgConnectOptions::from_str(&spec.url)
                .map_err(|e| format!("the url is not a PostgreSQL URL: {e}"))?
                .application_name("provisio");
            if let Some(password) = &spec.password {
                options = options.password(password.expose());
            }
            Ok(Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(spec.max_connections)
                    .acquire_timeout(acquire)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                    .connect_lazy_with(options),
            ))
        }
        "sqlite" => {
            let options = SqliteConnectOptions::from_str(&spec.url)
                .map_err(|e| format!("the url is not a SQLite URL: {e}"))?
                .busy_timeout(acquire)
                .foreign_keys(true);
            Ok(Pool::Sqlite(
                SqlitePoolOptions::new()
                    .after_connect(|conn, _| Box::pin(super::sqlite_guard::guard(conn)))
                    .max_connections(spec.max_connections)
                    .acquire_timeout(acquire)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                    .connect_lazy_with(options),
            ))
        }
        other => Err(format!(
            "unsupported database kind {other:?} (postgres:// or sqlite://)"
        )),
    }
}

/// The rows of a result, converted as they arrive and counted against the
/// call's host budget, so a huge result fails once it passes the budget
/// instead of being held whole first.
async fn collect<R: sqlx::Row>(
    mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    shape: RowShape,
    convert_row: fn(&R) -> Result<Vec<SqlValue>, SqlError>,
    budget: &mut HostBudget,
) -> Result<Rows, SqlError> {
    let mut out = Rows::default();
    while let Some(row) = rows.next().await {
        let row = row?;
        if out.rows.is_empty() && shape == RowShape::Described {
            out.columns = convert::columns(&row);
        }
        let values = convert_row(&row)?;
        budget
            .take(row_bytes(&values))
            .map_err(|over| SqlError::Failed(over.to_string()))?;
        out.rows.push(values);
    }
    Ok(out)
}

/// What a row costs the host: its values and their bookkeeping.
pub(super) fn row_bytes(values: &[SqlValue]) -> usize {
    24 + values
        .iter()
        .map(|v| {
            32 + match v {
                SqlValue::Text(t) => t.len(),
                SqlValue::Blob(b) => b.len(),
                _ => 0,
            }
        })
        .sum::<usize>()
}

/// Arms SQLite's progress handler so the connection's next statements stop
/// (`SQLITE_INTERRUPT`) once `timeout` has passed: dropping a statement's
/// future on timeout leaves sqlx's worker thread stepping it, so a runaway
/// statement (a recursive CTE) would go on holding the connection.
async fn interrupt_after(
    conn: &mut sqlx::SqliteConnection,
    timeout: Duration,
) -> Result<(), SqlError> {
    let deadline = std::time::Instant::now() + timeout;
    conn.lock_handle()
        .await?
        .set_progress_handler(PROGRESS_STEPS, move || std::time::Instant::now() < deadline);
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `timeout` from now, in ms since the epoch.
fn deadline_after(timeout: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
}

/// SQLite virtual machine steps between two checks of the deadline.
const PROGRESS_STEPS: i32 = 10_000;

/// A pooled connection used within this long is taken as alive; an older
/// one is pinged before it is lent (HikariCP's "alive bypass window"). sqlx
/// would ping on every acquire: a second round trip per statement. A
/// connection that died inside the window fails its statement
/// `unavailable`, which the engine retries, and is dropped from the pool.
pub const ALIVE_WITHOUT_PING: Duration = Duration::from_secs(1);

/// The pools' `before_acquire` hook: pings a connection idle for longer
/// than [`ALIVE_WITHOUT_PING`].
pub async fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for > ALIVE_WITHOUT_PING {
        conn.ping().await?;
    }
    Ok(true)
}

/// The host side of a connector's `database` handle.
#[derive(Debug)]
pub struct DatabaseHandle {
    database: Arc<GrantedDatabase>,
}

impl DatabaseHandle {
    pub fn dialect(&self) -> Dialect {
        match self.database.pool {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub fn name(&self) -> &str {
        &self.database.name
    }
}

/// The host side of a connector's `transaction`: dropping it rolls back.
pub struct TransactionHandle {
    /// What a recording calls it.
    id: u64,
    /// None when answered from a recording.
    live: Option<LiveTransaction>,
}

impl TransactionHandle {
    fn live(&mut self) -> Result<&mut LiveTransaction, SqlError> {
        self.live.as_mut().ok_or_else(replayed_handle)
    }
}

enum LiveTransaction {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

/// A replayed handle reached the database: only a recording that does
/// not hold the call gets here, and the tape says so first.
fn replayed_handle() -> SqlError {
    SqlError::Failed("replay: this transaction or cursor exists only in the recording".into())
}

/// A row of a cursor, and the prefetch room it holds until it is read.
type RowMessage = Result<
    (
        (Option<Vec<Column>>, Vec<SqlValue>),
        tokio::sync::OwnedSemaphorePermit,
    ),
    SqlError,
>;

/// The host side of a connector's `cursor`.
pub struct CursorHandle {
    /// What a recording calls it.
    id: u64,
    /// None when answered from a recording.
    rows: Option<tokio::sync::mpsc::Receiver<RowMessage>>,
    columns: Vec<Column>,
    done: bool,
    /// When a SQLite cursor's statement is interrupted (ms since the epoch).
    deadline: Arc<AtomicU64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::recording::EXCHANGES_FILE as EXCHANGES;

    fn grant(url: String, tape: Arc<Tape>) -> SqlGrant {
        let specs = BTreeMap::from([(
            "main".to_owned(),
            DatabaseSpec {
                url,
                password: None,
                max_connections: 2,
            },
        )]);
        let mut grant = SqlGrant::connect_lazy(&specs, Duration::from_secs(5)).unwrap();
        grant.set_tape(tape);
        grant
    }

    /// What a connector does with a database: statements, a transaction
    /// committed and one rolled back, a cursor read in batches, a refused
    /// statement. Its answers, in order.
    async fn session(grant: &SqlGrant) -> Vec<String> {
        let mut budget = HostBudget::new(1 << 20);
        let db = grant.open("main").unwrap();
        let mut out = Vec::new();
        let text = |t: &str| SqlValue::Text(t.to_owned());
        out.push(format!(
            "{:?}",
            grant.execute(&db, "DELETE FROM t".into(), vec![]).await
        ));
        let mut tx = grant.begin(&db).await.unwrap();
        for k in ["a", "b", "c"] {
            let inserted = grant
                .tx_execute(
                    &mut tx,
                    "INSERT INTO t VALUES (?1, ?2, ?3)".into(),
                    vec![text(k), SqlValue::Blob(vec![0xff, 0]), SqlValue::Real(0.1)],
                )
                .await;
            out.push(format!("{inserted:?}"));
        }
        out.push(format!("{:?}", grant.commit(tx).await));
        let mut tx = grant.begin(&db).await.unwrap();
        let duplicate = grant
            .tx_execute(
                &mut tx,
                "INSERT INTO t VALUES ('a', NULL, NULL)".into(),
                vec![],
            )
            .await;
        out.push(format!("{duplicate:?}"));
        out.push(format!("{:?}", grant.rollback(tx).await));
        let mut cursor = grant
            .cursor(&db, "SELECT k, v, r FROM t ORDER BY k".into(), vec![])
            .unwrap();
        for _ in 0..3 {
            out.push(format!(
                "{:?}",
                grant.next(&mut cursor, 2, &mut budget).await
            ));
        }
        let rows = grant
            .query(
                &db,
                "SELECT count(*) FROM t".into(),
                vec![],
                RowShape::Described,
                &mut budget,
            )
            .await;
        out.push(format!("{rows:?}"));
        out
    }

    #[tokio::test]
    async fn transactions_and_cursors_replay_without_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.sqlite");
        // The grant refuses schema writes: the table is the operator's.
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, r REAL)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let url = format!("sqlite://{}", file.display());
        let recording = dir.path().join("recording");
        let tape = Arc::new(Tape::record(&recording, []).unwrap());
        let recorded = session(&grant(url, tape.clone())).await;
        drop(tape);
        assert!(recorded[5].contains("Constraint"), "{recorded:?}");
        assert!(recorded[7].contains("Blob([255, 0])"), "{recorded:?}");

        let tape = Arc::new(Tape::replay(&recording, []).unwrap());
        let nowhere = "sqlite:///nonexistent/provisio/db.sqlite".to_owned();
        let replayed = session(&grant(nowhere.clone(), tape.clone())).await;
        assert_eq!(replayed, recorded);
        assert_eq!(tape.unused(), 0);

        // Another statement is not in the recording, and says so.
        let tape = Arc::new(Tape::replay(&recording, []).unwrap());
        let grant = grant(nowhere, tape);
        let db = grant.open("main").unwrap();
        let other = grant
            .execute(&db, "DELETE FROM t WHERE k = 'a'".into(), vec![])
            .await;
        assert!(
            matches!(&other, Err(SqlError::Failed(m)) if m.contains("replay: the recording holds no sql execute")),
            "{other:?}"
        );
    }

    /// A recording edited by hand (or by someone hostile) cannot make the
    /// host hold more than the call's budget, and an answer of the wrong
    /// shape is a clear failure, not a panic.
    #[tokio::test]
    async fn a_hostile_recording_is_bounded_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let big = "x".repeat(64 * 1024);
        let rows: Vec<String> = (0..64)
            .map(|_| format!(r#"[{{"text":"{big}"}}]"#))
            .collect();
        let lines = [
            format!(
                r#"{{"capability":"sql","call":"query","request":{{"database":"main","sql":"SELECT big","params":[],"shape":"values"}},"response":{{"ok":{{"columns":[],"rows":[{}]}}}}}}"#,
                rows.join(",")
            ),
            r#"{"capability":"sql","call":"execute","request":{"database":"main","sql":"DELETE FROM t","params":[]},"response":{"ok":"not a number"}}"#.to_owned(),
        ];
        std::fs::write(dir.path().join(EXCHANGES), lines.join("\n")).unwrap();
        let tape = Arc::new(Tape::replay(dir.path(), []).unwrap());
        let grant = grant("sqlite:///nonexistent/provisio/db.sqlite".into(), tape);
        let db = grant.open("main").unwrap();
        let mut budget = HostBudget::new(1 << 20);
        let over = grant
            .query(
                &db,
                "SELECT big".into(),
                vec![],
                RowShape::ValuesOnly,
                &mut budget,
            )
            .await;
        assert!(
            matches!(&over, Err(SqlError::Failed(m)) if m.contains("max_host_bytes")),
            "{over:?}"
        );
        let misshapen = grant.execute(&db, "DELETE FROM t".into(), vec![]).await;
        assert!(
            matches!(&misshapen, Err(SqlError::Failed(m)) if m.contains("does not read")),
            "{misshapen:?}"
        );
    }
}
