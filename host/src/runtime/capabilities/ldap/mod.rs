//! `provisio:ldap/client`: the directories an operator grants a target,
//! reached through connections the host owns (`ldap3` on tokio). The
//! connector names a URL the operator granted; the host binds with the
//! granted credentials, which the connector never sees. Connections are
//! shared by the target's instances and re-opened when they fail; a
//! directory that is down is `unavailable`, which the engine retries.
//!
//! Configured by `[targets.<name>.grants.ldap]` ([`LdapGrantConfig`]);
//! served as `provisio:ldap@0.1.0` ([`v0_1_0`]).

mod calls;
mod config;
mod error;
mod grant;
mod recorded;
mod url;
mod v0_1_0;
mod wire;

pub use calls::{
    ConnectionHandle, Modification, ModifyKind, ScopeKind, SearchPage, SearchSpec, Security,
};
pub use config::LdapGrantConfig;
pub use error::{LdapError, code_name};
pub use grant::{BindCredentials, LdapGrant, LdapSpec};
pub use url::normalise_url;
pub use wire::RawEntry;

use std::sync::Arc;
use wasmtime::component::{Linker, ResourceTable};

/// Imports of the LDAP capability start with this, whatever their version.
pub const IMPORT_PREFIX: &str = "provisio:ldap/";

/// What one instance's LDAP calls see: the target's grant, if it has one,
/// and the instance's resource table, which holds its connection handles.
pub struct LdapCtxView<'a> {
    pub grant: Option<&'a Arc<LdapGrant>>,
    pub table: &'a mut ResourceTable,
    /// What the call in progress may still make the host hold.
    pub budget: &'a mut crate::runtime::HostBudget,
}

/// State that can lend the LDAP capability.
pub trait LdapView: Send {
    fn ldap(&mut self) -> LdapCtxView<'_>;
}

impl LdapCtxView<'_> {
    fn granted(&self) -> Result<Arc<LdapGrant>, LdapError> {
        self.grant
            .cloned()
            .ok_or_else(|| LdapError::NotGranted("no directory is granted to this target".into()))
    }
}

/// Links every version of the capability the host serves.
pub fn add_to_linker<T: LdapView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v0_1_0::add_to_linker(linker)
}
