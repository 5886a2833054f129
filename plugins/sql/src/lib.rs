//! # The SQL connector (the JDBC role)
//!
//! Accounts (and any other object class) kept as rows of tables in a
//! PostgreSQL or SQLite database that the operator grants the target
//! (`[targets.<t>.grants.sql.<name>]`); the connector opens it by name and
//! never sees its URL or password. See [`settings`] for the configuration.
//!
//! - Columns become attributes, typed by the table's own column types; a
//!   value of the wrong type is refused with the column and its type.
//! - Filters become parameterised `WHERE` clauses; paging is keyset paging
//!   on the key column, so pages stay right while rows change.
//! - `__password__` is stored hashed (argon2id or PBKDF2-SHA256, PHC
//!   strings) and never read back; `__enable__` maps to a boolean column;
//!   `__groups__` to a membership table.
//! - `sync` reads a change-timestamp column the connector sets on each
//!   write (and other writers should set too); deletes are not seen.

mod class_table;
mod filter_sql;
mod groups;
mod password;
pub mod settings;
mod sync;
mod table;

use class_table::{ClassTable, GROUPS, Target};
use provisio_sdk::sql::{Database, Dialect, Value as SqlValue};
use provisio_sdk::{
    Attribute, AttributeChange, AttributeInfo, Capabilities, ClassInfo, Config, Connector,
    ConnectorInfo, ConnectorObject, Error, Filter, ObjectSchema, Page, Query, SyncBatch,
    SyncRequest, Value, ValueType, export_connector,
};
use settings::Settings;
use table::{Queries, Statement, ident};

pub struct SqlConnector {
    settings: Settings,
    db: Database,
    dialect: Dialect,
    /// Tables described on first use, then kept for the instance's life.
    tables: Vec<ClassTable>,
}

impl SqlConnector {
    /// The index in `tables` of the class, described first if needed.
    fn described(&mut self, class: &str) -> Result<usize, Error> {
        if let Some(i) = self
            .tables
            .iter()
            .position(|t| t.settings.class.eq_ignore_ascii_case(class))
        {
            return Ok(i);
        }
        let settings = self.settings.class(class)?.clone();
        let columns = table::describe(&self.db, self.dialect, &settings.table)?;
        self.tables.push(ClassTable::new(settings, columns)?);
        Ok(self.tables.len() - 1)
    }

    fn has_groups(&self) -> bool {
        self.settings.membership.is_some()
    }

    /// An expression for "now" that fits the `updated` column.
    fn now(&self, column: &table::Column) -> &'static str {
        match (self.dialect, &column.kind) {
            (Dialect::Postgres, table::Kind::Integer) => {
                "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"
            }
            (Dialect::Postgres, _) => "clock_timestamp()",
            (Dialect::Sqlite, table::Kind::Integer) => {
                "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
            }
            (Dialect::Sqlite, _) => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        }
    }

    fn read(
        &self,
        q: &impl Queries,
        class: &ClassTable,
        uid: &str,
        wanted: &[String],
    ) -> Result<ConnectorObject, Error> {
        let mut statement = class.select(self.dialect);
        let key = class.key_param(uid)?;
        statement.push(&format!(" WHERE {} = ", ident(&class.settings.key)));
        statement.push_bind(key, Some(class.key()));
        let rows = statement.rows(q)?;
        let row = rows.first().ok_or_else(|| {
            Error::not_found(format!("no {} with uid {uid:?}", class.settings.class))
        })?;
        let mut object = class.read_row(row, wanted);
        if self.has_groups()
            && (wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(GROUPS)))
        {
            let groups = self.groups_of(q, uid)?;
            if !groups.is_empty() {
                object.attributes.push(Attribute::multi(
                    GROUPS,
                    groups.into_iter().map(Value::Reference),
                ));
            }
        }
        Ok(object)
    }
}

fn values_of(attribute: &Attribute) -> Result<Option<&Value>, Error> {
    match attribute.values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(Error::invalid_attribute(
            &attribute.name,
            "holds several values, but its column holds one",
        )),
    }
}

fn texts(attribute: &Attribute) -> Vec<String> {
    attribute
        .values
        .iter()
        .map(|v| match v {
            Value::Text(t) | Value::Reference(t) => t.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Binary(_) => String::new(),
        })
        .collect()
}

impl Connector for SqlConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo::new(
            "sql",
            env!("CARGO_PKG_VERSION"),
            "Accounts and groups in SQL tables (PostgreSQL, SQLite)",
            Capabilities::all(),
        )
    }

    fn open(config: &Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config)?;
        let db = Database::open(&settings.database)?;
        Ok(SqlConnector {
            dialect: db.dialect(),
            db,
            settings,
            tables: Vec::new(),
        })
    }

    fn test(&mut self) -> Result<(), Error> {
        self.db.query_values("SELECT 1", &[])?;
        let classes: Vec<String> = self
            .settings
            .classes
            .iter()
            .map(|c| c.class.clone())
            .collect();
        // Describe every table again: the test is how an operator checks
        // the configuration against the database as it is now.
        self.tables.clear();
        for class in classes {
            self.described(&class)?;
        }
        Ok(())
    }

    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        let names: Vec<String> = self
            .settings
            .classes
            .iter()
            .map(|c| c.class.clone())
            .collect();
        let has_groups = self.has_groups();
        let mut classes = Vec::new();
        for name in names {
            let i = self.described(&name)?;
            let class = &self.tables[i];
            let mut attributes = Vec::new();
            for (attribute, i) in &class.exposed {
                let column = &class.columns[*i];
                let mut info = AttributeInfo::new(attribute.clone(), column.value_type());
                let is_key = column.name.eq_ignore_ascii_case(&class.settings.key);
                if is_key {
                    info.updatable = false;
                    if class.settings.key_generated {
                        info = info.read_only();
                    } else {
                        info = info.required();
                    }
                } else if column.required {
                    info = info.required();
                }
                if class
                    .settings
                    .updated
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&column.name))
                {
                    info = info.read_only();
                }
                attributes.push(info);
            }
            if class.settings.enable.is_some() {
                attributes.push(AttributeInfo::new(class_table::ENABLE, ValueType::Boolean));
            }
            if class.settings.password.is_some() {
                attributes
                    .push(AttributeInfo::new(class_table::PASSWORD, ValueType::Text).write_only());
            }
            if has_groups {
                attributes.push(AttributeInfo::new(GROUPS, ValueType::Reference).multi_valued());
            }
            let mut info = ClassInfo::new(class.settings.class.clone(), attributes);
            info.description = Some(format!("rows of {}", class.settings.table));
            classes.push(info);
        }
        Ok(ObjectSchema { classes })
    }

    fn create(
        &mut self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        // (column index, parameter): sorted by column below, so creates
        // setting the same columns share one statement text.
        let mut set: Vec<(usize, SqlValue)> = Vec::new();
        let mut groups = Vec::new();
        let mut has_key = false;
        for attribute in &attributes {
            match class.target(&attribute.name, this.has_groups())? {
                Target::Groups => groups = texts(attribute),
                Target::Password(column) => {
                    let Some(Value::Text(password)) = values_of(attribute)? else {
                        return Err(Error::invalid_attribute(
                            &attribute.name,
                            "must be one text value",
                        ));
                    };
                    let hashed = password::hash(this.settings.password_hash, password)?;
                    set.push((class.position(column), SqlValue::Text(hashed)));
                }
                Target::Column(column) => {
                    let position = class.position(column);
                    if set.iter().any(|(p, _)| *p == position) {
                        continue;
                    }
                    let Some(value) = values_of(attribute)? else {
                        continue;
                    };
                    if column.name.eq_ignore_ascii_case(&class.settings.key) {
                        if class.settings.key_generated {
                            return Err(Error::invalid_attribute(
                                &attribute.name,
                                "is generated by the database",
                            ));
                        }
                        has_key = true;
                    }
                    set.push((position, column.to_sql(&attribute.name, value)?));
                }
            }
        }
        if !has_key && !class.settings.key_generated {
            return Err(Error::invalid_attribute(
                &class.settings.key,
                format!("is the key of {} and is required", class.settings.table),
            ));
        }
        set.sort_by_key(|(position, _)| *position);
        let (positions, params): (Vec<usize>, Vec<SqlValue>) = set.into_iter().unzip();
        let stamp = class
            .settings
            .updated
            .as_deref()
            .map(|c| this.now(class.column(c)));
        let text = class.insert(this.dialect, &positions, stamp);
        let duplicate = |e| match e {
            Error::AlreadyExists(m) => Error::already_exists(format!(
                "{} already has this object: {m}",
                class.settings.table
            )),
            other => other,
        };
        if !this.has_groups() {
            // One statement, atomic on its own: no transaction needed.
            let rows = this.db.rows(&text, &params).map_err(duplicate)?;
            let row = rows
                .first()
                .ok_or_else(|| Error::failed("the insert returned no row"))?;
            return Ok(class.read_row(row, &[]));
        }
        let tx = this.db.transaction()?;
        let rows = tx.rows(&text, &params).map_err(duplicate)?;
        let uid = rows
            .first()
            .map(|r| class.uid_of(r))
            .ok_or_else(|| Error::failed("the insert returned no row"))?;
        if !groups.is_empty() {
            this.change_groups(&tx, &uid, &groups, &[])?;
        }
        let object = this.read(&tx, class, &uid, &[])?;
        tx.commit()?;
        Ok(object)
    }

    fn get(
        &mut self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        this.read(&this.db, class, uid, attributes)
    }

    fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        let mut statement = Statement::new(this.dialect, "");
        let mut sets = Vec::new();
        let (mut add_groups, mut remove_groups) = (Vec::new(), Vec::new());
        for change in &changes {
            let (attribute, remove) = match change {
                AttributeChange::Replace(a) | AttributeChange::AddValues(a) => (a, false),
                AttributeChange::RemoveValues(a) => (a, true),
            };
            match class.target(&attribute.name, this.has_groups())? {
                Target::Groups => match change {
                    AttributeChange::AddValues(a) => add_groups.extend(texts(a)),
                    AttributeChange::RemoveValues(a) => remove_groups.extend(texts(a)),
                    AttributeChange::Replace(a) => {
                        let wanted = texts(a);
                        let current = this.groups_of(&this.db, uid)?;
                        remove_groups
                            .extend(current.iter().filter(|g| !wanted.contains(g)).cloned());
                        add_groups.extend(wanted);
                    }
                },
                Target::Password(column) => {
                    let Some(Value::Text(password)) = values_of(attribute)? else {
                        return Err(Error::invalid_attribute(
                            &attribute.name,
                            "must be one text value",
                        ));
                    };
                    let hashed = password::hash(this.settings.password_hash, password)?;
                    let p = statement.bind(SqlValue::Text(hashed), Some(column));
                    sets.push(format!("{} = {p}", ident(&column.name)));
                }
                Target::Column(column) => {
                    if column.name.eq_ignore_ascii_case(&class.settings.key) {
                        return Err(Error::invalid_attribute(
                            &attribute.name,
                            "is the key and cannot change",
                        ));
                    }
                    let name = ident(&column.name);
                    match (values_of(attribute)?, remove) {
                        (None, false) => sets.push(format!("{name} = NULL")),
                        (None, true) => {}
                        (Some(value), false) => {
                            let p = statement
                                .bind(column.to_sql(&attribute.name, value)?, Some(column));
                            sets.push(format!("{name} = {p}"));
                        }
                        (Some(value), true) => {
                            let p = statement
                                .bind(column.to_sql(&attribute.name, value)?, Some(column));
                            sets.push(format!(
                                "{name} = CASE WHEN {name} = {p} THEN NULL ELSE {name} END"
                            ));
                        }
                    }
                }
            }
        }
        if let Some(updated) = &class.settings.updated {
            let column = class.column(updated);
            sets.push(format!("{} = {}", ident(&column.name), this.now(column)));
        }
        let not_found =
            || Error::not_found(format!("no {} with uid {uid:?}", class.settings.class));
        if !sets.is_empty() {
            let key = class.key_param(uid)?;
            let p = statement.bind(key, Some(class.key()));
            statement.text = format!(
                "UPDATE {} SET {} WHERE {} = {p} RETURNING {}",
                class.table(),
                sets.join(", "),
                ident(&class.settings.key),
                class.select_list()
            );
        }
        if !this.has_groups() {
            // One statement, atomic on its own: no transaction needed.
            if sets.is_empty() {
                return this.read(&this.db, class, uid, &[]);
            }
            let rows = statement.rows(&this.db)?;
            return rows
                .first()
                .map(|row| class.read_row(row, &[]))
                .ok_or_else(not_found);
        }
        let tx = this.db.transaction()?;
        if sets.is_empty() {
            this.read(&tx, class, uid, &[])?;
        } else if statement.rows(&tx)?.is_empty() {
            return Err(not_found());
        }
        if !add_groups.is_empty() || !remove_groups.is_empty() {
            this.change_groups(&tx, uid, &add_groups, &remove_groups)?;
        }
        let object = this.read(&tx, class, uid, &[])?;
        tx.commit()?;
        Ok(object)
    }

    fn delete(&mut self, class: &str, uid: &str) -> Result<(), Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        let tx = this.db.transaction()?;
        if let Some(m) = &this.settings.membership {
            let s = this.memberships_of(m, "DELETE FROM", uid);
            s.run(&tx)?;
        }
        let mut s = Statement::new(
            this.dialect,
            format!(
                "DELETE FROM {} WHERE {} = ",
                class.table(),
                ident(&class.settings.key)
            ),
        );
        s.push_bind(class.key_param(uid)?, Some(class.key()));
        if s.run(&tx)? == 0 {
            return Err(Error::not_found(format!(
                "no {} with uid {uid:?}",
                class.settings.class
            )));
        }
        tx.commit()?;
        Ok(())
    }

    /// Keyset paging on the key column: the cookie is the last key returned.
    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let i = self.described(&query.class)?;
        let (this, class) = (&*self, &self.tables[i]);
        let mut statement = class.select(this.dialect);
        let mut conditions = Vec::new();
        if let Some(filter) = &query.filter {
            statement.push(" WHERE ");
            filter_sql::push_filter(&mut statement, class, filter)?;
            conditions.push(());
        }
        if let Some(cookie) = &query.page.cookie {
            let key = class
                .key()
                .to_sql("cookie", &Value::Text(cookie.clone()))
                .map_err(|_| {
                    Error::invalid(format!(
                        "page cookie {cookie:?} is not a key of {}",
                        class.settings.table
                    ))
                })?;
            statement.push(if conditions.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            statement.push(&format!("{} > ", ident(&class.settings.key)));
            statement.push_bind(key, Some(class.key()));
        }
        let size = query.page.size as usize;
        statement.push(&format!(
            " ORDER BY {} LIMIT {}",
            ident(&class.settings.key),
            size + 1
        ));
        let rows = statement.rows(&this.db)?;
        let has_more = rows.len() > size;
        let objects: Vec<ConnectorObject> = rows
            .iter()
            .take(size)
            .map(|row| class.read_row(row, &query.attributes))
            .collect();
        let cookie = has_more
            .then(|| objects.last().map(|o| o.uid.clone()))
            .flatten();
        Ok(Page {
            objects,
            cookie,
            remaining: None,
        })
    }

    fn count(&mut self, class: &str, filter: Option<&Filter>) -> Result<u64, Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        let mut statement = Statement::new(
            this.dialect,
            format!("SELECT COUNT(*) FROM {}", class.table()),
        );
        if let Some(filter) = filter {
            statement.push(" WHERE ");
            filter_sql::push_filter(&mut statement, class, filter)?;
        }
        let rows = statement.rows(&this.db)?;
        match rows.first().and_then(|row| row.first()) {
            Some(SqlValue::Integer(n)) => Ok((*n).max(0) as u64),
            other => Err(Error::failed(format!(
                "COUNT(*) on {} returned {other:?}",
                class.settings.table
            ))),
        }
    }

    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let i = self.described(&request.class)?;
        let (this, class) = (&*self, &self.tables[i]);
        sync::sync(
            &this.db,
            this.dialect,
            class,
            request.token.as_deref(),
            request.max_deltas,
        )
    }

    fn latest_sync_token(&mut self, class: &str) -> Result<String, Error> {
        let i = self.described(class)?;
        let (this, class) = (&*self, &self.tables[i]);
        sync::latest_token(&this.db, this.dialect, class)
    }
}

export_connector!(SqlConnector);
