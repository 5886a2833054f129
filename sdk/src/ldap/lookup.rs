//! Finding entries by a key attribute (a uid such as `entryUUID` or
//! `objectGUID`) and back, in batches: one search answers up to
//! [`BATCH`] keys, instead of one search per key.

use super::filter::{escape_bytes, escape_filter_bytes};
use super::{Connection, Entry, LdapError, Scope, SearchRequest};

/// Keys OR-ed into one filter at most, so no filter grows unbounded.
pub const BATCH: usize = 100;

/// How keys compare once the directory returned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// Text keys under caseIgnoreMatch (e.g. `uid`, `entryUUID`'s UUIDs).
    IgnoreCase,
    /// Binary keys byte for byte (e.g. `objectGUID`).
    Exact,
}

/// Where and how to look entries of one class up.
#[derive(Debug, Clone)]
pub struct Lookup<'a> {
    pub base: &'a str,
    /// The class's filter, e.g. `(objectClass=inetOrgPerson)`.
    pub class_filter: &'a str,
    /// The key attribute, e.g. `entryUUID`.
    pub key: &'a str,
    pub matching: KeyMatch,
    /// Page size of the searches; 0 sends no paged-results control (a
    /// batch answers at most [`BATCH`] entries), which keeps a paged
    /// search in progress on the same connection valid on OpenLDAP (it
    /// keeps one paged search per connection; another voids its cookie).
    pub page_size: u32,
}

impl Lookup<'_> {
    /// The filter that finds the entries with `keys`.
    pub fn filter(&self, keys: &[&[u8]]) -> String {
        let terms: String = keys
            .iter()
            .map(|k| {
                let value = match self.matching {
                    KeyMatch::IgnoreCase => escape_bytes(k),
                    KeyMatch::Exact => escape_filter_bytes(k),
                };
                format!("({}={value})", self.key)
            })
            .collect();
        format!("(&{}(|{terms}))", self.class_filter)
    }

    /// The DN of the entry with each key, in the order of `keys`; None for
    /// a key no entry has.
    pub fn dns(&self, conn: &Connection, keys: &[&[u8]]) -> Result<Vec<Option<String>>, LdapError> {
        let mut found: Vec<(Vec<u8>, String)> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let request = SearchRequest::new(self.base, Scope::Subtree, &self.filter(chunk))
                .attributes(&[self.key])
                .page_size(self.page_size);
            for page in conn.pages(request) {
                for entry in page? {
                    for value in entry.values(self.key) {
                        found.push((value.clone(), entry.dn.clone()));
                    }
                }
            }
        }
        Ok(self.in_order(keys, found))
    }

    /// Matches found `(key, dn)` pairs to the keys asked for.
    pub fn in_order(&self, keys: &[&[u8]], found: Vec<(Vec<u8>, String)>) -> Vec<Option<String>> {
        keys.iter()
            .map(|key| {
                found
                    .iter()
                    .find(|(k, _)| self.same(k, key))
                    .map(|(_, dn)| dn.clone())
            })
            .collect()
    }

    fn same(&self, a: &[u8], b: &[u8]) -> bool {
        match self.matching {
            KeyMatch::IgnoreCase => a.eq_ignore_ascii_case(b),
            KeyMatch::Exact => a == b,
        }
    }

    /// The entries (with their key) at `dns` that belong to the class;
    /// DNs that are not entries of the class (a placeholder member, an
    /// object elsewhere) are left out. `dn_attribute` is the attribute a
    /// filter can match a DN by: `entryDN` (RFC 5020) or, in Active
    /// Directory, `distinguishedName`.
    pub fn entries_at(
        &self,
        conn: &Connection,
        dn_attribute: &str,
        dns: &[String],
    ) -> Result<Vec<Entry>, LdapError> {
        let mut out = Vec::with_capacity(dns.len());
        for chunk in dns.chunks(BATCH) {
            let terms: String = chunk
                .iter()
                .map(|dn| format!("({dn_attribute}={})", escape_bytes(dn.as_bytes())))
                .collect();
            let filter = format!("(&{}(|{terms}))", self.class_filter);
            let request = SearchRequest::new(self.base, Scope::Subtree, &filter)
                .attributes(&[self.key])
                .page_size(self.page_size);
            for page in conn.pages(request) {
                out.extend(page?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(matching: KeyMatch) -> Lookup<'static> {
        Lookup {
            base: "dc=example,dc=com",
            class_filter: "(objectClass=inetOrgPerson)",
            key: "entryUUID",
            matching,
            page_size: 500,
        }
    }

    #[test]
    fn one_filter_asks_for_every_key_escaped() {
        let f = lookup(KeyMatch::IgnoreCase).filter(&[b"a*", b"b"]);
        assert_eq!(
            f,
            r"(&(objectClass=inetOrgPerson)(|(entryUUID=a\2a)(entryUUID=b)))"
        );
    }

    #[test]
    fn answers_in_the_order_asked_with_gaps_for_missing_keys() {
        let found = vec![
            (b"B".to_vec(), "uid=b".to_owned()),
            (b"a".to_vec(), "uid=a".to_owned()),
        ];
        let dns = lookup(KeyMatch::IgnoreCase).in_order(&[b"A", b"x", b"b"], found.clone());
        assert_eq!(dns, vec![Some("uid=a".into()), None, Some("uid=b".into())]);
        let exact = lookup(KeyMatch::Exact).in_order(&[b"A", b"a"], found);
        assert_eq!(exact, vec![None, Some("uid=a".into())]);
    }
}
