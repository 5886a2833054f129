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

pub mod codes;
mod dn;
mod filter;
mod lookup;
mod mapping;
mod membership;
mod schema;

pub use dn::{escape_dn_value, parent_dn, rdn_value};
pub use filter::{escape_filter_bytes, escape_filter_value, ordered_attributes, scim_to_ldap};
pub use lookup::{BATCH, KeyMatch, Lookup};
pub use mapping::AttributeMap;
pub use membership::{ALREADY_MEMBER, GroupChanges, Membership, NOT_MEMBER};
pub use schema::{
    Definition, Subschema, parse as parse_definition, undefined_attribute, value_type,
};

use crate::bindings::provisio::ldap::client;
pub use client::{
    Attribute, Entry, Error as LdapError, LdapResult, Modification, ModifyKind, Page, Scope,
    SearchRequest, Security, SortKey,
};
// The host's directories; in a native build (a connector's unit tests),
// the fake's.
#[cfg(not(target_arch = "wasm32"))]
use crate::native::ldap::Connection as HostConnection;
#[cfg(target_arch = "wasm32")]
use client::Connection as HostConnection;

/// A connection to a granted directory, bound as the operator configured.
pub struct Connection(HostConnection);

impl Connection {
    /// Opens `url` (`ldap://host:port` or `ldaps://host:port`); `start_tls`
    /// upgrades an `ldap://` connection.
    pub fn open(url: &str, start_tls: bool) -> Result<Self, LdapError> {
        HostConnection::open(url, start_tls).map(Connection)
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
            Err(LdapError::Server(r)) if r.code == codes::NO_SUCH_OBJECT => Ok(None),
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
    (!cookie.is_empty()).then(|| hex::encode(cookie))
}

/// The paged-results cookie inside a connector page cookie; empty for the
/// first page.
pub fn decode_cookie(cookie: &Option<String>) -> Result<Vec<u8>, crate::Error> {
    let Some(text) = cookie else {
        return Ok(Vec::new());
    };
    hex::decode(text).map_err(|_| {
        crate::Error::invalid(format!(
            "page cookie {text:?} was not made by this connector"
        ))
    })
}

/// An attribute change as the attribute and the LDAP modification kind it
/// asks for.
pub fn change_parts(change: crate::AttributeChange) -> (crate::Attribute, ModifyKind) {
    match change {
        crate::AttributeChange::Replace(a) => (a, ModifyKind::Replace),
        crate::AttributeChange::AddValues(a) => (a, ModifyKind::Add),
        crate::AttributeChange::RemoveValues(a) => (a, ModifyKind::Delete),
    }
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
    codes::name(code)
}

impl From<LdapError> for crate::Error {
    fn from(e: LdapError) -> Self {
        let message = describe(&e);
        match e {
            LdapError::NotGranted(_) => crate::Error::permission_denied(message),
            LdapError::Unavailable(_) => crate::Error::unavailable(message),
            LdapError::Server(r) => {
                use codes::*;
                match r.code {
                    NO_SUCH_OBJECT => crate::Error::not_found(message),
                    ENTRY_ALREADY_EXISTS => crate::Error::already_exists(message),
                    STRONGER_AUTH_REQUIRED
                    | CONFIDENTIALITY_REQUIRED
                    | INAPPROPRIATE_AUTHENTICATION
                    | INVALID_CREDENTIALS
                    | INSUFFICIENT_ACCESS_RIGHTS => crate::Error::permission_denied(message),
                    NO_SUCH_ATTRIBUTE..=INVALID_ATTRIBUTE_SYNTAX
                    | INVALID_DN_SYNTAX
                    | UNWILLING_TO_PERFORM
                    | NAMING_VIOLATION..=NOT_ALLOWED_ON_RDN
                    | OBJECT_CLASS_MODS_PROHIBITED => crate::Error::invalid(message),
                    _ => crate::Error::failed(message),
                }
            }
            LdapError::Invalid(_) => crate::Error::invalid(message),
            LdapError::Failed(_) => crate::Error::failed(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cookies_round_trip_and_foreign_ones_are_refused() {
        let cookie = [0u8, 0x7f, 0xff, 0x10];
        let text = encode_cookie(&cookie).unwrap();
        assert_eq!(text, "007fff10");
        assert_eq!(decode_cookie(&Some(text)).unwrap(), cookie);
        assert_eq!(encode_cookie(&[]), None, "the last page has no cookie");
        assert!(decode_cookie(&None).unwrap().is_empty());
        assert!(decode_cookie(&Some("zz".into())).is_err());
        assert!(decode_cookie(&Some("abc".into())).is_err());
    }

    #[test]
    fn changes_name_their_modification() {
        let a = crate::Attribute::single("mail", "a@example.com");
        let (attribute, kind) = change_parts(crate::AttributeChange::RemoveValues(a.clone()));
        assert_eq!((attribute, kind), (a, ModifyKind::Delete));
    }

    #[test]
    fn server_refusals_map_to_the_error_the_host_acts_on() {
        let server = |code| {
            crate::Error::from(LdapError::Server(LdapResult {
                code,
                matched_dn: String::new(),
                message: "m".into(),
            }))
        };
        assert!(matches!(
            server(codes::NO_SUCH_OBJECT),
            crate::Error::NotFound(_)
        ));
        assert!(matches!(
            server(codes::ENTRY_ALREADY_EXISTS),
            crate::Error::AlreadyExists(_)
        ));
        assert!(matches!(
            server(codes::INSUFFICIENT_ACCESS_RIGHTS),
            crate::Error::PermissionDenied(_)
        ));
        assert!(matches!(
            server(codes::OBJECT_CLASS_VIOLATION),
            crate::Error::Invalid(_)
        ));
        assert!(matches!(
            server(codes::OPERATIONS_ERROR),
            crate::Error::Failed(_)
        ));
        assert!(matches!(
            crate::Error::from(LdapError::Unavailable("down".into())),
            crate::Error::Unavailable(_)
        ));
    }
}
