//! `provisio:sql/client`: the databases an operator grants a target,
//! reached through connection pools the host owns. The connector names a
//! database; it never sees its URL or credentials, and it cannot reach a
//! database it was not granted.
//!
//! Configured by `[targets.<name>.grants.sql.<database>]`
//! ([`SqlDatabaseConfig`]); served as `provisio:sql@0.1.1` ([`v0_1_1`]),
//! which also satisfies connectors built against 0.1.0.

mod config;
mod convert;
mod error;
mod grant;
mod recorded;
mod rows;
mod sqlite_guard;
mod v0_1_1;

pub use config::{SqlConfig, SqlDatabaseConfig};
pub use error::{ConstraintKind, SqlError};
pub use grant::{
    ALIVE_WITHOUT_PING, CursorHandle, DatabaseHandle, DatabaseSpec, Dialect, SqlGrant,
    TransactionHandle, ping_if_idle,
};
pub use rows::{Column, RowShape, Rows, SqlValue};

use std::sync::Arc;
use wasmtime::component::{Linker, ResourceTable};

/// Imports of the SQL capability start with this, whatever their version.
pub const IMPORT_PREFIX: &str = "provisio:sql/";

/// What one instance's SQL calls see: the target's grant, if it has one,
/// and the instance's resource table, which holds its handles.
pub struct SqlCtxView<'a> {
    pub grant: Option<&'a Arc<SqlGrant>>,
    pub table: &'a mut ResourceTable,
    /// What the call in progress may still make the host hold.
    pub budget: &'a mut crate::runtime::HostBudget,
}

/// State that can lend the SQL capability.
pub trait SqlView: Send {
    fn sql(&mut self) -> SqlCtxView<'_>;
}

impl SqlCtxView<'_> {
    fn granted(&self) -> Result<Arc<SqlGrant>, SqlError> {
        self.grant
            .cloned()
            .ok_or_else(|| SqlError::NotGranted("no database is granted to this target".into()))
    }
}

/// Links every version of the capability the host serves.
pub fn add_to_linker<T: SqlView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v0_1_1::add_to_linker(linker)
}
