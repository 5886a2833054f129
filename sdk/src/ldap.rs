//! LDAP directories the operator granted the target (`provisio:ldap`).
//!
//! The host owns the connections and binds with credentials the connector
//! never sees; a connector opens a URL the operator granted. Values are
//! bytes, so binary attributes (objectGUID, jpegPhoto, unicodePwd) travel
//! untouched; [`Entry::text`] reads a text one.
//!
//! ```no_run
//! use provisio_sdk::ldap::{self, Connection, Scope, SearchRequest};
//!
//! # fn demo() -> Result<(), provisio_sdk::Error> {
//! let conn = Connection::open("ldaps://127.0.0.1:636", false)?;
//! let filter = format!("(uid={})", ldap::escape_filter_value("o'brien*"));
//! let request = SearchRequest::new("ou=people,dc=example,dc=com", Scope::Subtree, &filter)
//!     .attributes(&["cn", "mail"])
//!     .page_size(500);
//! for page in conn.pages(request) {
//!     for entry in page? {
//!         let cn = entry.text("cn");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Errors convert into the connector [`Error`](crate::Error): a directory
//! that is down or busy becomes `unavailable` (retried by the host),
//! noSuchObject `not-found`, entryAlreadyExists `already-exists`, schema
//! and constraint refusals `invalid` with the server's message quoted.

mod dn;
mod filter;

pub use dn::{escape_dn_value, parent_dn, rdn_value};
pub use filter::{escape_filter_bytes, escape_filter_value, scim_to_ldap};

use crate::bindings::provisio::ldap::client;
pub use client::{
    Attribute, Entry, Error as LdapError, LdapResult, Modification, ModifyKind, Page, Scope,
    SearchRequest, Security, SortKey,
};

/// A connection to a granted directory, bound as the operator configured.
pub struct Connection(client::Connection);

impl Connection {
    /// Opens `url` (`ldap://host:port` or `ldaps://host:port`); `start_tls`
    /// upgrades an `ldap://` connection.
    pub fn open(url: &str, start_tls: bool) -> Result<Self, LdapError> {
        client::Connection::open(url, start_tls).map(Connection)
    }

    pub fn security(&self) -> Security {
        self.0.security()
    }

    /// Whether the connection is encrypted (LDAPS or StartTLS).
    pub fn is_encrypted(&self) -> bool {
        self.security() != Security::Plain
    }

    pub fn root_dse(&self) -> Result<Entry, LdapError> {
        self.0.root_dse()
    }

    /// One page of a search; an empty `cookie` starts it.
    pub fn search_page(&self, request: &SearchRequest, cookie: &[u8]) -> Result<Page, LdapError> {
        self.0.search(request, cookie)
    }

    /// Every page of a search, one at a time (memory stays at one page).
    pub fn pages(&self, request: SearchRequest) -> Pages<'_> {
        Pages {
            conn: self,
            request,
            cookie: Vec::new(),
            done: false,
        }
    }

    /// The one entry at `dn` with `attributes`, or None.
    pub fn read(&self, dn: &str, attributes: &[&str]) -> Result<Option<Entry>, LdapError> {
        let request = SearchRequest::new(dn, Scope::Base, "(objectClass=*)").attributes(attributes);
        match self.search_page(&request, &[]) {
            Ok(page) => Ok(page.entries.into_iter().next()),
            Err(LdapError::Server(r)) if r.code == 32 => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn add(&self, dn: &str, attributes: &[Attribute]) -> Result<(), LdapError> {
        self.0.add(dn, attributes, &[]).map(drop)
    }

    /// Adds an entry and returns it as written with `read_back`
    /// attributes, in one exchange when the server offers the post-read
    /// control (RFC 4527), else by reading it after the add.
    pub fn add_and_read(
        &self,
        dn: &str,
        attributes: &[Attribute],
        read_back: &[&str],
    ) -> Result<Option<Entry>, LdapError> {
        let read_back: Vec<String> = read_back.iter().map(|a| (*a).to_owned()).collect();
        match self.0.add(dn, attributes, &read_back)? {
            Some(entry) => Ok(Some(entry)),
            None => self.read(
                dn,
                &read_back.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        }
    }

    pub fn modify(&self, dn: &str, changes: &[Modification]) -> Result<(), LdapError> {
        self.0.modify(dn, changes, &[]).map(drop)
    }

    /// Modifies an entry and returns it as written; see
    /// [`add_and_read`](Self::add_and_read).
    pub fn modify_and_read(
        &self,
        dn: &str,
        changes: &[Modification],
        read_back: &[&str],
    ) -> Result<Option<Entry>, LdapError> {
        let read_back: Vec<String> = read_back.iter().map(|a| (*a).to_owned()).collect();
        match self.0.modify(dn, changes, &read_back)? {
            Some(entry) => Ok(Some(entry)),
            None => self.read(
                dn,
                &read_back.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        }
    }

    /// Renames (`new_rdn`) and/or moves (`new_superior`) an entry.
    pub fn modify_dn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<(), LdapError> {
        self.0.modify_dn(dn, new_rdn, delete_old_rdn, new_superior)
    }

    pub fn delete(&self, dn: &str) -> Result<(), LdapError> {
        self.0.delete(dn)
    }

    pub fn compare(&self, dn: &str, attribute: &str, value: &[u8]) -> Result<bool, LdapError> {
        self.0.compare(dn, attribute, value)
    }

    /// Whether `dn` can bind with `password` (on a connection of its own).
    pub fn check_password(&self, dn: &str, password: &str) -> Result<bool, LdapError> {
        self.0.check_password(dn, password)
    }
}

/// The pages of a search, fetched as they are read.
pub struct Pages<'a> {
    conn: &'a Connection,
    request: SearchRequest,
    cookie: Vec<u8>,
    done: bool,
}

impl Iterator for Pages<'_> {
    type Item = Result<Vec<Entry>, LdapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.conn.search_page(&self.request, &self.cookie) {
            Ok(page) => {
                self.done = page.cookie.is_empty();
                self.cookie = page.cookie;
                Some(Ok(page.entries))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl SearchRequest {
    /// All user attributes, no paging, no sort.
    pub fn new(base: &str, scope: Scope, filter: &str) -> Self {
        SearchRequest {
            base: base.to_owned(),
            scope,
            filter: filter.to_owned(),
            attributes: Vec::new(),
            page_size: 0,
            sort: Vec::new(),
            show_deleted: false,
        }
    }

    /// Includes deleted objects (Active Directory tombstones).
    pub fn show_deleted(mut self) -> Self {
        self.show_deleted = true;
        self
    }

    pub fn attributes(mut self, attributes: &[&str]) -> Self {
        self.attributes = attributes.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Asks the server to sort by `attribute` (ignored by servers without
    /// server-side sort).
    pub fn sort_by(mut self, attribute: &str, reverse: bool) -> Self {
        self.sort.push(SortKey {
            attribute: attribute.to_owned(),
            reverse,
        });
        self
    }
}

impl Entry {
    /// The values of `name` (matched case-insensitively).
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map_or(&[], |a| a.values.as_slice())
    }

    /// The first value of `name` as text, when it is UTF-8.
    pub fn text(&self, name: &str) -> Option<String> {
        self.values(name)
            .first()
            .and_then(|v| String::from_utf8(v.clone()).ok())
    }

    /// Every UTF-8 value of `name`.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.values(name)
            .iter()
            .filter_map(|v| String::from_utf8(v.clone()).ok())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }
}

impl Attribute {
    pub fn text(name: &str, values: &[&str]) -> Self {
        Attribute {
            name: name.to_owned(),
            values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        }
    }
}

impl Modification {
    pub fn replace(attribute: &str, values: Vec<Vec<u8>>) -> Self {
        Modification {
            kind: ModifyKind::Replace,
            attribute: attribute.to_owned(),
            values,
        }
    }

    pub fn add(attribute: &str, values: Vec<Vec<u8>>) -> Self {
        Modification {
            kind: ModifyKind::Add,
            attribute: attribute.to_owned(),
            values,
        }
    }

    /// Removes `values`, or the whole attribute when `values` is empty.
    pub fn delete(attribute: &str, values: Vec<Vec<u8>>) -> Self {
        Modification {
            kind: ModifyKind::Delete,
            attribute: attribute.to_owned(),
            values,
        }
    }
}

/// The bytes a directory stores for a value: text as UTF-8, integers in
/// decimal, booleans as `TRUE`/`FALSE` (RFC 4517 Boolean), binary as is.
pub fn value_bytes(value: &crate::Value) -> Vec<u8> {
    use crate::Value;
    match value {
        Value::Text(s) | Value::Reference(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Boolean(true) => b"TRUE".to_vec(),
        Value::Boolean(false) => b"FALSE".to_vec(),
        Value::Binary(b) => b.clone(),
    }
}

/// A value read from a directory: text when it is UTF-8, else binary.
pub fn value_from_bytes(bytes: &[u8]) -> crate::Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => crate::Value::Text(text.to_owned()),
        Err(_) => crate::Value::Binary(bytes.to_vec()),
    }
}

/// A paged-results cookie as a connector page cookie (hex); None after
/// the last page.
pub fn encode_cookie(cookie: &[u8]) -> Option<String> {
    (!cookie.is_empty()).then(|| cookie.iter().map(|b| format!("{b:02x}")).collect())
}

/// The paged-results cookie inside a connector page cookie; empty for the
/// first page.
pub fn decode_cookie(cookie: &Option<String>) -> Result<Vec<u8>, crate::Error> {
    let Some(text) = cookie else {
        return Ok(Vec::new());
    };
    let refused = || {
        crate::Error::invalid(format!(
            "page cookie {text:?} was not made by this connector"
        ))
    };
    if !text.len().is_multiple_of(2) {
        return Err(refused());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(refused)
        })
        .collect()
}

/// The error as one sentence, quoting the server.
pub fn describe(e: &LdapError) -> String {
    match e {
        LdapError::NotGranted(m) => format!("not granted: {m}"),
        LdapError::Unavailable(m) => format!("directory unavailable: {m}"),
        LdapError::Server(r) if r.message.is_empty() => {
            format!(
                "the directory refused: {} ({})",
                result_name(r.code),
                r.code
            )
        }
        LdapError::Server(r) => format!(
            "the directory refused: {} ({}): {}",
            result_name(r.code),
            r.code,
            r.message
        ),
        LdapError::Invalid(m) => format!("invalid LDAP request: {m}"),
        LdapError::Failed(m) => format!("directory error: {m}"),
    }
}

/// The RFC 4511 name of a result code.
pub fn result_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        4 => "sizeLimitExceeded",
        8 => "strongerAuthRequired",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        _ => "other",
    }
}

impl From<LdapError> for crate::Error {
    fn from(e: LdapError) -> Self {
        let message = describe(&e);
        match e {
            LdapError::NotGranted(_) => crate::Error::permission_denied(message),
            LdapError::Unavailable(_) => crate::Error::unavailable(message),
            LdapError::Server(r) => match r.code {
                32 => crate::Error::not_found(message),
                68 => crate::Error::already_exists(message),
                8 | 13 | 48 | 49 | 50 => crate::Error::permission_denied(message),
                16..=21 | 34 | 53 | 64..=67 | 69 => crate::Error::invalid(message),
                _ => crate::Error::failed(message),
            },
            LdapError::Invalid(_) => crate::Error::invalid(message),
            LdapError::Failed(_) => crate::Error::failed(message),
        }
    }
}
