//! Values between the connector and the database drivers: parameters
//! bound by type, result columns read by type.

use super::error::SqlError;
use super::rows::{Column, SqlValue};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite, TypeInfo, ValueRef};

/// A PostgreSQL NULL whose type the server infers from where it is used,
/// so `NULL` fits a column of any type.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

pub(super) fn pg_query(
    sql: String,
    params: Vec<SqlValue>,
) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in params {
        query = match value {
            SqlValue::Null => query.bind(UntypedNull),
            SqlValue::Boolean(b) => query.bind(b),
            SqlValue::Integer(i) => query.bind(i),
            SqlValue::Real(r) => query.bind(r),
            SqlValue::Text(t) => query.bind(t),
            SqlValue::Blob(b) => query.bind(b),
        };
    }
    query
}

pub(super) fn sqlite_query(
    sql: String,
    params: Vec<SqlValue>,
) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in params {
        query = match value {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Boolean(b) => query.bind(b),
            SqlValue::Integer(i) => query.bind(i),
            SqlValue::Real(r) => query.bind(r),
            SqlValue::Text(t) => query.bind(t),
            SqlValue::Blob(b) => query.bind(b),
        };
    }
    query
}

pub(super) fn columns<R: Row>(row: &R) -> Vec<Column> {
    use sqlx::Column as _;
    row.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            type_name: c.type_info().name().to_owned(),
        })
        .collect()
}

pub(super) fn pg_row(row: &PgRow) -> Result<Vec<SqlValue>, SqlError> {
    (0..row.len()).map(|i| pg_value(row, i)).collect()
}

fn pg_value(row: &PgRow, i: usize) -> Result<SqlValue, SqlError> {
    use sqlx::Column as _;
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(SqlValue::Null);
    }
    let column = &row.columns()[i];
    let type_name = column.type_info().name();
    let decode_error = |e: sqlx::Error| {
        SqlError::Invalid(format!(
            "column {} ({type_name}) cannot be read: {e}",
            column.name()
        ))
    };
    let value = match type_name {
        "BOOL" => SqlValue::Boolean(row.try_get(i).map_err(decode_error)?),
        "INT2" => SqlValue::Integer(row.try_get::<i16, _>(i).map_err(decode_error)?.into()),
        "INT4" => SqlValue::Integer(row.try_get::<i32, _>(i).map_err(decode_error)?.into()),
        "INT8" => SqlValue::Integer(row.try_get(i).map_err(decode_error)?),
        "OID" => SqlValue::Integer(row.try_get::<Oid, _>(i).map_err(decode_error)?.0.into()),
        "FLOAT4" => SqlValue::Real(row.try_get::<f32, _>(i).map_err(decode_error)?.into()),
        "FLOAT8" => SqlValue::Real(row.try_get(i).map_err(decode_error)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" | "CHAR" => {
            SqlValue::Text(row.try_get(i).map_err(decode_error)?)
        }
        "BYTEA" => SqlValue::Blob(row.try_get(i).map_err(decode_error)?),
        "UUID" => SqlValue::Text(
            row.try_get::<sqlx::types::Uuid, _>(i)
                .map_err(decode_error)?
                .to_string(),
        ),
        "JSON" | "JSONB" => SqlValue::Text(
            row.try_get::<sqlx::types::JsonValue, _>(i)
                .map_err(decode_error)?
                .to_string(),
        ),
        "TIMESTAMPTZ" => {
            let t: time::OffsetDateTime = row.try_get(i).map_err(decode_error)?;
            SqlValue::Text(rfc3339(t))
        }
        "TIMESTAMP" => {
            let t: time::PrimitiveDateTime = row.try_get(i).map_err(decode_error)?;
            SqlValue::Text(rfc3339(t.assume_utc()).trim_end_matches('Z').to_owned())
        }
        "DATE" => {
            let d: time::Date = row.try_get(i).map_err(decode_error)?;
            SqlValue::Text(d.to_string())
        }
        other => {
            return Err(SqlError::Invalid(format!(
                "column {} has type {other}, which the sql capability does not read; \
                 cast it in the query (for example `{}::text`)",
                column.name(),
                column.name()
            )));
        }
    };
    Ok(value)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

pub(super) fn sqlite_row(row: &SqliteRow) -> Result<Vec<SqlValue>, SqlError> {
    (0..row.len())
        .map(|i| {
            // SQLite types values, not columns: read each as what it is.
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(SqlValue::Null);
            }
            Ok(match raw.type_info().name() {
                "INTEGER" => SqlValue::Integer(row.try_get(i)?),
                "REAL" => SqlValue::Real(row.try_get(i)?),
                "BLOB" => SqlValue::Blob(row.try_get(i)?),
                _ => SqlValue::Text(row.try_get(i)?),
            })
        })
        .collect()
}
