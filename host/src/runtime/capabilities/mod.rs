//! What the host lends a connector, one folder per capability. Each is
//! granted per target by the operator; a connector gets nothing else.
//!
//! | capability | WIT | granted by |
//! |---|---|---|
//! | [`log`] | `provisio:connector/log` (contract) | always |
//! | [`config`] | `provisio:connector/config` (contract) | always: the target's `config` and `secrets` |
//! | [`wasi`] | `wasi:*` 0.2 (std's imports) | always, with nothing in it |
//! | [`directory`] | a WASI preopen at `/data` | `grants.directory` |
//! | [`http`] | `wasi:http` | `grants.http` |
//! | [`sql`] | `provisio:sql` | `grants.sql.<database>` |
//! | [`ldap`] | `provisio:ldap` | `grants.ldap` |
//!
//! Each folder owns its configuration section and its checks, the grant a
//! target's instances share, the view one instance's calls see (a context
//! and the instance's resource table, as wasmtime-wasi's `WasiCtxView`),
//! an `add_to_linker` for every WIT version it serves and the import
//! prefix it satisfies. This file lists the set: adding a capability is a
//! new folder and its entry in [`GrantsConfig`], [`Grants`],
//! [`add_to_linker`] and [`Grants::ungranted_import`].

pub mod config;
pub mod directory;
pub mod http;
pub mod ldap;
pub mod log;
pub mod sql;
pub mod wasi;

use crate::runtime::recording::Tape;
use crate::setting::InvalidSetting;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Linker;

/// Grants a tape cannot take.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TapeRefused(String);

/// A target's `[grants]` section, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsConfig {
    /// A directory (relative to the config file), seen by the connector at /data.
    pub directory: Option<PathBuf>,
    #[serde(default)]
    pub read_only: bool,
    /// Databases the connector may open, by the name it opens them with.
    #[serde(default)]
    pub sql: sql::SqlConfig,
    /// Outgoing HTTP.
    #[serde(default)]
    pub http: Option<http::HttpGrantConfig>,
    /// LDAP directories.
    #[serde(default)]
    pub ldap: Option<ldap::LdapGrantConfig>,
}

impl GrantsConfig {
    /// Checks every grant without opening anything; keys are relative to
    /// the target (`grants.ldap.urls`).
    pub fn validate(&self, base: &Path) -> Result<(), InvalidSetting> {
        directory::DirectoryGrant::from_config(self.directory.as_deref(), self.read_only, base)
            .map_err(|e| e.under("grants"))?;
        if let Some(http) = &self.http {
            http.grant().map_err(|e| e.under("grants.http"))?;
        }
        if let Some(ldap) = &self.ldap {
            ldap.validate(base).map_err(|e| e.under("grants.ldap"))?;
        }
        self.sql.validate(base).map_err(|e| e.under("grants.sql"))
    }

    /// The grants of target `target`, with `config` (its settings and
    /// secrets). Pools connect lazily, so a target that is down does not
    /// stop this; it must run inside a tokio runtime when SQL is granted.
    /// `timeout` bounds each exchange with a granted service.
    pub fn grants(
        &self,
        target: &str,
        config: config::ConfigGrant,
        base: &Path,
        timeout: Duration,
    ) -> Result<Grants, InvalidSetting> {
        Ok(Grants {
            config,
            directory: directory::DirectoryGrant::from_config(
                self.directory.as_deref(),
                self.read_only,
                base,
            )
            .map_err(|e| e.under("grants"))?,
            http: self
                .http
                .as_ref()
                .map(|h| h.grant().map(Arc::new))
                .transpose()
                .map_err(|e| e.under("grants.http"))?,
            sql: self
                .sql
                .grant(base, timeout)
                .map_err(|e| e.under("grants.sql"))?,
            ldap: self
                .ldap
                .as_ref()
                .map(|l| l.grant(target, base, timeout))
                .transpose()
                .map_err(|e| e.under("grants.ldap"))?,
            tape: None,
        })
    }
}

/// What one target grants its connector, shared by all its instances.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub config: config::ConfigGrant,
    pub directory: Option<directory::DirectoryGrant>,
    /// Origins the connector may send HTTP requests to.
    pub http: Option<Arc<http::HttpGrant>>,
    /// Databases the connector may open by name.
    pub sql: Option<Arc<sql::SqlGrant>>,
    /// Directory URLs the connector may open, and the bind credentials.
    pub ldap: Option<Arc<ldap::LdapGrant>>,
    /// Where the connector's exchanges are recorded to or replayed from
    /// (`--record`, `--replay`); None for a target that serves.
    pub tape: Option<Arc<Tape>>,
}

impl Grants {
    /// These grants with every exchange going through `tape`. Grants are
    /// taped before anything shares them.
    pub fn taped(mut self, tape: Arc<Tape>) -> Result<Grants, TapeRefused> {
        if let Some(sql) = &mut self.sql {
            Arc::get_mut(sql)
                .ok_or_else(|| TapeRefused("the SQL grant is already shared".into()))?
                .set_tape(tape.clone());
        }
        if let Some(ldap) = &mut self.ldap {
            Arc::get_mut(ldap)
                .ok_or_else(|| TapeRefused("the LDAP grant is already shared".into()))?
                .set_tape(tape.clone());
        }
        self.tape = Some(tape);
        Ok(self)
    }

    /// Every secret these grants hold: the target's `secrets`, its
    /// databases' passwords, its directory bind password. The host keeps
    /// them out of what the connector says.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut values: Vec<&str> = self.config.secrets.values().map(|s| s.expose()).collect();
        if let Some(sql) = &self.sql {
            values.extend(sql.passwords().map(|s| s.expose()));
        }
        if let Some(password) = self.ldap.as_ref().and_then(|l| l.bind_password()) {
            values.push(password.expose());
        }
        values
    }

    /// The first of `imports` (a component's import names) that needs a
    /// capability these grants do not give. Imports of the contract and of
    /// WASI (without HTTP) are always satisfied.
    pub fn ungranted_import<'a>(&self, imports: &'a [String]) -> Option<&'a str> {
        let needs = [
            (http::IMPORT_PREFIX, self.http.is_some()),
            (sql::IMPORT_PREFIX, self.sql.is_some()),
            (ldap::IMPORT_PREFIX, self.ldap.is_some()),
        ];
        imports.iter().map(String::as_str).find(|import| {
            needs
                .iter()
                .any(|(prefix, granted)| import.starts_with(prefix) && !granted)
        })
    }
}

/// Whether some capability serves the interface `import` names (at some
/// version): WASI's packages, HTTP, SQL, LDAP.
pub fn provides(import: &str) -> bool {
    wasi::IMPORT_PREFIXES
        .iter()
        .chain([http::IMPORT_PREFIX, sql::IMPORT_PREFIX, ldap::IMPORT_PREFIX].iter())
        .any(|prefix| import.starts_with(prefix))
}

/// Links every capability. The contract's own imports (`log`, `config`)
/// are linked with the contract versions in `runtime/bindings`.
pub fn add_to_linker<T>(linker: &mut Linker<T>) -> wasmtime::Result<()>
where
    T: wasmtime_wasi::WasiView
        + wasmtime_wasi_http::WasiHttpView
        + sql::SqlView
        + ldap::LdapView
        + 'static,
{
    wasi::add_to_linker(linker)?;
    http::add_to_linker(linker)?;
    sql::add_to_linker(linker)?;
    ldap::add_to_linker(linker)
}
