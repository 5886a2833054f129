//! What an LDAP call names: the connection it goes over and what it asks
//! (a search, a change), as the grant performs them and a recording stores
//! them.

use super::wire::RawEntry;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    Plain,
    StartTls,
    Ldaps,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ConnectionKey {
    /// Normalised: scheme, host and port.
    pub(super) url: String,
    pub(super) security: Security,
}

/// The host side of a connector's `connection` handle.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    pub(super) key: ConnectionKey,
}

impl ConnectionHandle {
    #[cfg(test)]
    pub(crate) fn for_tests(url: &str) -> Self {
        ConnectionHandle {
            key: ConnectionKey {
                url: url.to_owned(),
                security: Security::Plain,
            },
        }
    }

    pub fn security(&self) -> Security {
        self.key.security
    }

    pub fn url(&self) -> &str {
        &self.key.url
    }
}

pub enum ScopeKind {
    Base,
    OneLevel,
    Subtree,
}

pub struct SearchSpec {
    pub base: String,
    pub scope: ScopeKind,
    pub filter: String,
    pub attributes: Vec<String>,
    pub page_size: u32,
    /// (attribute, reverse)
    pub sort: Vec<(String, bool)>,
    pub show_deleted: bool,
}

pub struct SearchPage {
    pub entries: Vec<RawEntry>,
    pub cookie: Vec<u8>,
}

pub enum ModifyKind {
    Add,
    Delete,
    Replace,
}

pub struct Modification {
    pub kind: ModifyKind,
    pub attribute: String,
    pub values: Vec<Vec<u8>>,
}
