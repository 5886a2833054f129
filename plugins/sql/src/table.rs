//! A table's columns as the database describes them, and values between
//! Provisio attributes and SQL parameters by column type.

use provisio_sdk::sql::{Database, Dialect, Transaction, Value as SqlValue};
use provisio_sdk::{Error, Value, ValueType};

/// How the connector reads and writes a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Real,
    Boolean,
    Text,
    Binary,
    /// A PostgreSQL type written as text and cast (`timestamptz`, `uuid`,
    /// `numeric`, …), read back cast to text.
    Cast(String),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// `name` quoted as an SQL identifier, made once: statements are built
    /// on every call.
    pub quoted: String,
    pub type_name: String,
    pub kind: Kind,
    /// NOT NULL without a default: a create must give it.
    pub required: bool,
}

/// A result's rows, each the values of the statement's select list in order.
pub type Rows = Vec<Vec<SqlValue>>;

/// Anything that runs queries: the database or an open transaction.
pub trait Queries {
    /// The rows' values only: the connector knows what it selected, so it
    /// never asks the host for column names and types.
    fn rows(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, Error>;
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<u64, Error>;
}

impl Queries for Database {
    fn rows(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, Error> {
        Ok(self.query_values(sql, params)?)
    }
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<u64, Error> {
        Ok(self.execute(sql, params)?)
    }
}

impl Queries for Transaction {
    fn rows(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, Error> {
        Ok(self.query_values(sql, params)?)
    }
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<u64, Error> {
        Ok(self.execute(sql, params)?)
    }
}

/// The columns of `table` (optionally `schema.table`), in order.
pub fn describe(db: &Database, dialect: Dialect, table: &str) -> Result<Vec<Column>, Error> {
    let rows = match dialect {
        Dialect::Postgres => {
            let (schema, name) = match table.split_once('.') {
                Some((s, n)) => (Some(s), n),
                None => (None, table),
            };
            db.query_values(
                "SELECT column_name::text, udt_name::text, \
                 (is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO')::bool \
                 FROM information_schema.columns \
                 WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 \
                 ORDER BY ordinal_position",
                &[schema.map(str::to_owned).into(), name.into()],
            )?
        }
        Dialect::Sqlite => db.query_values(
            "SELECT name, type, \"notnull\" AND dflt_value IS NULL AND pk = 0 \
             FROM pragma_table_info(?1) ORDER BY cid",
            &[table.into()],
        )?,
    };
    if rows.is_empty() {
        return Err(Error::invalid(format!(
            "table {table} does not exist in the granted database (or has no columns)"
        )));
    }
    Ok(rows
        .iter()
        .map(|row| {
            let name = row[0].as_text().unwrap_or_default().to_owned();
            let type_name = row[1].as_text().unwrap_or_default().to_owned();
            Column {
                kind: kind_of(dialect, &type_name),
                required: row[2].as_boolean().unwrap_or(false),
                quoted: ident(&name),
                name,
                type_name,
            }
        })
        .collect())
}

fn kind_of(dialect: Dialect, type_name: &str) -> Kind {
    let t = type_name.to_ascii_lowercase();
    match dialect {
        Dialect::Postgres => match t.as_str() {
            "int2" | "int4" | "int8" => Kind::Integer,
            "float4" | "float8" => Kind::Real,
            "bool" => Kind::Boolean,
            "text" | "varchar" | "bpchar" | "name" => Kind::Text,
            "bytea" => Kind::Binary,
            _ => Kind::Cast(t),
        },
        // SQLite's type affinity rules (§3.1 of its datatype page), with
        // booleans recognised by name.
        Dialect::Sqlite => {
            if t.contains("bool") {
                Kind::Boolean
            } else if t.contains("int") {
                Kind::Integer
            } else if t.contains("char") || t.contains("clob") || t.contains("text") {
                Kind::Text
            } else if t.contains("blob") {
                Kind::Binary
            } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
                Kind::Real
            } else {
                Kind::Text
            }
        }
    }
}

impl Column {
    pub fn value_type(&self) -> ValueType {
        match self.kind {
            Kind::Integer => ValueType::Integer,
            Kind::Boolean => ValueType::Boolean,
            Kind::Binary => ValueType::Binary,
            _ => ValueType::Text,
        }
    }

    /// `attribute`'s value as a parameter for this column, or a clear error.
    pub fn to_sql(&self, attribute: &str, value: &Value) -> Result<SqlValue, Error> {
        let mismatch = |expected: &str| {
            Error::invalid_attribute(
                attribute,
                format!(
                    "column {} is {} ({}); {} is not {expected}",
                    self.name,
                    self.type_name,
                    expected,
                    describe_value(value)
                ),
            )
        };
        Ok(match (&self.kind, value) {
            (Kind::Integer, Value::Integer(i)) => SqlValue::Integer(*i),
            (Kind::Integer, Value::Text(t)) => {
                SqlValue::Integer(t.trim().parse().map_err(|_| mismatch("an integer"))?)
            }
            (Kind::Integer, _) => return Err(mismatch("an integer")),
            (Kind::Real, Value::Integer(i)) => SqlValue::Real(*i as f64),
            (Kind::Real, Value::Text(t)) => {
                SqlValue::Real(t.trim().parse().map_err(|_| mismatch("a number"))?)
            }
            (Kind::Real, _) => return Err(mismatch("a number")),
            (Kind::Boolean, Value::Boolean(b)) => SqlValue::Boolean(*b),
            (Kind::Boolean, Value::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => SqlValue::Boolean(true),
                "false" | "0" => SqlValue::Boolean(false),
                _ => return Err(mismatch("a boolean")),
            },
            (Kind::Boolean, Value::Integer(i @ (0 | 1))) => SqlValue::Boolean(*i == 1),
            (Kind::Boolean, _) => return Err(mismatch("a boolean")),
            (Kind::Binary, Value::Binary(b)) => SqlValue::Blob(b.clone()),
            (Kind::Binary, _) => return Err(mismatch("binary")),
            (Kind::Text | Kind::Cast(_), Value::Text(t) | Value::Reference(t)) => {
                SqlValue::Text(t.clone())
            }
            (Kind::Text | Kind::Cast(_), Value::Integer(i)) => SqlValue::Text(i.to_string()),
            (Kind::Text | Kind::Cast(_), Value::Boolean(b)) => SqlValue::Text(b.to_string()),
            (Kind::Text | Kind::Cast(_), Value::Binary(_)) => return Err(mismatch("text")),
        })
    }

    /// A column value as an attribute value; `None` for NULL.
    pub fn read_value(&self, value: &SqlValue) -> Option<Value> {
        Some(match (value, &self.kind) {
            (SqlValue::Null, _) => return None,
            (SqlValue::Integer(i), Kind::Boolean) => Value::Boolean(*i != 0),
            (SqlValue::Text(t), Kind::Boolean) => Value::Boolean(t == "true" || t == "1"),
            (SqlValue::Integer(i), _) => Value::Integer(*i),
            (SqlValue::Boolean(b), _) => Value::Boolean(*b),
            (SqlValue::Real(r), _) => Value::Text(r.to_string()),
            (SqlValue::Text(t), _) => Value::Text(t.clone()),
            (SqlValue::Blob(b), _) => Value::Binary(b.clone()),
        })
    }

    /// The expression that selects this column.
    pub fn select(&self) -> String {
        match &self.kind {
            Kind::Cast(_) => format!("CAST({} AS TEXT)", self.quoted),
            _ => self.quoted.clone(),
        }
    }

    /// The placeholder for a parameter of this column.
    pub fn placeholder(&self, dialect: Dialect, index: usize) -> String {
        let p = placeholder(dialect, index);
        match (&self.kind, dialect) {
            (Kind::Cast(t), Dialect::Postgres) => format!("CAST({p} AS {})", ident(t)),
            _ => p,
        }
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Text(t) | Value::Reference(t) => format!("{t:?}"),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Binary(b) => format!("{} bytes of binary", b.len()),
    }
}

/// A quoted identifier; `schema.table` quotes each part.
pub fn ident(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// The `index`th (1-based) parameter placeholder.
pub fn placeholder(dialect: Dialect, index: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${index}"),
        Dialect::Sqlite => format!("?{index}"),
    }
}

/// A statement being built: its text and its parameters, in step.
#[derive(Debug)]
pub struct Statement {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(dialect: Dialect, text: impl Into<String>) -> Self {
        Statement {
            dialect,
            text: text.into(),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds a parameter and returns its placeholder (cast for `column`).
    pub fn bind(&mut self, value: SqlValue, column: Option<&Column>) -> String {
        self.params.push(value);
        let index = self.params.len();
        match column {
            Some(c) => c.placeholder(self.dialect, index),
            None => placeholder(self.dialect, index),
        }
    }

    pub fn push_bind(&mut self, value: SqlValue, column: Option<&Column>) -> &mut Self {
        let p = self.bind(value, column);
        self.text.push_str(&p);
        self
    }

    pub fn rows(&self, q: &impl Queries) -> Result<Rows, Error> {
        q.rows(&self.text, &self.params)
    }

    pub fn run(&self, q: &impl Queries) -> Result<u64, Error> {
        q.run(&self.text, &self.params)
    }
}
