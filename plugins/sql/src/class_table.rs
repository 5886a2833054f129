//! One object class: its settings and its table's columns, and the mapping
//! between attribute names and columns.

use crate::settings::ClassSettings;
use crate::table::{Column, Kind, Statement};
use provisio_sdk::sql::{Dialect, Value as SqlValue};
use provisio_sdk::{Attribute, ConnectorObject, Error, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Distinct INSERT texts kept per class; past this the cache starts over,
/// so callers varying their attribute sets cannot grow it without bound.
const MAX_INSERT_SHAPES: usize = 64;

pub use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};

pub struct ClassTable {
    pub settings: ClassSettings,
    pub columns: Vec<Column>,
    /// (attribute, column index) of every column shown as an attribute.
    pub exposed: Vec<(String, usize)>,
    /// The table's name quoted, and the select list: made once.
    quoted_table: String,
    select_list: String,
    /// INSERT texts by the columns they set: creates of one shape (the
    /// usual case) build their statement once. A few shapes at most, so a
    /// list searched in order beats hashing.
    inserts: RefCell<Vec<(Vec<usize>, Rc<str>)>>,
}

/// Where an attribute goes.
pub enum Target<'a> {
    Column(&'a Column),
    Password(&'a Column),
    Groups,
}

impl ClassTable {
    pub fn new(settings: ClassSettings, columns: Vec<Column>) -> Result<Self, Error> {
        let table = &settings.table;
        let find = |name: &str, key: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "configuration key `{}.{key}`: table {table} has no column {name:?} (columns: {})",
                        settings.class,
                        columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })
        };
        find(&settings.key, "key")?;
        find(&settings.name, "name")?;
        let hidden: Vec<usize> = [
            settings
                .enable
                .as_deref()
                .map(|c| find(c, "enable"))
                .transpose()?,
            settings
                .password
                .as_deref()
                .map(|c| find(c, "password"))
                .transpose()?,
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(updated) = &settings.updated {
            let i = find(updated, "updated")?;
            if !matches!(columns[i].kind, Kind::Integer | Kind::Text | Kind::Cast(_)) {
                return Err(Error::invalid(format!(
                    "configuration key `{}.updated`: column {updated} is {}, not a timestamp or an integer",
                    settings.class, columns[i].type_name
                )));
            }
        }
        for (attribute, column) in &settings.renames {
            find(column, &format!("attribute.{attribute}"))?;
        }
        let listed = settings.columns.as_ref();
        let mut exposed = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            if hidden.contains(&i) {
                continue;
            }
            let is_key = column.name.eq_ignore_ascii_case(&settings.key);
            if let Some(listed) = listed
                && !is_key
                && !listed.iter().any(|l| l.eq_ignore_ascii_case(&column.name))
            {
                continue;
            }
            let attribute = settings
                .renames
                .iter()
                .find(|(_, c)| c.eq_ignore_ascii_case(&column.name))
                .map(|(a, _)| a.clone())
                .unwrap_or_else(|| column.name.clone());
            exposed.push((attribute, i));
        }
        let mut select: Vec<String> = columns.iter().map(Column::select).collect();
        if let Some(p) = &settings.password {
            // The hash never leaves the database.
            let i = find(p, "password")?;
            select[i] = "NULL".into();
        }
        Ok(ClassTable {
            quoted_table: crate::table::ident(&settings.table),
            select_list: select.join(", "),
            settings,
            columns,
            exposed,
            inserts: RefCell::default(),
        })
    }

    /// The position of `column`, one of this table's columns.
    pub fn position(&self, column: &Column) -> usize {
        self.columns
            .iter()
            .position(|c| std::ptr::eq(c, column))
            .expect("a column of this table")
    }

    /// `INSERT INTO <table> (<columns>) VALUES (<placeholders>) RETURNING
    /// <select list>` setting the columns at `positions` from parameters
    /// in that order, and the updated column (if any) to `stamp`.
    pub fn insert(&self, dialect: Dialect, positions: &[usize], stamp: Option<&str>) -> Rc<str> {
        if let Some((_, text)) = self.inserts.borrow().iter().find(|(p, _)| p == positions) {
            return text.clone();
        }
        let mut columns = Vec::with_capacity(positions.len() + 1);
        let mut values = Vec::with_capacity(positions.len() + 1);
        for (n, &i) in positions.iter().enumerate() {
            columns.push(self.columns[i].quoted.as_str());
            values.push(self.columns[i].placeholder(dialect, n + 1));
        }
        if let (Some(updated), Some(stamp)) = (&self.settings.updated, stamp) {
            columns.push(&self.column(updated).quoted);
            values.push(stamp.to_owned());
        }
        let text: Rc<str> = format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
            self.table(),
            columns.join(", "),
            values.join(", "),
            self.select_list()
        )
        .into();
        let mut inserts = self.inserts.borrow_mut();
        if inserts.len() >= MAX_INSERT_SHAPES {
            inserts.clear();
        }
        inserts.push((positions.to_vec(), text.clone()));
        text
    }

    /// The position of a configured column (checked to exist in `new`).
    fn index(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .expect("checked in new")
    }

    pub fn column(&self, name: &str) -> &Column {
        &self.columns[self.index(name)]
    }

    pub fn key(&self) -> &Column {
        self.column(&self.settings.key)
    }

    pub fn table(&self) -> &str {
        &self.quoted_table
    }

    /// The column (or special handling) behind an attribute.
    pub fn target(&self, attribute: &str, has_groups: bool) -> Result<Target<'_>, Error> {
        if attribute.eq_ignore_ascii_case(NAME) {
            return Ok(Target::Column(self.column(&self.settings.name)));
        }
        let configured = |column: &Option<String>, key: &str| {
            column.as_deref().map(|c| self.column(c)).ok_or_else(|| {
                Error::invalid_attribute(
                    attribute,
                    format!(
                        "class {} has no {key} column (set `{}.{key}`)",
                        self.settings.class, self.settings.class
                    ),
                )
            })
        };
        if attribute.eq_ignore_ascii_case(ENABLE) {
            return configured(&self.settings.enable, "enable").map(Target::Column);
        }
        if attribute.eq_ignore_ascii_case(PASSWORD) {
            return configured(&self.settings.password, "password").map(Target::Password);
        }
        if attribute.eq_ignore_ascii_case(GROUPS) {
            return if has_groups {
                Ok(Target::Groups)
            } else {
                Err(Error::invalid_attribute(
                    attribute,
                    "this target has no membership table (set `membership.table`)",
                ))
            };
        }
        self.exposed
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
            .map(|(_, i)| Target::Column(&self.columns[*i]))
            .ok_or_else(|| {
                Error::invalid_attribute(
                    attribute,
                    format!(
                        "class {} has no attribute {attribute:?} (attributes: {})",
                        self.settings.class,
                        self.exposed
                            .iter()
                            .map(|(a, _)| a.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// The column a filter's attribute names: a real attribute first, then
    /// `uid`, `name` and `enable` as the operational attributes.
    pub fn filter_column(&self, attribute: &str) -> Result<&Column, Error> {
        if let Some((_, i)) = self
            .exposed
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
        {
            return Ok(&self.columns[*i]);
        }
        match attribute.to_ascii_lowercase().as_str() {
            "uid" => Ok(self.key()),
            "name" => Ok(self.column(&self.settings.name)),
            "enable" if self.settings.enable.is_some() => {
                Ok(self.column(self.settings.enable.as_deref().unwrap_or_default()))
            }
            _ => Err(Error::invalid(format!(
                "filter: class {} has no attribute {attribute:?} (attributes: {})",
                self.settings.class,
                self.exposed
                    .iter()
                    .map(|(a, _)| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The columns, in [`Self::read_row`]'s order, as a select list.
    /// The columns [`Self::read_row`] reads, in its order (the password
    /// hash as NULL).
    pub fn select_list(&self) -> &str {
        &self.select_list
    }

    /// `SELECT <columns> FROM <table>`, the columns in [`Self::read_row`]'s order.
    pub fn select(&self, dialect: Dialect) -> Statement {
        Statement::new(
            dialect,
            format!("SELECT {} FROM {}", self.select_list(), self.table()),
        )
    }

    /// The key of a row as the uid.
    pub fn uid_of(&self, row: &[SqlValue]) -> String {
        let i = self.index(&self.settings.key);
        text_of(&row[i])
    }

    /// A row (selected by [`Self::select`]) as an object.
    pub fn read_row(&self, row: &[SqlValue], wanted: &[String]) -> ConnectorObject {
        let name_index = self.index(&self.settings.name);
        let mut object = ConnectorObject::new(
            self.settings.class.clone(),
            self.uid_of(row),
            text_of(&row[name_index]),
        );
        let want =
            |name: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(name));
        for (attribute, i) in &self.exposed {
            if !want(attribute) {
                continue;
            }
            if let Some(value) = self.columns[*i].read_value(&row[*i]) {
                object
                    .attributes
                    .push(Attribute::single(attribute.clone(), value));
            }
        }
        if let Some(enable) = &self.settings.enable
            && want(ENABLE)
        {
            let i = self.index(enable);
            if let Some(Value::Boolean(b)) = self.columns[i].read_value(&row[i]) {
                object.attributes.push(Attribute::single(ENABLE, b));
            }
        }
        object
    }

    /// The uid as a parameter of the key column.
    pub fn key_param(&self, uid: &str) -> Result<SqlValue, Error> {
        self.key()
            .to_sql("uid", &Value::Text(uid.to_owned()))
            .map_err(|_| Error::not_found(format!("no {} with uid {uid:?}", self.settings.class)))
    }
}

pub fn text_of(value: &SqlValue) -> String {
    match value {
        SqlValue::Null => String::new(),
        SqlValue::Boolean(b) => b.to_string(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(r) => r.to_string(),
        SqlValue::Text(t) => t.clone(),
        SqlValue::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn column(name: &str, kind: Kind) -> Column {
        Column {
            name: name.into(),
            quoted: crate::table::ident(name),
            type_name: "text".into(),
            kind,
            required: false,
        }
    }

    pub(crate) fn accounts() -> ClassTable {
        let settings = ClassSettings {
            class: "account".into(),
            table: "accounts".into(),
            key: "id".into(),
            key_generated: false,
            name: "username".into(),
            enable: None,
            password: None,
            updated: Some("updated_at".into()),
            deletes: None,
            columns: None,
            renames: BTreeMap::new(),
        };
        let columns = vec![
            column("id", Kind::Text),
            column("username", Kind::Text),
            column("department", Kind::Text),
            column("updated_at", Kind::Cast("timestamptz".into())),
        ];
        ClassTable::new(settings, columns).unwrap()
    }

    #[test]
    fn creates_setting_the_same_columns_share_one_insert_text() {
        let table = accounts();
        let now = Some("clock_timestamp()");
        let first = table.insert(Dialect::Postgres, &[0, 1], now);
        assert_eq!(
            &*first,
            "INSERT INTO \"accounts\" (\"id\", \"username\", \"updated_at\") \
             VALUES ($1, $2, clock_timestamp()) \
             RETURNING \"id\", \"username\", \"department\", CAST(\"updated_at\" AS TEXT)"
        );
        assert!(Rc::ptr_eq(
            &first,
            &table.insert(Dialect::Postgres, &[0, 1], now)
        ));
        let wider = table.insert(Dialect::Postgres, &[0, 1, 2], now);
        assert!(
            wider.contains("(\"id\", \"username\", \"department\", \"updated_at\") VALUES ($1, $2, $3, clock_timestamp())"),
            "{wider}"
        );
        assert!(Rc::ptr_eq(
            &first,
            &table.insert(Dialect::Postgres, &[0, 1], now)
        ));
    }

    #[test]
    fn the_insert_texts_kept_stay_bounded() {
        let table = accounts();
        for n in 1..=3 * MAX_INSERT_SHAPES {
            table.insert(Dialect::Sqlite, &vec![0; n], None);
            assert!(table.inserts.borrow().len() <= MAX_INSERT_SHAPES);
        }
    }
}
