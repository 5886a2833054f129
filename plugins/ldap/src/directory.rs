//! Reading the directory: entries by uid, DNs of uids and back, and
//! entries as connector objects.

use crate::MEMBERS;
use crate::settings::{ClassSettings, Disable, Settings};
use provisio_sdk::ldap::{self, Connection, Entry, KeyMatch, Lookup, Scope, SearchRequest};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{Attribute, ConnectorObject, Error};

/// Attributes the connector reads for its own use and never returns as
/// ordinary attributes.
const INTERNAL: &[&str] = &[
    "objectClass",
    "entryCSN",
    "modifyTimestamp",
    "createTimestamp",
];

pub struct Directory {
    pub conn: Connection,
    pub settings: Settings,
}

impl Directory {
    /// The LDAP attributes to ask for: everything mapped (or those asked
    /// for), the uid, the back-links and what `__enable__` is read from.
    pub fn read_attributes(&self, class: &ClassSettings, wanted: &[String]) -> Vec<String> {
        let mut out: Vec<String> = if wanted.is_empty() {
            vec!["*".into()]
        } else {
            wanted
                .iter()
                .filter(|w| {
                    ![NAME, ENABLE, GROUPS]
                        .iter()
                        .any(|s| w.eq_ignore_ascii_case(s))
                        && (!w.eq_ignore_ascii_case("parent") || class.mapping.maps("parent"))
                })
                .map(|w| {
                    if class.name == "group" && w.eq_ignore_ascii_case(MEMBERS) {
                        self.settings.member_attribute.clone()
                    } else {
                        class.ldap_name(w).to_owned()
                    }
                })
                .collect()
        };
        out.push(class.uid.clone());
        out.push(class.naming.clone());
        if class.name == "account" {
            if wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(GROUPS)) {
                out.push(self.settings.member_of_attribute.clone());
            }
            if let Disable::Attribute { name, .. } = &self.settings.disable {
                out.push(name.clone());
            }
        }
        out
    }

    /// The entry of `class` whose uid is `uid`.
    pub fn find(
        &self,
        class: &ClassSettings,
        uid: &str,
        wanted: &[String],
    ) -> Result<Entry, Error> {
        let filter = format!(
            "(&{}({}={}))",
            class.class_filter(),
            class.uid,
            ldap::escape_filter_value(uid)
        );
        let attributes = if wanted.len() == 1 && wanted[0] == "1.1" {
            vec!["1.1".to_owned()]
        } else {
            self.read_attributes(class, wanted)
        };
        let refs: Vec<&str> = attributes.iter().map(String::as_str).collect();
        let mut bases = vec![class.base.as_str()];
        // Accounts disabled by a move live outside their base.
        if let (Disable::Move { base }, "account") = (&self.settings.disable, class.name) {
            bases.push(base);
        }
        let mut entries = Vec::new();
        for base in bases {
            let request = SearchRequest::new(base, Scope::Subtree, &filter).attributes(&refs);
            entries.extend(self.conn.search_page(&request, &[])?.entries);
            if !entries.is_empty() {
                break;
            }
        }
        let mut entries = entries.into_iter();
        match (entries.next(), entries.next()) {
            (Some(entry), None) => Ok(entry),
            (None, _) => Err(Error::not_found(format!(
                "no {} with {} {uid} under {}",
                class.name, class.uid, class.base
            ))),
            (Some(_), Some(_)) => Err(Error::failed(format!(
                "more than one {} has {} {uid}: {} is not unique in this directory",
                class.name, class.uid, class.uid
            ))),
        }
    }

    /// How the entries of `class` are looked up by uid.
    fn lookup<'a>(&'a self, class: &'a ClassSettings) -> Lookup<'a> {
        Lookup {
            base: &class.base,
            class_filter: &class.filter,
            key: &class.uid,
            matching: KeyMatch::IgnoreCase,
            // Unpaged: a batch answers at most BATCH entries, and OpenLDAP
            // keeps one paged search per connection — a paged lookup made
            // while reading a search's page (a group's members to uids)
            // would void that search's cookie.
            page_size: 0,
        }
    }

    /// The DNs of the entries of `class` with `uids`, in that order; a uid
    /// with no entry is an invalid reference.
    pub fn dns_of(&self, class: &ClassSettings, uids: &[String]) -> Result<Vec<String>, Error> {
        let keys: Vec<&[u8]> = uids.iter().map(|u| u.as_bytes()).collect();
        let dns = self.lookup(class).dns(&self.conn, &keys)?;
        uids.iter()
            .zip(dns)
            .map(|(uid, dn)| {
                dn.ok_or_else(|| {
                    Error::invalid_attribute(
                        if class.name == "group" {
                            GROUPS
                        } else {
                            MEMBERS
                        },
                        format!("no {} has uid {uid}", class.name),
                    )
                })
            })
            .collect()
    }

    /// The uids of the entries at `dns` that belong to `class`; DNs that
    /// are not entries of the class (e.g. a placeholder member) are left out.
    pub fn uids_of(&self, class: &ClassSettings, dns: &[String]) -> Result<Vec<String>, Error> {
        Ok(self
            .lookup(class)
            .entries_at(&self.conn, "entryDN", dns)?
            .iter()
            .filter_map(|e| e.text(&class.uid))
            .collect())
    }

    /// The LDAP attribute a filter's attribute names.
    pub fn filter_attribute(&self, class: &ClassSettings, name: &str) -> Result<String, Error> {
        if name.eq_ignore_ascii_case("uid") && !class.mapping.maps("uid") {
            // `uid` is the object's uid, unless the operator maps a `uid`.
            return Ok(class.uid.clone());
        }
        if name.eq_ignore_ascii_case("name") || name.eq_ignore_ascii_case(NAME) {
            return Ok(class.naming.clone());
        }
        if [ENABLE, GROUPS, PASSWORD, "enable", "groups", "password"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s))
        {
            return Err(Error::invalid(format!(
                "filter: {name} cannot be searched on in this directory"
            )));
        }
        Ok(class.ldap_name(name).to_owned())
    }

    fn enabled(&self, entry: &Entry) -> Option<bool> {
        match &self.settings.disable {
            Disable::Attribute { name, value } => Some(
                !entry
                    .values(name)
                    .iter()
                    .any(|v| v.as_slice() == value.as_bytes()),
            ),
            Disable::Move { base } => Some(!ldap::parent_dn(&entry.dn).eq_ignore_ascii_case(base)),
            Disable::None => None,
        }
    }

    /// `entry` as a connector object with the attributes `wanted` (all
    /// when empty).
    pub fn object(
        &self,
        class: &ClassSettings,
        entry: &Entry,
        wanted: &[String],
    ) -> Result<ConnectorObject, Error> {
        self.object_with_groups(class, entry, wanted, None)
    }

    /// As [`Directory::object`], an account's groups given as uids when the
    /// caller already knows them (otherwise read from its `memberOf` DNs).
    pub fn object_with_groups(
        &self,
        class: &ClassSettings,
        entry: &Entry,
        wanted: &[String],
        groups: Option<Vec<String>>,
    ) -> Result<ConnectorObject, Error> {
        let uid = entry.text(&class.uid).ok_or_else(|| {
            Error::failed(format!(
                "{} has no {}: is uid_attribute right, and may this bind read it?",
                entry.dn, class.uid
            ))
        })?;
        let name = ldap::rdn_value(&entry.dn);
        let wants = |n: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(n));
        let mut object = ConnectorObject::new(class.name, uid, name);
        let parent_wanted = match class.name {
            "account" => wants("parent"),
            _ => wanted.iter().any(|w| w.eq_ignore_ascii_case("parent")),
        };
        if parent_wanted && !class.mapping.maps("parent") {
            object.attributes.push(Attribute::single(
                "parent",
                provisio_sdk::Value::Text(ldap::parent_dn(&entry.dn).to_owned()),
            ));
        }
        let skip = |n: &str| {
            INTERNAL.iter().any(|i| i.eq_ignore_ascii_case(n))
                || n.eq_ignore_ascii_case(&class.uid)
                // The RDN's value is the object's name already, and the
                // schema does not list it.
                || n.eq_ignore_ascii_case(&class.naming)
                || n.eq_ignore_ascii_case(&self.settings.password_attribute)
                || n.eq_ignore_ascii_case(&self.settings.member_of_attribute)
                || (class.name == "group"
                    && n.eq_ignore_ascii_case(&self.settings.member_attribute))
                || matches!(&self.settings.disable, Disable::Attribute { name, .. } if name.eq_ignore_ascii_case(n))
        };
        for attribute in &entry.attributes {
            if skip(&attribute.name) || class.shadowed(&attribute.name) {
                continue;
            }
            let name = class.provisio_name(&attribute.name);
            if !wants(name) {
                continue;
            }
            object.attributes.push(Attribute {
                name: name.to_owned(),
                values: attribute
                    .values
                    .iter()
                    .map(|v| ldap::value_from_bytes(v))
                    .collect(),
            });
        }
        if class.name == "account" {
            if wants(ENABLE)
                && let Some(enabled) = self.enabled(entry)
            {
                object.attributes.push(Attribute::single(ENABLE, enabled));
            }
            if wants(GROUPS) {
                let groups = match groups {
                    Some(groups) => groups,
                    None => self.uids_of(
                        &self.settings.group,
                        &entry.texts(&self.settings.member_of_attribute),
                    )?,
                };
                object.attributes.push(Attribute::multi(
                    GROUPS,
                    groups.into_iter().map(provisio_sdk::Value::Reference),
                ));
            }
        } else if wants(MEMBERS) {
            let members = self.uids_of(
                &self.settings.account,
                &entry.texts(&self.settings.member_attribute),
            )?;
            object.attributes.push(Attribute::multi(
                MEMBERS,
                members.into_iter().map(provisio_sdk::Value::Reference),
            ));
        }
        Ok(object)
    }
}
