//! SQL calls as a recording stores them: statements with their parameters
//! and the rows or error they got, in shapes that read back exactly (a
//! blob as [`Octets`], a real as its shortest exact decimal, NaN and the
//! infinities included).

use super::error::{ConstraintKind, SqlError};
use super::rows::{Column, RowShape, Rows, SqlValue};
use crate::runtime::recording::Octets;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedValue {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(String),
    Text(String),
    Blob(Octets),
}

impl From<&SqlValue> for RecordedValue {
    fn from(value: &SqlValue) -> Self {
        match value {
            SqlValue::Null => RecordedValue::Null,
            SqlValue::Boolean(b) => RecordedValue::Boolean(*b),
            SqlValue::Integer(i) => RecordedValue::Integer(*i),
            SqlValue::Real(r) => RecordedValue::Real(r.to_string()),
            SqlValue::Text(t) => RecordedValue::Text(t.clone()),
            SqlValue::Blob(b) => RecordedValue::Blob(Octets::of(b)),
        }
    }
}

impl From<RecordedValue> for SqlValue {
    fn from(value: RecordedValue) -> Self {
        match value {
            RecordedValue::Null => SqlValue::Null,
            RecordedValue::Boolean(b) => SqlValue::Boolean(b),
            RecordedValue::Integer(i) => SqlValue::Integer(i),
            // A recording edited into something else reads as NaN.
            RecordedValue::Real(r) => SqlValue::Real(r.parse().unwrap_or(f64::NAN)),
            RecordedValue::Text(t) => SqlValue::Text(t),
            RecordedValue::Blob(b) => SqlValue::Blob(b.into_bytes()),
        }
    }
}

fn values(values: &[SqlValue]) -> Vec<RecordedValue> {
    values.iter().map(RecordedValue::from).collect()
}

#[derive(Serialize, Deserialize)]
pub struct RecordedRows {
    /// `[name, type]` per column.
    columns: Vec<(String, String)>,
    rows: Vec<Vec<RecordedValue>>,
}

impl From<&Rows> for RecordedRows {
    fn from(rows: &Rows) -> Self {
        RecordedRows {
            columns: rows
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.type_name.clone()))
                .collect(),
            rows: rows.rows.iter().map(|row| values(row)).collect(),
        }
    }
}

impl From<RecordedRows> for Rows {
    fn from(rows: RecordedRows) -> Self {
        Rows {
            columns: rows
                .columns
                .into_iter()
                .map(|(name, type_name)| Column { name, type_name })
                .collect(),
            rows: rows
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(SqlValue::from).collect())
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedError {
    NotGranted(String),
    Unavailable(String),
    Constraint {
        kind: String,
        name: Option<String>,
        message: String,
    },
    Invalid(String),
    Failed(String),
}

impl From<&SqlError> for RecordedError {
    fn from(error: &SqlError) -> Self {
        match error.clone() {
            SqlError::NotGranted(m) => RecordedError::NotGranted(m),
            SqlError::Unavailable(m) => RecordedError::Unavailable(m),
            SqlError::Constraint {
                kind,
                name,
                message,
            } => RecordedError::Constraint {
                kind: match kind {
                    ConstraintKind::Unique => "unique",
                    ConstraintKind::ForeignKey => "foreign-key",
                    ConstraintKind::NotNull => "not-null",
                    ConstraintKind::Check => "check",
                    ConstraintKind::Other => "other",
                }
                .to_owned(),
                name,
                message,
            },
            SqlError::Invalid(m) => RecordedError::Invalid(m),
            SqlError::Failed(m) => RecordedError::Failed(m),
        }
    }
}

impl From<RecordedError> for SqlError {
    fn from(error: RecordedError) -> Self {
        match error {
            RecordedError::NotGranted(m) => SqlError::NotGranted(m),
            RecordedError::Unavailable(m) => SqlError::Unavailable(m),
            RecordedError::Constraint {
                kind,
                name,
                message,
            } => SqlError::Constraint {
                kind: match kind.as_str() {
                    "unique" => ConstraintKind::Unique,
                    "foreign-key" => ConstraintKind::ForeignKey,
                    "not-null" => ConstraintKind::NotNull,
                    "check" => ConstraintKind::Check,
                    _ => ConstraintKind::Other,
                },
                name,
                message,
            },
            RecordedError::Invalid(m) => SqlError::Invalid(m),
            RecordedError::Failed(m) => SqlError::Failed(m),
        }
    }
}

/// A call's outcome as the tape keeps it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome<T> {
    Ok(T),
    Err(RecordedError),
}

impl<T> Outcome<T> {
    pub fn of<U>(result: &Result<U, SqlError>, keep: impl FnOnce(&U) -> T) -> Outcome<T> {
        match result {
            Ok(value) => Outcome::Ok(keep(value)),
            Err(e) => Outcome::Err(e.into()),
        }
    }

    pub fn into_result<U>(self, back: impl FnOnce(T) -> U) -> Result<U, SqlError> {
        match self {
            Outcome::Ok(value) => Ok(back(value)),
            Outcome::Err(e) => Err(e.into()),
        }
    }
}

fn shape(shape: RowShape) -> &'static str {
    match shape {
        RowShape::Described => "described",
        RowShape::ValuesOnly => "values",
    }
}

/// A statement on a database (`query`, `execute`, `cursor`).
pub fn statement(
    database: &str,
    sql: &str,
    params: &[SqlValue],
    row_shape: Option<RowShape>,
) -> Value {
    let mut request = json!({"database": database, "sql": sql, "params": values(params)});
    if let Some(row_shape) = row_shape {
        request["shape"] = json!(shape(row_shape));
    }
    request
}

/// A statement in transaction `id`.
pub fn in_transaction(
    id: u64,
    sql: &str,
    params: &[SqlValue],
    row_shape: Option<RowShape>,
) -> Value {
    let mut request = json!({"transaction": id, "sql": sql, "params": values(params)});
    if let Some(row_shape) = row_shape {
        request["shape"] = json!(shape(row_shape));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_rows_and_errors_read_back_exactly() {
        let rows = Rows {
            columns: vec![Column {
                name: "x".into(),
                type_name: "REAL".into(),
            }],
            rows: vec![vec![
                SqlValue::Real(0.1),
                SqlValue::Real(f64::INFINITY),
                SqlValue::Blob(vec![0xff, 0]),
                SqlValue::Null,
                SqlValue::Text("t".into()),
            ]],
        };
        let stored = serde_json::to_string(&RecordedRows::from(&rows)).unwrap();
        let back: Rows = serde_json::from_str::<RecordedRows>(&stored)
            .unwrap()
            .into();
        assert_eq!(back, rows);
        let nan: SqlValue = RecordedValue::from(&SqlValue::Real(f64::NAN)).into();
        assert!(matches!(nan, SqlValue::Real(r) if r.is_nan()));

        let error = SqlError::Constraint {
            kind: ConstraintKind::Unique,
            name: Some("accounts_username_key".into()),
            message: "duplicate".into(),
        };
        let stored =
            serde_json::to_string(&Outcome::<()>::of(&Err::<(), _>(error.clone()), |_| ()))
                .unwrap();
        let back: Outcome<()> = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.into_result(|()| ()), Err(error));
    }
}
