//! The class file reads last parsed, kept while the file's bytes stay the
//! same: paging through a file of 100,000 rows parses and checks it once,
//! not once a page, and finds a key by binary search. The bytes are
//! compared whole, so any change to the file (even one that keeps its size
//! and modification time) is read afresh; writes never use this, they
//! read the file again under its lock.

use crate::class_file::ClassFile;
use crate::settings::{ClassSettings, Settings};
use crate::table::{Table, display_name, io_error};
use provisio_sdk::Error;
use std::fs;
use std::io;

struct Parsed {
    class: String,
    bytes: Vec<u8>,
    table: Table,
    /// Row indices in key order.
    order: Vec<usize>,
}

/// A class file as read, with its rows in key order.
pub struct Read<'f, 'a> {
    pub file: &'f ClassFile<'a>,
    /// Row indices in key order.
    pub order: &'f [usize],
}

impl Read<'_, '_> {
    /// The position in `order` of the first key after `after`.
    pub fn after(&self, after: &str) -> usize {
        self.order
            .partition_point(|&i| self.file.key_of(&self.file.table.rows[i]) <= after)
    }

    /// The row holding `uid`.
    pub fn find(&self, uid: &str) -> Option<usize> {
        self.order
            .binary_search_by(|&i| self.file.key_of(&self.file.table.rows[i]).cmp(uid))
            .ok()
            .map(|at| self.order[at])
    }
}

/// The one class file kept (the last one read).
#[derive(Default)]
pub struct LastRead(Option<Parsed>);

impl LastRead {
    /// Runs `read` over the class's file as it is now.
    pub fn with<R>(
        &mut self,
        settings: &Settings,
        class: &ClassSettings,
        read: impl FnOnce(Read<'_, '_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let path = class.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.0 = None;
                let file = ClassFile::load(settings, class)?;
                let order = key_order(&file);
                return read(Read {
                    file: &file,
                    order: &order,
                });
            }
            Err(e) => return Err(io_error(&path, "read", &e)),
        };
        let (file, order) = match self.0.take() {
            Some(kept) if kept.class == class.class && kept.bytes == bytes => {
                (ClassFile::columns(settings, class, kept.table)?, kept.order)
            }
            _ => {
                let table = Table::parse(&bytes, display_name(&path), settings.delimiter)?;
                let file = ClassFile::check(settings, class, table)?;
                let order = key_order(&file);
                (file, order)
            }
        };
        let result = read(Read {
            file: &file,
            order: &order,
        });
        self.0 = Some(Parsed {
            class: class.class.clone(),
            bytes,
            table: file.table,
            order,
        });
        result
    }
}

fn key_order(file: &ClassFile<'_>) -> Vec<usize> {
    let rows = &file.table.rows;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| file.key_of(&rows[a]).cmp(file.key_of(&rows[b])));
    order
}
