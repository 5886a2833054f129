//! `provisio:sql@0.1.1` (generated from `wit/sql/0.1.1/`): the guest's
//! handles map to the host's databases.
//!
//! A connector built against `provisio:sql@0.1.0` links to this binding
//! too: wasmtime's linker satisfies an import of 0.1.0 with a definition
//! of 0.1.1 (semver, same minor before 1.0), and 0.1.1 only adds
//! functions (`query-values`).

use super::{
    ConstraintKind, CursorHandle, DatabaseHandle, Dialect, RowShape, Rows, SqlCtxView, SqlError,
    SqlValue, SqlView, TransactionHandle,
};
use wasmtime::component::{HasData, Linker, Resource};

mod generated {
    wasmtime::component::bindgen!({
        world: "sql-capability",
        path: "../wit/sql/0.1.1",
        with: {
            "provisio:sql/client.database": crate::runtime::capabilities::sql::DatabaseHandle,
            "provisio:sql/client.transaction": crate::runtime::capabilities::sql::TransactionHandle,
            "provisio:sql/client.cursor": crate::runtime::capabilities::sql::CursorHandle,
        },
        // A statement awaits the database on the host's runtime; the
        // guest's fiber is suspended meanwhile and holds no thread.
        imports: { default: async },
    });
}

use generated::provisio::sql::client as wit;

struct Sql;

impl HasData for Sql {
    type Data<'a> = SqlCtxView<'a>;
}

pub fn add_to_linker<T: SqlView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    generated::SqlCapability::add_to_linker::<T, Sql>(linker, T::sql)
}

impl From<wit::Value> for SqlValue {
    fn from(v: wit::Value) -> Self {
        match v {
            wit::Value::Null => SqlValue::Null,
            wit::Value::Boolean(b) => SqlValue::Boolean(b),
            wit::Value::Integer(i) => SqlValue::Integer(i),
            wit::Value::Real(r) => SqlValue::Real(r),
            wit::Value::Text(t) => SqlValue::Text(t),
            wit::Value::Blob(b) => SqlValue::Blob(b),
        }
    }
}

impl From<SqlValue> for wit::Value {
    fn from(v: SqlValue) -> Self {
        match v {
            SqlValue::Null => wit::Value::Null,
            SqlValue::Boolean(b) => wit::Value::Boolean(b),
            SqlValue::Integer(i) => wit::Value::Integer(i),
            SqlValue::Real(r) => wit::Value::Real(r),
            SqlValue::Text(t) => wit::Value::Text(t),
            SqlValue::Blob(b) => wit::Value::Blob(b),
        }
    }
}

impl From<SqlError> for wit::Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::NotGranted(m) => wit::Error::NotGranted(m),
            SqlError::Unavailable(m) => wit::Error::Unavailable(m),
            SqlError::Constraint {
                kind,
                name,
                message,
            } => wit::Error::Constraint(wit::ConstraintViolation {
                kind: match kind {
                    ConstraintKind::Unique => wit::ConstraintKind::Unique,
                    ConstraintKind::ForeignKey => wit::ConstraintKind::ForeignKey,
                    ConstraintKind::NotNull => wit::ConstraintKind::NotNull,
                    ConstraintKind::Check => wit::ConstraintKind::Check,
                    ConstraintKind::Other => wit::ConstraintKind::Other,
                },
                name,
                message,
            }),
            SqlError::Invalid(m) => wit::Error::Invalid(m),
            SqlError::Failed(m) => wit::Error::Failed(m),
        }
    }
}

fn rows(r: Rows) -> wit::Rows {
    wit::Rows {
        columns: r
            .columns
            .into_iter()
            .map(|c| wit::Column {
                name: c.name,
                type_name: c.type_name,
            })
            .collect(),
        rows: row_values(r.rows),
    }
}

/// The rows' values alone (what `query-values` returns).
fn row_values(rows: Vec<Vec<SqlValue>>) -> Vec<Vec<wit::Value>> {
    rows.into_iter()
        .map(|row| row.into_iter().map(Into::into).collect())
        .collect()
}

fn params(values: Vec<wit::Value>) -> Vec<SqlValue> {
    values.into_iter().map(Into::into).collect()
}

/// Dropping a handle the table does not hold traps: only a broken guest
/// does that. Any other call with such a handle answers `failed`
/// ([`bad_handle`]), which the connector can report.
type Trap = wasmtime::Error;

impl wit::Host for SqlCtxView<'_> {}

impl wit::HostDatabase for SqlCtxView<'_> {
    async fn open(&mut self, name: String) -> Result<Resource<DatabaseHandle>, wit::Error> {
        let handle = self.granted()?.open(&name)?;
        tracing::debug!(target: "provisio::sql", database = %handle.name(), "connector opened a database");
        self.table
            .push(handle)
            .map_err(|e| wit::Error::Failed(format!("cannot hold another handle: {e}")))
    }

    async fn dialect(&mut self, db: Resource<DatabaseHandle>) -> wit::Dialect {
        match self.table.get(&db).map(DatabaseHandle::dialect) {
            Ok(Dialect::Postgres) => wit::Dialect::Postgres,
            _ => wit::Dialect::Sqlite,
        }
    }

    async fn query(
        &mut self,
        db: Resource<DatabaseHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<wit::Rows, wit::Error> {
        let grant = self.granted()?;
        let db = self.table.get(&db).map_err(bad_handle)?;
        let result = grant.query(db, sql, params(values), RowShape::Described, self.budget);
        Ok(rows(result.await?))
    }

    async fn query_values(
        &mut self,
        db: Resource<DatabaseHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<Vec<Vec<wit::Value>>, wit::Error> {
        let grant = self.granted()?;
        let db = self.table.get(&db).map_err(bad_handle)?;
        let result = grant.query(db, sql, params(values), RowShape::ValuesOnly, self.budget);
        Ok(row_values(result.await?.rows))
    }

    async fn execute(
        &mut self,
        db: Resource<DatabaseHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<u64, wit::Error> {
        let grant = self.granted()?;
        let db = self.table.get(&db).map_err(bad_handle)?;
        Ok(grant.execute(db, sql, params(values)).await?)
    }

    async fn begin(
        &mut self,
        db: Resource<DatabaseHandle>,
    ) -> Result<Resource<TransactionHandle>, wit::Error> {
        let grant = self.granted()?;
        let db = self.table.get(&db).map_err(bad_handle)?;
        let tx = grant.begin(db).await?;
        self.table
            .push(tx)
            .map_err(|e| wit::Error::Failed(format!("cannot hold another handle: {e}")))
    }

    async fn cursor(
        &mut self,
        db: Resource<DatabaseHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<Resource<CursorHandle>, wit::Error> {
        let grant = self.granted()?;
        let db = self.table.get(&db).map_err(bad_handle)?;
        let cursor = grant.cursor(db, sql, params(values))?;
        self.table
            .push(cursor)
            .map_err(|e| wit::Error::Failed(format!("cannot hold another handle: {e}")))
    }

    async fn drop(&mut self, db: Resource<DatabaseHandle>) -> Result<(), Trap> {
        self.table.delete(db)?;
        Ok(())
    }
}

impl wit::HostTransaction for SqlCtxView<'_> {
    async fn query(
        &mut self,
        tx: Resource<TransactionHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<wit::Rows, wit::Error> {
        let grant = self.granted()?;
        let tx = self.table.get_mut(&tx).map_err(bad_handle)?;
        let result = grant.tx_query(tx, sql, params(values), RowShape::Described, self.budget);
        Ok(rows(result.await?))
    }

    async fn query_values(
        &mut self,
        tx: Resource<TransactionHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<Vec<Vec<wit::Value>>, wit::Error> {
        let grant = self.granted()?;
        let tx = self.table.get_mut(&tx).map_err(bad_handle)?;
        let result = grant.tx_query(tx, sql, params(values), RowShape::ValuesOnly, self.budget);
        Ok(row_values(result.await?.rows))
    }

    async fn execute(
        &mut self,
        tx: Resource<TransactionHandle>,
        sql: String,
        values: Vec<wit::Value>,
    ) -> Result<u64, wit::Error> {
        let grant = self.granted()?;
        let tx = self.table.get_mut(&tx).map_err(bad_handle)?;
        Ok(grant.tx_execute(tx, sql, params(values)).await?)
    }

    async fn commit(&mut self, tx: Resource<TransactionHandle>) -> Result<(), wit::Error> {
        let grant = self.granted()?;
        let tx = self.table.delete(tx).map_err(bad_handle)?;
        Ok(grant.commit(tx).await?)
    }

    async fn rollback(&mut self, tx: Resource<TransactionHandle>) -> Result<(), wit::Error> {
        let grant = self.granted()?;
        let tx = self.table.delete(tx).map_err(bad_handle)?;
        Ok(grant.rollback(tx).await?)
    }

    async fn drop(&mut self, tx: Resource<TransactionHandle>) -> Result<(), Trap> {
        // Dropping an open transaction rolls it back.
        self.table.delete(tx)?;
        Ok(())
    }
}

impl wit::HostCursor for SqlCtxView<'_> {
    async fn next(
        &mut self,
        cursor: Resource<CursorHandle>,
        max: u32,
    ) -> Result<wit::Rows, wit::Error> {
        let grant = self.granted()?;
        let cursor = self.table.get_mut(&cursor).map_err(bad_handle)?;
        Ok(rows(grant.next(cursor, max, self.budget).await?))
    }

    async fn drop(&mut self, cursor: Resource<CursorHandle>) -> Result<(), Trap> {
        self.table.delete(cursor)?;
        Ok(())
    }
}

fn bad_handle(e: wasmtime::component::ResourceTableError) -> wit::Error {
    wit::Error::Failed(format!("unknown handle: {e}"))
}
