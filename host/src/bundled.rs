//! Connectors shipped inside the `provisio` binary, built from `plugins/`
//! by `build.rs`, with their sha256 computed at build time. Refer to one as
//! `bundled:<name>` wherever a connector file is expected.

use crate::runtime::{LoadError, LoadedComponent, Runtime};
use std::sync::Arc;

/// A connector compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    pub name: &'static str,
    pub bytes: &'static [u8],
    /// The sha256 of `bytes`, in hex.
    pub sha256: &'static str,
}

impl Bundled {
    /// Loads it without hashing it again.
    pub fn load(&self, runtime: &Runtime) -> Result<Arc<LoadedComponent>, LoadError> {
        runtime.load_hashed(self.bytes, self.sha256)
    }
}

/// The CSV connector (`plugins/csv`).
pub const CSV: Bundled = Bundled {
    name: "csv",
    bytes: include_bytes!(env!("PROVISIO_BUNDLED_CSV")),
    sha256: env!("PROVISIO_BUNDLED_CSV_SHA256"),
};

/// The SQL connector (`plugins/sql`): tables in PostgreSQL or SQLite.
pub const SQL: Bundled = Bundled {
    name: "sql",
    bytes: include_bytes!(env!("PROVISIO_BUNDLED_SQL")),
    sha256: env!("PROVISIO_BUNDLED_SQL_SHA256"),
};

/// The SCIM 2.0 connector (`plugins/scim`).
pub const SCIM: Bundled = Bundled {
    name: "scim",
    bytes: include_bytes!(env!("PROVISIO_BUNDLED_SCIM")),
    sha256: env!("PROVISIO_BUNDLED_SCIM_SHA256"),
};

/// The LDAP connector (`plugins/ldap`): OpenLDAP and RFC 4511 directories.
pub const LDAP: Bundled = Bundled {
    name: "ldap",
    bytes: include_bytes!(env!("PROVISIO_BUNDLED_LDAP")),
    sha256: env!("PROVISIO_BUNDLED_LDAP_SHA256"),
};

/// The Active Directory connector (`plugins/ad`): AD and Samba AD DCs.
pub const AD: Bundled = Bundled {
    name: "ad",
    bytes: include_bytes!(env!("PROVISIO_BUNDLED_AD")),
    sha256: env!("PROVISIO_BUNDLED_AD_SHA256"),
};

/// Every bundled connector.
pub const ALL: &[Bundled] = &[CSV, SQL, SCIM, LDAP, AD];

/// The prefix that names a bundled connector instead of a file.
pub const PREFIX: &str = "bundled:";

/// The bundled connector `name`.
pub fn get(name: &str) -> Option<&'static Bundled> {
    ALL.iter().find(|b| b.name == name)
}

/// The names of the bundled connectors.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|b| b.name).collect()
}
