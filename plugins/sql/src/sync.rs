//! Changes since a token, read from the class's change-timestamp column.
//!
//! The token is the (timestamp, key) of the last change reported, so rows
//! sharing a timestamp are never skipped. A change is reported once it is a
//! second old: a transaction that took its timestamp before another but
//! committed after it is still seen (unless it ran for longer than that).
//! Deleted rows leave nothing to read, so deletes are not reported.

use crate::class_table::{ClassTable, text_of};
use crate::table::{Column, Kind, Statement, ident};
use provisio_sdk::sql::{Database, Dialect};
use provisio_sdk::{DeltaKind, Error, SyncBatch, SyncDelta, Value};

const PREFIX: &str = "v1|";

struct Position {
    /// Still in the first pass over every row (reported as creates).
    initial: bool,
    updated: String,
    key: String,
}

fn parse(token: &str) -> Result<Option<Position>, Error> {
    let rest = token.strip_prefix(PREFIX).ok_or_else(|| {
        Error::invalid(format!(
            "sync token {token:?} was not made by this connector"
        ))
    })?;
    if rest.is_empty() {
        return Ok(None);
    }
    let damaged = || Error::invalid(format!("sync token {token:?} is damaged"));
    let (phase, rest) = rest.split_once('|').ok_or_else(damaged)?;
    let (updated, key) = rest.split_once('|').ok_or_else(damaged)?;
    Ok(Some(Position {
        initial: match phase {
            "c" => true,
            "u" => false,
            _ => return Err(damaged()),
        },
        updated: updated.to_owned(),
        key: key.to_owned(),
    }))
}

fn token(position: Option<&Position>) -> String {
    match position {
        Some(p) => format!(
            "{PREFIX}{}|{}|{}",
            if p.initial { "c" } else { "u" },
            p.updated,
            p.key
        ),
        None => PREFIX.to_owned(),
    }
}

fn updated_column(class: &ClassTable) -> Result<&Column, Error> {
    let updated = class.settings.updated.as_deref().ok_or_else(|| {
        Error::unsupported(format!(
            "sync needs a change-timestamp column: set `{}.updated`",
            class.settings.class
        ))
    })?;
    Ok(class.column(updated))
}

/// "A second ago", in the column's terms.
fn cutoff(dialect: Dialect, column: &Column) -> &'static str {
    match (dialect, &column.kind) {
        (Dialect::Postgres, Kind::Integer) => {
            "((EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint - 1000000)"
        }
        (Dialect::Postgres, _) => "(clock_timestamp() - interval '1 second')",
        (Dialect::Sqlite, Kind::Integer) => {
            "(CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) - 1000000)"
        }
        (Dialect::Sqlite, _) => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')",
    }
}

fn bind_updated(statement: &mut Statement, column: &Column, value: &str) -> Result<String, Error> {
    let param = column
        .to_sql("sync token", &Value::Text(value.to_owned()))
        .map_err(|_| Error::invalid("the sync token does not fit the change-timestamp column"))?;
    Ok(statement.bind(param, Some(column)))
}

pub fn sync(
    db: &Database,
    dialect: Dialect,
    class: &ClassTable,
    token: Option<&str>,
    max: u32,
) -> Result<SyncBatch, Error> {
    let column = updated_column(class)?;
    let from = token.map(parse).transpose()?.flatten();
    // No token, or one from the first pass: every row is a create.
    let initial = token.is_none() || from.as_ref().is_some_and(|p| p.initial);
    let updated = ident(&column.name);
    let key = ident(&class.settings.key);
    let mut statement = class.select(dialect);
    statement.text = statement.text.replacen(
        " FROM ",
        &format!(", CAST({updated} AS TEXT), CAST({key} AS TEXT) FROM "),
        1,
    );
    statement.push(&format!(
        " WHERE {updated} IS NOT NULL AND {updated} < {}",
        cutoff(dialect, column)
    ));
    if let Some(from) = &from {
        let t1 = bind_updated(&mut statement, column, &from.updated)?;
        let t2 = bind_updated(&mut statement, column, &from.updated)?;
        let k = statement.bind(class.key_param(&from.key)?, Some(class.key()));
        statement.push(&format!(
            " AND ({updated} > {t1} OR ({updated} = {t2} AND {key} > {k}))"
        ));
    }
    statement.push(&format!(
        " ORDER BY {updated}, {key} LIMIT {}",
        max as usize + 1
    ));
    let rows = statement.rows(db)?;
    let has_more = rows.rows.len() > max as usize;
    let width = class.columns.len();
    let mut deltas = Vec::new();
    let mut last = from;
    for row in rows.rows.iter().take(max as usize) {
        let position = Position {
            initial,
            updated: text_of(&row[width]),
            key: text_of(&row[width + 1]),
        };
        let object = class.read_row(&row[..width], &[]);
        deltas.push(SyncDelta {
            kind: if initial {
                DeltaKind::Create
            } else {
                DeltaKind::Update
            },
            uid: object.uid.clone(),
            object: Some(object),
            token: self::token(Some(&position)),
        });
        last = Some(position);
    }
    if !has_more && let Some(last) = &mut last {
        // The first pass is over: later changes are updates.
        last.initial = false;
    }
    Ok(SyncBatch {
        deltas,
        token: self::token(last.as_ref()),
        has_more,
    })
}

pub fn latest_token(db: &Database, dialect: Dialect, class: &ClassTable) -> Result<String, Error> {
    let column = updated_column(class)?;
    let updated = ident(&column.name);
    let key = ident(&class.settings.key);
    let statement = Statement::new(
        dialect,
        format!(
            "SELECT CAST({updated} AS TEXT), CAST({key} AS TEXT) FROM {} WHERE {updated} IS NOT NULL AND {updated} < {} ORDER BY {updated} DESC, {key} DESC LIMIT 1",
            class.table(),
            cutoff(dialect, column)
        ),
    );
    let rows = statement.rows(db)?;
    Ok(token(
        rows.rows
            .first()
            .map(|r| Position {
                initial: false,
                updated: text_of(&r[0]),
                key: text_of(&r[1]),
            })
            .as_ref(),
    ))
}
