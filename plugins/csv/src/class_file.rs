//! One object class held in one CSV file: rows to objects and back, and
//! the checks that keep the file consistent (unique keys and names, known
//! columns, values that fit their column).

use crate::settings::{ClassSettings, Settings};
use crate::table::{Row, Table, display_name};
use provisio_sdk::{Attribute, AttributeChange, ConnectorObject, Error, Value};

pub use provisio_sdk::names::{ENABLE, NAME, PASSWORD};

pub struct ClassFile<'a> {
    pub settings: &'a Settings,
    pub class: &'a ClassSettings,
    pub table: Table,
    key: usize,
    name: usize,
    enable: Option<usize>,
}

impl<'a> ClassFile<'a> {
    /// Reads the class's file and checks it. A missing file is an empty
    /// table when `<class>.columns` says what its header would be.
    pub fn load(settings: &'a Settings, class: &'a ClassSettings) -> Result<Self, Error> {
        let table = match Table::read(&class.path(), settings.delimiter)? {
            Some(table) => table,
            None if !class.columns.is_empty() => Table::new(class.columns.clone()),
            None => {
                return Err(Error::failed(format!(
                    "{} does not exist in the granted directory and `{}.columns` is not set to create it",
                    class.file, class.class
                )));
            }
        };
        Self::check(settings, class, table)
    }

    /// Checks a table against the class settings.
    pub fn check(
        settings: &'a Settings,
        class: &'a ClassSettings,
        table: Table,
    ) -> Result<Self, Error> {
        let this = Self::columns(settings, class, table)?;
        this.check_unique(this.key, "key")?;
        if this.name != this.key {
            this.check_unique(this.name, "name")?;
        }
        Ok(this)
    }

    /// Finds the class's columns in a table's header; the rows are not
    /// checked (for a table [`ClassFile::check`] already passed).
    pub fn columns(
        settings: &'a Settings,
        class: &'a ClassSettings,
        table: Table,
    ) -> Result<Self, Error> {
        let file = class.file.as_str();
        let column = |column: &str, key: &str| {
            table.column(column).ok_or_else(|| {
                Error::failed(format!(
                    "{file}: column `{column}` (from `{}.{key}`) is not in the header (columns: {})",
                    class.class,
                    table.header.join(", ")
                ))
            })
        };
        let key = column(&class.key, "key")?;
        let name = column(&class.name, "name")?;
        let enable = class
            .enable
            .as_deref()
            .map(|c| column(c, "enable"))
            .transpose()?;
        for c in &class.multivalued {
            column(c, "multivalued")?;
        }
        for c in &class.references {
            column(c, "references")?;
        }
        Ok(ClassFile {
            settings,
            class,
            table,
            key,
            name,
            enable,
        })
    }

    fn check_unique(&self, column: usize, what: &str) -> Result<(), Error> {
        let mut seen: std::collections::HashMap<&str, u64> = Default::default();
        for row in &self.table.rows {
            let value = row.cells[column].as_str();
            if value.is_empty() {
                return Err(Error::failed(format!(
                    "{} line {}: the {what} column `{}` is empty",
                    self.class.file, row.line, self.table.header[column]
                )));
            }
            if let Some(first) = seen.insert(value, row.line) {
                return Err(Error::failed(format!(
                    "{} line {}: {what} {value:?} already appears on line {first}",
                    self.class.file, row.line
                )));
            }
        }
        Ok(())
    }

    pub fn key_of<'r>(&self, row: &'r Row) -> &'r str {
        &row.cells[self.key]
    }

    pub fn find(&self, uid: &str) -> Option<usize> {
        self.table.rows.iter().position(|r| self.key_of(r) == uid)
    }

    pub fn find_or_not_found(&self, uid: &str) -> Result<usize, Error> {
        self.find(uid).ok_or_else(|| self.not_found(uid))
    }

    pub fn not_found(&self, uid: &str) -> Error {
        Error::not_found(format!(
            "no {} with key {uid:?} in {}",
            self.class.class, self.class.file
        ))
    }

    /// The object a row holds; `wanted` limits the attributes (empty: all).
    pub fn object(&self, row: &Row, wanted: &[String]) -> Result<ConnectorObject, Error> {
        let mut object = ConnectorObject::new(
            self.class.class.clone(),
            row.cells[self.key].clone(),
            row.cells[self.name].clone(),
        );
        let wants =
            |name: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(name));
        for (i, column) in self.table.header.iter().enumerate() {
            let cell = &row.cells[i];
            if Some(i) == self.enable {
                if !wants(ENABLE) || cell.is_empty() {
                    continue;
                }
                let enabled = self.parse_flag(cell).ok_or_else(|| {
                    Error::failed(format!(
                        "{} line {}: column `{column}` holds {cell:?}, expected {:?} or {:?}",
                        self.class.file,
                        row.line,
                        self.settings.true_text,
                        self.settings.false_text
                    ))
                })?;
                object.attributes.push(Attribute::single(ENABLE, enabled));
                continue;
            }
            if cell.is_empty() || !wants(column) {
                continue;
            }
            let reference = self.class.is_reference(column);
            let make = |s: &str| {
                if reference {
                    Value::Reference(s.to_owned())
                } else {
                    Value::Text(s.to_owned())
                }
            };
            let values: Vec<Value> = if self.class.is_multivalued(column) {
                cell.split(self.settings.separator)
                    .filter(|v| !v.is_empty())
                    .map(make)
                    .collect()
            } else {
                vec![make(cell)]
            };
            object.attributes.push(Attribute {
                name: column.clone(),
                values,
            });
        }
        Ok(object)
    }

    fn parse_flag(&self, cell: &str) -> Option<bool> {
        if cell.eq_ignore_ascii_case(&self.settings.true_text) {
            Some(true)
        } else if cell.eq_ignore_ascii_case(&self.settings.false_text) {
            Some(false)
        } else {
            None
        }
    }

    /// Adds a row from attributes; returns its index.
    pub fn create(&mut self, attributes: Vec<Attribute>) -> Result<usize, Error> {
        let mut cells = vec![String::new(); self.table.header.len()];
        let mut set: Vec<Option<String>> = vec![None; self.table.header.len()];
        for attribute in attributes {
            let column = self.column_for(&attribute.name)?;
            let cell = self.encode(column, &attribute.name, &attribute.values)?;
            if let Some(previous) = &set[column]
                && *previous != attribute.name
                && cells[column] != cell
            {
                return Err(Error::invalid_attribute(
                    attribute.name,
                    format!(
                        "sets column `{}`, which `{previous}` also sets to another value",
                        self.table.header[column]
                    ),
                ));
            }
            cells[column] = cell;
            set[column] = Some(attribute.name);
        }
        let key_column = &self.table.header[self.key];
        if cells[self.key].is_empty() {
            return Err(Error::invalid_attribute(
                key_column.clone(),
                format!(
                    "the key column `{key_column}` is required to create a {}",
                    self.class.class
                ),
            ));
        }
        if cells[self.name].is_empty() {
            return Err(Error::invalid_attribute(
                NAME,
                format!(
                    "the name column `{}` is required",
                    self.table.header[self.name]
                ),
            ));
        }
        if let Some(i) = self.find(&cells[self.key]) {
            return Err(Error::already_exists(format!(
                "a {} with key {:?} already exists ({} line {})",
                self.class.class, cells[self.key], self.class.file, self.table.rows[i].line
            )));
        }
        self.check_name_free(&cells[self.name], None)?;
        self.table.rows.push(Row { line: 0, cells });
        Ok(self.table.rows.len() - 1)
    }

    /// Applies changes to row `index`.
    pub fn update(&mut self, index: usize, changes: Vec<AttributeChange>) -> Result<(), Error> {
        let mut cells = self.table.rows[index].cells.clone();
        for change in changes {
            let attribute = change.attribute();
            let column = self.column_for(&attribute.name)?;
            let multivalued = self.class.is_multivalued(&self.table.header[column]);
            let new_cell = match &change {
                AttributeChange::Replace(a) => self.encode(column, &a.name, &a.values)?,
                AttributeChange::AddValues(a) => {
                    let added = self.encode(column, &a.name, &a.values)?;
                    if multivalued {
                        let mut values = self.split(&cells[column]);
                        for v in self.split(&added) {
                            if !values.contains(&v) {
                                values.push(v);
                            }
                        }
                        values.join(&self.settings.separator.to_string())
                    } else if cells[column].is_empty() || cells[column] == added {
                        added
                    } else {
                        return Err(Error::invalid_attribute(
                            a.name.clone(),
                            "is single-valued and already has a value: use replace",
                        ));
                    }
                }
                AttributeChange::RemoveValues(a) => {
                    let removed = self.encode(column, &a.name, &a.values)?;
                    if multivalued {
                        let removed = self.split(&removed);
                        let values: Vec<String> = self
                            .split(&cells[column])
                            .into_iter()
                            .filter(|v| !removed.contains(v))
                            .collect();
                        values.join(&self.settings.separator.to_string())
                    } else if removed == cells[column] {
                        String::new()
                    } else {
                        cells[column].clone()
                    }
                }
            };
            if column == self.key && new_cell != cells[column] {
                return Err(Error::invalid_attribute(
                    attribute.name.clone(),
                    format!(
                        "the key column `{}` is the uid and cannot change",
                        self.table.header[self.key]
                    ),
                ));
            }
            cells[column] = new_cell;
        }
        if cells[self.name].is_empty() {
            return Err(Error::invalid_attribute(
                NAME,
                format!(
                    "the name column `{}` cannot be emptied",
                    self.table.header[self.name]
                ),
            ));
        }
        self.check_name_free(&cells[self.name], Some(index))?;
        self.table.rows[index].cells = cells;
        Ok(())
    }

    pub fn delete(&mut self, index: usize) {
        self.table.rows.remove(index);
    }

    pub fn save(&self) -> Result<(), Error> {
        self.table
            .write_atomic(&self.class.path(), self.settings.delimiter)
    }

    fn check_name_free(&self, name: &str, except: Option<usize>) -> Result<(), Error> {
        if self.name == self.key {
            return Ok(());
        }
        let clash = self
            .table
            .rows
            .iter()
            .enumerate()
            .find(|(i, r)| Some(*i) != except && r.cells[self.name] == name);
        match clash {
            Some((_, row)) => Err(Error::already_exists(format!(
                "a {} named {name:?} already exists ({} line {})",
                self.class.class, self.class.file, row.line
            ))),
            None => Ok(()),
        }
    }

    /// The column an attribute name maps to.
    fn column_for(&self, attribute: &str) -> Result<usize, Error> {
        if attribute.eq_ignore_ascii_case(NAME) {
            return Ok(self.name);
        }
        if attribute.eq_ignore_ascii_case(ENABLE) {
            return self.enable.ok_or_else(|| {
                Error::invalid_attribute(
                    ENABLE,
                    format!(
                        "{} has no enable column (set `{}.enable`)",
                        self.class.file, self.class.class
                    ),
                )
            });
        }
        if attribute.eq_ignore_ascii_case(PASSWORD) {
            return Err(Error::invalid_attribute(
                PASSWORD,
                "the CSV connector does not store passwords",
            ));
        }
        if Some(attribute) == self.enable.map(|i| self.table.header[i].as_str()) {
            return Err(Error::invalid_attribute(
                attribute,
                "set it through `__enable__`",
            ));
        }
        self.table.column(attribute).ok_or_else(|| {
            Error::invalid_attribute(
                attribute,
                format!(
                    "{} has no such column (columns: {})",
                    display_name(&self.class.path()),
                    self.table.header.join(", ")
                ),
            )
        })
    }

    /// The cell text for `values` in `column`.
    fn encode(&self, column: usize, attribute: &str, values: &[Value]) -> Result<String, Error> {
        let header = &self.table.header[column];
        let multivalued = self.class.is_multivalued(header);
        if !multivalued && values.len() > 1 {
            return Err(Error::invalid_attribute(
                attribute,
                format!("is single-valued but got {} values", values.len()),
            ));
        }
        let mut texts = Vec::with_capacity(values.len());
        for value in values {
            let text = match value {
                Value::Text(s) | Value::Reference(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Boolean(b) if Some(column) == self.enable || !multivalued => {
                    if *b {
                        self.settings.true_text.clone()
                    } else {
                        self.settings.false_text.clone()
                    }
                }
                Value::Boolean(b) => b.to_string(),
                Value::Binary(_) => {
                    return Err(Error::invalid_attribute(
                        attribute,
                        "binary values cannot be stored in a CSV file",
                    ));
                }
            };
            if Some(column) == self.enable
                && !matches!(value, Value::Boolean(_))
                && self.parse_flag(&text).is_none()
            {
                return Err(Error::invalid_attribute(
                    attribute,
                    format!("expected a boolean, got {text:?}"),
                ));
            }
            if multivalued && text.contains(self.settings.separator) {
                return Err(Error::invalid_attribute(
                    attribute,
                    format!(
                        "value {text:?} contains the multi-value separator {:?}",
                        self.settings.separator
                    ),
                ));
            }
            if multivalued && text.is_empty() {
                continue;
            }
            texts.push(text);
        }
        Ok(texts.join(&self.settings.separator.to_string()))
    }

    fn split(&self, cell: &str) -> Vec<String> {
        cell.split(self.settings.separator)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
