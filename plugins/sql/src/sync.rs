//! Changes since a token, read from the class's change-timestamp column.
//!
//! The token is the (timestamp, key) of the last change reported, so rows
//! sharing a timestamp are never skipped. A change is reported once it is a
//! second old: a transaction that took its timestamp before another but
//! committed after it is still seen (unless it ran for longer than that).
//! Deleted rows leave nothing to read: deletes are reported from a tombstone
//! table (`<class>.deletes.table`) that a trigger fills, read the same way
//! by (deleted at, key).

use crate::class_table::{ClassTable, text_of};
use crate::settings::Deletes;
use crate::table::{Column, Kind, Statement, ident};
use provisio_sdk::sql::{Database, Dialect};
use provisio_sdk::{DeltaKind, Error, SyncBatch, SyncDelta, Value};

const PREFIX: &str = "v1|";
/// Tokens of classes with a tombstone table: fields percent-escaped.
const PREFIX_V2: &str = "v2|";

#[derive(Clone)]
struct Position {
    /// Still in the first pass over every row (reported as creates).
    initial: bool,
    updated: String,
    key: String,
}

/// The last tombstone reported: (deleted at, key).
#[derive(Clone)]
struct Mark {
    at: String,
    key: String,
}

/// Where a sync stands: in the rows, and in the tombstones.
#[derive(Clone, Default)]
struct Token {
    rows: Option<Position>,
    deletes: Option<Mark>,
}

fn parse(token: &str) -> Result<Token, Error> {
    let damaged = || Error::invalid(format!("sync token {token:?} is damaged"));
    let phase = |p: &str| match p {
        "c" => Ok(true),
        "u" => Ok(false),
        _ => Err(damaged()),
    };
    if let Some(rest) = token.strip_prefix(PREFIX_V2) {
        let fields: Vec<String> = rest.split('|').map(unescape).collect();
        let [p, updated, key, at, deleted_key] = fields.as_slice() else {
            return Err(damaged());
        };
        let rows = match p.as_str() {
            "-" => None,
            p => Some(Position {
                initial: phase(p)?,
                updated: updated.clone(),
                key: key.clone(),
            }),
        };
        let deletes = (!at.is_empty()).then(|| Mark {
            at: at.clone(),
            key: deleted_key.clone(),
        });
        return Ok(Token { rows, deletes });
    }
    let rest = token.strip_prefix(PREFIX).ok_or_else(|| {
        Error::invalid(format!(
            "sync token {token:?} was not made by this connector"
        ))
    })?;
    if rest.is_empty() {
        return Ok(Token::default());
    }
    let (p, rest) = rest.split_once('|').ok_or_else(damaged)?;
    let (updated, key) = rest.split_once('|').ok_or_else(damaged)?;
    Ok(Token {
        rows: Some(Position {
            initial: phase(p)?,
            updated: updated.to_owned(),
            key: key.to_owned(),
        }),
        deletes: None,
    })
}

/// `v1|…` for classes without tombstones (as before they existed),
/// `v2|…` with them.
fn token(token: &Token, with_deletes: bool) -> String {
    if !with_deletes {
        return match &token.rows {
            Some(p) => format!(
                "{PREFIX}{}|{}|{}",
                if p.initial { "c" } else { "u" },
                p.updated,
                p.key
            ),
            None => PREFIX.to_owned(),
        };
    }
    let (phase, updated, key) = match &token.rows {
        Some(p) => (
            if p.initial { "c" } else { "u" },
            p.updated.as_str(),
            p.key.as_str(),
        ),
        None => ("-", "", ""),
    };
    let (at, deleted_key) = match &token.deletes {
        Some(m) => (m.at.as_str(), m.key.as_str()),
        None => ("", ""),
    };
    let fields = [phase, updated, key, at, deleted_key].map(escape);
    format!("{PREFIX_V2}{}", fields.join("|"))
}

fn escape(field: &str) -> String {
    field.replace('%', "%25").replace('|', "%7C")
}

fn unescape(field: &str) -> String {
    field.replace("%7C", "|").replace("%25", "%")
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

/// A column of the tombstone table, typed like the class column it mirrors.
fn mirror(column: &Column, name: &str) -> Column {
    Column {
        name: name.to_owned(),
        quoted: ident(name),
        ..column.clone()
    }
}

/// Tombstones after `after` (and a second old), oldest first, at most `limit`.
fn tombstones(
    db: &Database,
    dialect: Dialect,
    class: &ClassTable,
    deletes: &Deletes,
    after: Option<&Mark>,
    limit: usize,
    newest_first: bool,
) -> Result<Vec<Mark>, Error> {
    let at_column = mirror(updated_column(class)?, &deletes.at);
    let key_column = mirror(class.key(), &deletes.key);
    let (at, key) = (ident(&deletes.at), ident(&deletes.key));
    let mut statement = Statement::new(
        dialect,
        format!(
            "SELECT CAST({at} AS TEXT), CAST({key} AS TEXT) FROM {} WHERE {at} IS NOT NULL AND {at} < {}",
            ident(&deletes.table),
            cutoff(dialect, &at_column)
        ),
    );
    if let Some(after) = after {
        let t1 = bind_updated(&mut statement, &at_column, &after.at)?;
        let t2 = bind_updated(&mut statement, &at_column, &after.at)?;
        let k = statement.bind(class.key_param(&after.key)?, Some(&key_column));
        statement.push(&format!(
            " AND ({at} > {t1} OR ({at} = {t2} AND {key} > {k}))"
        ));
    }
    let order = if newest_first { "DESC" } else { "ASC" };
    statement.push(&format!(
        " ORDER BY {at} {order}, {key} {order} LIMIT {limit}"
    ));
    Ok(statement
        .rows(db)?
        .iter()
        .map(|r| Mark {
            at: text_of(&r[0]),
            key: text_of(&r[1]),
        })
        .collect())
}

/// Changes after `token`, at most `max`: first the deletes recorded in the
/// tombstone table (when the class has one), then changed rows. Deletes
/// first is safe for the final state: a key deleted and then created again
/// is reported deleted, then created.
pub fn sync(
    db: &Database,
    dialect: Dialect,
    class: &ClassTable,
    token: Option<&str>,
    max: u32,
) -> Result<SyncBatch, Error> {
    let column = updated_column(class)?;
    let from = token.map(parse).transpose()?.unwrap_or_default();
    // No token, or one from the first pass: every row is a create.
    let initial = token.is_none() || from.rows.as_ref().is_some_and(|p| p.initial);
    let deletes = class.settings.deletes.as_ref();
    let mut at = from.clone();
    let mut deltas = Vec::new();
    if let Some(deletes) = deletes {
        if token.is_none() {
            // What was deleted before the first sync is nobody's news.
            at.deletes = tombstones(db, dialect, class, deletes, None, 1, true)?
                .into_iter()
                .next();
        } else if !initial {
            let found = tombstones(
                db,
                dialect,
                class,
                deletes,
                from.deletes.as_ref(),
                max as usize + 1,
                false,
            )?;
            let more = found.len() > max as usize;
            for mark in found.into_iter().take(max as usize) {
                at.deletes = Some(mark.clone());
                deltas.push(SyncDelta {
                    kind: DeltaKind::Delete,
                    uid: mark.key,
                    object: None,
                    token: self::token(&at, true),
                });
            }
            if more {
                return Ok(SyncBatch {
                    deltas,
                    token: self::token(&at, true),
                    has_more: true,
                });
            }
        }
    }
    let room = max as usize - deltas.len();
    if room == 0 {
        return Ok(SyncBatch {
            deltas,
            token: self::token(&at, deletes.is_some()),
            has_more: true,
        });
    }

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
    if let Some(from) = &from.rows {
        let t1 = bind_updated(&mut statement, column, &from.updated)?;
        let t2 = bind_updated(&mut statement, column, &from.updated)?;
        let k = statement.bind(class.key_param(&from.key)?, Some(class.key()));
        statement.push(&format!(
            " AND ({updated} > {t1} OR ({updated} = {t2} AND {key} > {k}))"
        ));
    }
    statement.push(&format!(" ORDER BY {updated}, {key} LIMIT {}", room + 1));
    let rows = statement.rows(db)?;
    let has_more = rows.len() > room;
    let width = class.columns.len();
    let with_deletes = deletes.is_some();
    for row in rows.iter().take(room) {
        let position = Position {
            initial,
            updated: text_of(&row[width]),
            key: text_of(&row[width + 1]),
        };
        let object = class.read_row(&row[..width], &[]);
        at.rows = Some(position);
        deltas.push(SyncDelta {
            kind: if initial {
                DeltaKind::Create
            } else {
                DeltaKind::Update
            },
            uid: object.uid.clone(),
            object: Some(object),
            token: self::token(&at, with_deletes),
        });
    }
    if !has_more && let Some(last) = &mut at.rows {
        // The first pass is over: later changes are updates.
        last.initial = false;
    }
    Ok(SyncBatch {
        deltas,
        token: self::token(&at, with_deletes),
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
    let latest = Token {
        rows: rows.first().map(|r| Position {
            initial: false,
            updated: text_of(&r[0]),
            key: text_of(&r[1]),
        }),
        deletes: match &class.settings.deletes {
            Some(deletes) => tombstones(db, dialect, class, deletes, None, 1, true)?
                .into_iter()
                .next(),
            None => None,
        },
    };
    Ok(token(&latest, class.settings.deletes.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_keys_with_bars_and_percents() {
        let at = Token {
            rows: Some(Position {
                initial: false,
                updated: "2026-11-22 08:00:00.123456+00".into(),
                key: "a|b%7C".into(),
            }),
            deletes: Some(Mark {
                at: "2026-11-22 08:00:01+00".into(),
                key: "|%|".into(),
            }),
        };
        let text = token(&at, true);
        let back = parse(&text).unwrap();
        let rows = back.rows.unwrap();
        assert!(!rows.initial);
        assert_eq!(rows.key, "a|b%7C");
        assert_eq!(back.deletes.unwrap().key, "|%|");
        // Classes without tombstones keep the tokens they always had.
        assert_eq!(token(&at, false), format!("v1|u|{}|a|b%7C", rows.updated));
        assert!(parse("v1|").unwrap().rows.is_none());
        assert!(parse("v2|u|x").is_err());
        assert!(parse("v3|").is_err());
    }
}
