//! # The CSV connector
//!
//! Accounts and groups kept in CSV files, in a directory the operator
//! grants to the target (the connector sees that directory, and nothing
//! else, at `/data`). Each object class is one file: one row per object,
//! the key column is its uid, multi-valued cells are joined with a
//! separator. See [`settings`] for the configuration keys.
//!
//! Writes are atomic (temporary file, sync, rename) and serialised by a
//! lock file, so a crash never leaves a half-written file and concurrent
//! writers never lose each other's changes. Quoting, embedded newlines and
//! UTF-8 round-trip; a malformed file is refused with its line number.

mod class_file;
mod last_read;
pub mod settings;
mod sync;
mod table;

use class_file::ClassFile;
use last_read::LastRead;
use provisio_sdk::{
    Attribute, AttributeChange, AttributeInfo, Capabilities, ClassInfo, Config, Connector,
    ConnectorInfo, ConnectorObject, Error, Filter, ObjectSchema, Page, Query, SyncBatch,
    SyncRequest, ValueType, export_connector, filter,
};
use settings::Settings;
use table::FileLock;

pub struct CsvConnector {
    settings: Settings,
    last_read: LastRead,
}

impl CsvConnector {
    /// Runs `change` on the class's file under its lock and saves the result.
    fn write<R>(
        &self,
        class: &str,
        change: impl FnOnce(&mut ClassFile<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let class = self.settings.class(class)?;
        let _lock = FileLock::acquire(&class.path(), self.settings.host_run.as_ref())?;
        let mut file = ClassFile::load(&self.settings, class)?;
        let result = change(&mut file)?;
        file.save()?;
        Ok(result)
    }
}

impl Connector for CsvConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo::new(
            "csv",
            env!("CARGO_PKG_VERSION"),
            "Accounts and groups in CSV files",
            Capabilities::all(),
        )
    }

    fn open(config: &Config) -> Result<Self, Error> {
        Ok(CsvConnector {
            settings: Settings::from_config(config)?,
            last_read: LastRead::default(),
        })
    }

    fn test(&mut self) -> Result<(), Error> {
        for class in &self.settings.classes {
            ClassFile::load(&self.settings, class)?;
        }
        Ok(())
    }

    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        let mut classes = Vec::new();
        for class in &self.settings.classes {
            let file = ClassFile::load(&self.settings, class)?;
            let mut attributes = Vec::new();
            for column in &file.table.header {
                if class
                    .enable
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(column))
                {
                    attributes.push(AttributeInfo::new(class_file::ENABLE, ValueType::Boolean));
                    continue;
                }
                let value_type = if class.is_reference(column) {
                    ValueType::Reference
                } else {
                    ValueType::Text
                };
                let mut info = AttributeInfo::new(column.clone(), value_type);
                if class.is_multivalued(column) {
                    info = info.multi_valued();
                }
                if column.eq_ignore_ascii_case(&class.key) {
                    info = info.required();
                    info.updatable = false;
                } else if column.eq_ignore_ascii_case(&class.name) {
                    info = info.required();
                }
                attributes.push(info);
            }
            let mut info = ClassInfo::new(class.class.clone(), attributes);
            info.description = Some(format!("rows of {}", class.file));
            classes.push(info);
        }
        Ok(ObjectSchema { classes })
    }

    fn create(
        &mut self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        self.write(class, |file| {
            let index = file.create(attributes)?;
            file.object(&file.table.rows[index], &[])
        })
    }

    fn get(
        &mut self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let class = self.settings.class(class)?;
        self.last_read.with(&self.settings, class, |read| {
            let index = read.find(uid).ok_or_else(|| read.file.not_found(uid))?;
            read.file.object(&read.file.table.rows[index], attributes)
        })
    }

    fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        self.write(class, |file| {
            let index = file.find_or_not_found(uid)?;
            file.update(index, changes)?;
            file.object(&file.table.rows[index], &[])
        })
    }

    fn delete(&mut self, class: &str, uid: &str) -> Result<(), Error> {
        self.write(class, |file| {
            let index = file.find_or_not_found(uid)?;
            file.delete(index);
            Ok(())
        })
    }

    /// Keyset paging: objects in key order, the cookie is the last key
    /// returned, so pages stay right while rows are added or removed.
    /// Only the page's rows become objects (and, with a filter, each row
    /// after the cookie is tested and dropped): a page costs one read of
    /// the file, not an object for every row after it.
    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let class = self.settings.class(&query.class)?;
        self.last_read
            .with(&self.settings, class, |read| page(read, query))
    }

    fn count(&mut self, class: &str, filter: Option<&Filter>) -> Result<u64, Error> {
        let class = self.settings.class(class)?;
        self.last_read.with(&self.settings, class, |read| {
            let rows = &read.file.table.rows;
            let Some(filter) = filter else {
                return Ok(rows.len() as u64);
            };
            let mut count = 0;
            for row in rows {
                if filter::matches(filter, &read.file.object(row, &[])?) {
                    count += 1;
                }
            }
            Ok(count)
        })
    }

    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let class = self.settings.class(&request.class)?;
        sync::sync(
            &self.settings,
            class,
            request.token.as_deref(),
            request.max_deltas,
        )
    }

    fn latest_sync_token(&mut self, class: &str) -> Result<String, Error> {
        let class = self.settings.class(class)?;
        sync::latest_token(&self.settings, class)
    }
}

/// Keyset paging: objects in key order, the cookie is the last key
/// returned, so pages stay right while rows are added or removed. Only the
/// page's rows become objects (with a filter, each row after the cookie is
/// tested and dropped).
fn page(read: last_read::Read<'_, '_>, query: Query) -> Result<Page, Error> {
    let file = read.file;
    let start = query
        .page
        .cookie
        .as_deref()
        .map_or(0, |after| read.after(after));
    let size = query.page.size as usize;
    let mut matching = Vec::with_capacity(size.min(read.order.len() - start));
    let mut remaining = 0usize;
    for &index in &read.order[start..] {
        if matching.len() >= size && query.filter.is_none() {
            remaining += 1;
            continue;
        }
        let object = file.object(&file.table.rows[index], &[])?;
        if query
            .filter
            .as_ref()
            .is_some_and(|f| !filter::matches(f, &object))
        {
            continue;
        }
        match matching.len() < size {
            true => matching.push(object),
            false => remaining += 1,
        }
    }
    if !query.attributes.is_empty() {
        for object in &mut matching {
            object
                .attributes
                .retain(|a| query.attributes.iter().any(|w| a.is(w)));
        }
    }
    let cookie = (remaining > 0)
        .then(|| matching.last().map(|o| o.uid.clone()))
        .flatten();
    Ok(Page {
        objects: matching,
        cookie,
        remaining: Some(remaining as u64),
    })
}

export_connector!(CsvConnector);
