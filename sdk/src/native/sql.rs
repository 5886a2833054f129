//! SQL for a native build: the databases a [`Fake`](crate::testing::Fake)
//! declares, answered from a recording's SQL exchanges (as the host writes
//! them: `docs/writing-a-connector.md`). The types stand where the host's
//! imports stand in a wasm build, with the same methods.

use super::calls::{Calls, bytes_of, octets};
use super::with_state;
use crate::bindings::provisio::sql::client::{
    Column, ConstraintKind, ConstraintViolation, Dialect, Error as SqlError, Rows, Value,
};
use serde_json::{Value as Json, json};

/// What the fake's databases hold: their dialects and the recorded calls.
#[derive(Default)]
pub(crate) struct SqlState {
    pub dialects: std::collections::BTreeMap<String, Dialect>,
    pub calls: Calls,
    /// Numbers transactions and cursors in the order they open, as the
    /// host does when it records.
    handles: u64,
}

fn recorded_value(value: &Value) -> Json {
    match value {
        Value::Null => json!("null"),
        Value::Boolean(b) => json!({"boolean": b}),
        Value::Integer(i) => json!({"integer": i}),
        Value::Real(r) => json!({"real": r.to_string()}),
        Value::Text(t) => json!({"text": t}),
        Value::Blob(b) => json!({"blob": octets(b)}),
    }
}

fn value_of(recorded: &Json) -> Value {
    if recorded == "null" {
        return Value::Null;
    }
    let Some((kind, inner)) = recorded.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "boolean" => Value::Boolean(inner.as_bool().unwrap_or_default()),
        "integer" => Value::Integer(inner.as_i64().unwrap_or_default()),
        "real" => Value::Real(
            inner
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(f64::NAN),
        ),
        "text" => Value::Text(inner.as_str().unwrap_or_default().to_owned()),
        "blob" => Value::Blob(bytes_of(inner).unwrap_or_default()),
        _ => Value::Null,
    }
}

fn rows_of(recorded: &Json) -> Rows {
    Rows {
        columns: recorded["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Column {
                name: c[0].as_str().unwrap_or_default().to_owned(),
                type_name: c[1].as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
        rows: recorded["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| row.as_array().into_iter().flatten().map(value_of).collect())
            .collect(),
    }
}

fn error_of(recorded: &Json) -> SqlError {
    let Some((kind, inner)) = recorded.as_object().and_then(|o| o.iter().next()) else {
        return SqlError::Failed(format!("a recorded error of no known shape: {recorded}"));
    };
    let text = || inner.as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "not-granted" => SqlError::NotGranted(text()),
        "unavailable" => SqlError::Unavailable(text()),
        "invalid" => SqlError::Invalid(text()),
        "constraint" => SqlError::Constraint(ConstraintViolation {
            kind: match inner["kind"].as_str() {
                Some("unique") => ConstraintKind::Unique,
                Some("foreign-key") => ConstraintKind::ForeignKey,
                Some("not-null") => ConstraintKind::NotNull,
                Some("check") => ConstraintKind::Check,
                _ => ConstraintKind::Other,
            },
            name: inner["name"].as_str().map(str::to_owned),
            message: inner["message"].as_str().unwrap_or_default().to_owned(),
        }),
        "failed" => SqlError::Failed(text()),
        _ => SqlError::Failed(format!("a recorded error of no known kind: {recorded}")),
    }
}

fn statement(database: &str, sql: &str, params: &[Value], shape: Option<&str>) -> Json {
    let mut request = json!({
        "database": database,
        "sql": sql,
        "params": params.iter().map(recorded_value).collect::<Vec<_>>(),
    });
    if let Some(shape) = shape {
        request["shape"] = json!(shape);
    }
    request
}

/// The recorded answer to `call` with `request`: its `ok` member, or the
/// error it holds.
fn answer(call: &str, request: Json) -> Result<Json, SqlError> {
    with_state("used a database", |state| {
        let request = state.scrubbed(&request);
        let response = state
            .sql
            .calls
            .answer("sql", call, &request)
            .map_err(SqlError::Failed)?;
        match (response.get("ok"), response.get("err")) {
            (Some(ok), _) => Ok(ok.clone()),
            (None, Some(err)) => Err(error_of(err)),
            _ => Err(SqlError::Failed(format!(
                "a recorded answer of no known shape: {response}"
            ))),
        }
    })
}

fn next_handle() -> u64 {
    with_state("used a database", |state| {
        state.sql.handles += 1;
        state.sql.handles
    })
}

/// A database the fake declares.
pub struct Database {
    name: String,
    dialect: Dialect,
}

impl Database {
    pub fn open(name: &str) -> Result<Database, SqlError> {
        let dialect = with_state("opened a database", |state| {
            state.sql.dialects.get(name).copied()
        });
        match dialect {
            Some(dialect) => Ok(Database {
                name: name.to_owned(),
                dialect,
            }),
            None => Err(SqlError::NotGranted(format!(
                "the fake grants no database {name:?}: declare it with Fake::database({name:?}, Dialect::…)"
            ))),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        answer(
            "query",
            statement(&self.name, sql, params, Some("described")),
        )
        .map(|r| rows_of(&r))
    }

    pub fn query_values(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, SqlError> {
        answer("query", statement(&self.name, sql, params, Some("values")))
            .map(|r| rows_of(&r).rows)
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        answer("execute", statement(&self.name, sql, params, None))
            .map(|n| n.as_u64().unwrap_or_default())
    }

    pub fn begin(&self) -> Result<Transaction, SqlError> {
        let id = next_handle();
        answer("begin", json!({"database": self.name, "transaction": id}))?;
        Ok(Transaction { id })
    }

    pub fn cursor(&self, sql: &str, params: &[Value]) -> Result<Cursor, SqlError> {
        let id = next_handle();
        let mut request = statement(&self.name, sql, params, None);
        request["cursor"] = json!(id);
        answer("cursor", request)?;
        Ok(Cursor { id })
    }
}

/// A transaction in the recording.
pub struct Transaction {
    id: u64,
}

impl Transaction {
    fn statement(&self, sql: &str, params: &[Value], shape: Option<&str>) -> Json {
        let mut request = json!({
            "transaction": self.id,
            "sql": sql,
            "params": params.iter().map(recorded_value).collect::<Vec<_>>(),
        });
        if let Some(shape) = shape {
            request["shape"] = json!(shape);
        }
        request
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        answer("tx-query", self.statement(sql, params, Some("described"))).map(|r| rows_of(&r))
    }

    pub fn query_values(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, SqlError> {
        answer("tx-query", self.statement(sql, params, Some("values"))).map(|r| rows_of(&r).rows)
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        answer("tx-execute", self.statement(sql, params, None))
            .map(|n| n.as_u64().unwrap_or_default())
    }

    pub fn commit(this: Transaction) -> Result<(), SqlError> {
        answer("commit", json!({"transaction": this.id})).map(|_| ())
    }

    pub fn rollback(this: Transaction) -> Result<(), SqlError> {
        answer("rollback", json!({"transaction": this.id})).map(|_| ())
    }
}

/// A cursor in the recording.
pub struct Cursor {
    id: u64,
}

impl Cursor {
    /// Every batch is asked of the recording, an exhausted cursor's empty
    /// one too: the host records each `next`.
    pub fn next(&self, max: u32) -> Result<Rows, SqlError> {
        answer("next", json!({"cursor": self.id, "max": max})).map(|r| rows_of(&r))
    }
}
