//! LDAP calls as a recording stores them: requests as JSON (passwords
//! redacted) and answers in a shape that reads back.

use super::calls::{ConnectionHandle, Modification, ModifyKind, ScopeKind, SearchPage, SearchSpec};
use super::wire::RawEntry;
use crate::runtime::recording::{Octets, REDACTED};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Attributes whose values are passwords: never on a tape.
const PASSWORD_ATTRIBUTES: &[&str] = &["userpassword", "unicodepwd"];

fn values(attribute: &str, values: &[Vec<u8>]) -> Vec<Octets> {
    if PASSWORD_ATTRIBUTES.contains(&attribute.to_ascii_lowercase().as_str()) {
        return values
            .iter()
            .map(|_| Octets::Text(REDACTED.to_owned()))
            .collect();
    }
    values.iter().map(|v| Octets::of(v)).collect()
}

#[derive(Serialize, Deserialize)]
pub struct Attribute {
    name: String,
    values: Vec<Octets>,
}

#[derive(Serialize, Deserialize)]
pub struct Entry {
    dn: String,
    attributes: Vec<Attribute>,
}

impl From<RawEntry> for Entry {
    fn from(entry: RawEntry) -> Self {
        Entry {
            dn: entry.dn,
            attributes: entry
                .attributes
                .into_iter()
                .map(|(name, vs)| Attribute {
                    values: values(&name, &vs),
                    name,
                })
                .collect(),
        }
    }
}

impl From<Entry> for RawEntry {
    fn from(entry: Entry) -> Self {
        RawEntry {
            dn: entry.dn,
            attributes: entry
                .attributes
                .into_iter()
                .map(|a| {
                    (
                        a.name,
                        a.values.into_iter().map(Octets::into_bytes).collect(),
                    )
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct Page {
    entries: Vec<Entry>,
    cookie: Octets,
}

impl From<SearchPage> for Page {
    fn from(page: SearchPage) -> Self {
        Page {
            entries: page.entries.into_iter().map(Entry::from).collect(),
            cookie: Octets::of(&page.cookie),
        }
    }
}

impl From<Page> for SearchPage {
    fn from(page: Page) -> Self {
        SearchPage {
            entries: page.entries.into_iter().map(RawEntry::from).collect(),
            cookie: page.cookie.into_bytes(),
        }
    }
}

fn connection(handle: &ConnectionHandle) -> Value {
    json!({"url": handle.url(), "security": format!("{:?}", handle.security())})
}

pub fn open(handle: &ConnectionHandle) -> Value {
    connection(handle)
}

pub fn search(handle: &ConnectionHandle, spec: &SearchSpec, cookie: &[u8]) -> Value {
    json!({
        "connection": connection(handle),
        "base": spec.base,
        "scope": match spec.scope {
            ScopeKind::Base => "base",
            ScopeKind::OneLevel => "one-level",
            ScopeKind::Subtree => "subtree",
        },
        "filter": spec.filter,
        "attributes": spec.attributes,
        "page_size": spec.page_size,
        "sort": spec.sort,
        "show_deleted": spec.show_deleted,
        "cookie": Octets::of(cookie),
    })
}

pub fn add(
    handle: &ConnectionHandle,
    dn: &str,
    attributes: &[(String, Vec<Vec<u8>>)],
    read_back: &[String],
) -> Value {
    let attributes: Vec<Value> = attributes
        .iter()
        .map(|(name, vs)| json!({"name": name, "values": values(name, vs)}))
        .collect();
    json!({"connection": connection(handle), "dn": dn, "attributes": attributes, "read_back": read_back})
}

pub fn modify(
    handle: &ConnectionHandle,
    dn: &str,
    changes: &[Modification],
    read_back: &[String],
) -> Value {
    let changes: Vec<Value> = changes
        .iter()
        .map(|m| {
            json!({
                "kind": match m.kind {
                    ModifyKind::Add => "add",
                    ModifyKind::Delete => "delete",
                    ModifyKind::Replace => "replace",
                },
                "attribute": m.attribute,
                "values": values(&m.attribute, &m.values),
            })
        })
        .collect();
    json!({"connection": connection(handle), "dn": dn, "changes": changes, "read_back": read_back})
}

pub fn modify_dn(
    handle: &ConnectionHandle,
    dn: &str,
    new_rdn: &str,
    delete_old_rdn: bool,
    new_superior: Option<&str>,
) -> Value {
    json!({
        "connection": connection(handle),
        "dn": dn,
        "new_rdn": new_rdn,
        "delete_old_rdn": delete_old_rdn,
        "new_superior": new_superior,
    })
}

pub fn delete(handle: &ConnectionHandle, dn: &str) -> Value {
    json!({"connection": connection(handle), "dn": dn})
}

pub fn compare(handle: &ConnectionHandle, dn: &str, attribute: &str, value: &[u8]) -> Value {
    json!({
        "connection": connection(handle),
        "dn": dn,
        "attribute": attribute,
        "value": values(attribute, std::slice::from_ref(&value.to_vec())),
    })
}

/// The password is never stored: a replay answers every check of `dn` in
/// the order they were recorded.
pub fn check_password(handle: &ConnectionHandle, dn: &str) -> Value {
    json!({"connection": connection(handle), "dn": dn, "password": REDACTED})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_values_never_reach_the_request() {
        let request = modify(
            &ConnectionHandle::for_tests("ldap://127.0.0.1:389"),
            "uid=a,dc=example",
            &[Modification {
                kind: ModifyKind::Replace,
                attribute: "userPassword".into(),
                values: vec![b"hunter2-long".to_vec()],
            }],
            &[],
        );
        let text = request.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(REDACTED), "{text}");
    }
}
