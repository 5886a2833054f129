//! SQL databases the operator granted the target (`provisio:sql`).
//!
//! The host owns the connections: a connector opens a database by the name
//! the operator gave it and never sees its URL or password. Values always
//! travel as parameters (`$1`, `$2`, … on PostgreSQL; `?1` or `$1` on
//! SQLite), so no request value is ever pasted into SQL text.
//!
//! ```no_run
//! use provisio_sdk::sql::{Database, Value};
//!
//! # fn demo() -> Result<(), provisio_sdk::Error> {
//! let db = Database::open("main")?;
//! let rows = db.query("SELECT id, name FROM users WHERE name = $1", &["ada".into()])?;
//! for row in &rows.rows {
//!     let id = row[0].as_integer();
//! }
//! let tx = db.transaction()?;
//! tx.execute("UPDATE users SET active = $1 WHERE id = $2", &[false.into(), 7.into()])?;
//! tx.commit()?;
//! # Ok(()) }
//! ```
//!
//! Errors convert into the connector [`Error`](crate::Error): a database
//! that is down becomes `unavailable` (retried by the host), a unique
//! constraint `already-exists`, a bad statement or value `invalid`.

use crate::bindings::provisio::sql::client;
pub use client::{
    Column, ConstraintKind, ConstraintViolation, Dialect, Error as SqlError, Rows, Value,
};
// The host's databases; in a native build (a connector's unit tests),
// the fake's.
#[cfg(not(target_arch = "wasm32"))]
use crate::native::sql::{
    Cursor as HostCursor, Database as HostDatabase, Transaction as HostTransaction,
};
#[cfg(target_arch = "wasm32")]
use client::{Cursor as HostCursor, Database as HostDatabase, Transaction as HostTransaction};

/// A granted database.
pub struct Database(HostDatabase);

impl Database {
    /// Opens the database the operator granted under `name`.
    pub fn open(name: &str) -> Result<Self, SqlError> {
        HostDatabase::open(name).map(Database)
    }

    pub fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    /// Every row of a query; use [`cursor`](Self::cursor) for large results.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.0.query(sql, params)
    }

    /// Every row of a query as its values alone, in the order of the
    /// select list: cheaper than [`query`](Self::query) when the caller
    /// knows what it selected (the host sends no column names or types).
    pub fn query_values(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, SqlError> {
        self.0.query_values(sql, params)
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.0.execute(sql, params)
    }

    /// A transaction on a connection of its own; it rolls back unless
    /// committed.
    pub fn transaction(&self) -> Result<Transaction, SqlError> {
        self.0.begin().map(Transaction)
    }

    /// A query whose rows are fetched a batch at a time.
    pub fn cursor(&self, sql: &str, params: &[Value]) -> Result<Cursor, SqlError> {
        self.0.cursor(sql, params).map(Cursor)
    }
}

/// An open transaction: dropped without [`commit`](Self::commit), it rolls back.
pub struct Transaction(HostTransaction);

impl Transaction {
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.0.query(sql, params)
    }

    /// See [`Database::query_values`].
    pub fn query_values(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, SqlError> {
        self.0.query_values(sql, params)
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.0.execute(sql, params)
    }

    pub fn commit(self) -> Result<(), SqlError> {
        HostTransaction::commit(self.0)
    }

    pub fn rollback(self) -> Result<(), SqlError> {
        HostTransaction::rollback(self.0)
    }
}

/// Rows fetched as they are read.
pub struct Cursor(HostCursor);

impl Cursor {
    /// Up to `max` more rows; none once there are no more.
    pub fn next_batch(&mut self, max: u32) -> Result<Rows, SqlError> {
        self.0.next(max)
    }
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// A boolean, or an integer 0/1 (how SQLite stores booleans).
    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            Value::Integer(0) => Some(false),
            Value::Integer(1) => Some(true),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v.into())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The error as one sentence.
pub fn describe(e: &SqlError) -> String {
    match e {
        SqlError::NotGranted(m) => format!("not granted: {m}"),
        SqlError::Unavailable(m) => format!("database unavailable: {m}"),
        SqlError::Constraint(c) => match &c.name {
            Some(name) => format!("constraint {name} refused the change: {}", c.message),
            None => format!("a constraint refused the change: {}", c.message),
        },
        SqlError::Invalid(m) => format!("invalid statement: {m}"),
        SqlError::Failed(m) => format!("database error: {m}"),
    }
}

impl From<SqlError> for crate::Error {
    fn from(e: SqlError) -> Self {
        let message = describe(&e);
        match e {
            SqlError::NotGranted(_) => crate::Error::permission_denied(message),
            SqlError::Unavailable(_) => crate::Error::unavailable(message),
            SqlError::Constraint(c) if c.kind == ConstraintKind::Unique => {
                crate::Error::already_exists(message)
            }
            SqlError::Constraint(_) | SqlError::Invalid(_) => crate::Error::invalid(message),
            SqlError::Failed(_) => crate::Error::failed(message),
        }
    }
}
