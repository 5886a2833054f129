//! Reading the domain: entries by objectGUID, DNs of uids and back (in
//! batches), group members in ranges, and entries as connector objects.

use crate::errors::ad_error;
use crate::{ACCOUNTDISABLE, AdConnector, Class, MEMBERS, PARENT, guid};
use provisio_sdk::ldap::{self, Entry, KeyMatch, Lookup, Scope, SearchRequest};
use provisio_sdk::names::{ENABLE, GROUPS};
use provisio_sdk::{Attribute, ConnectorObject, Error, Value};

/// Attributes AD maintains that are not returned as ordinary attributes.
pub(crate) const INTERNAL: &[&str] = &[
    "objectGUID",
    "objectSid",
    "objectClass",
    "objectCategory",
    "distinguishedName",
    "name",
    "instanceType",
    "uSNChanged",
    "uSNCreated",
    "whenChanged",
    "whenCreated",
    "dSCorePropagationData",
    "sAMAccountType",
    "userAccountControl",
    "memberOf",
    "member",
    "badPasswordTime",
    "badPwdCount",
    "lastLogoff",
    "lastLogon",
    "logonCount",
    "pwdLastSet",
    "accountExpires",
    "codePage",
    "countryCode",
    "primaryGroupID",
    "sAMAccountName",
    "nTSecurityDescriptor",
    "isCriticalSystemObject",
    "systemFlags",
    "groupType",
    "ou",
];

impl AdConnector {
    pub(crate) fn search_all(
        &self,
        base: &str,
        filter: &str,
        attributes: &[&str],
    ) -> Result<Vec<Entry>, Error> {
        let request = SearchRequest::new(base, Scope::Subtree, filter)
            .attributes(attributes)
            .page_size(self.settings.page_size);
        let mut out = Vec::new();
        for page in self.conn.pages(request) {
            out.extend(page.map_err(ad_error)?);
        }
        Ok(out)
    }

    /// How objects of `class` are looked up by objectGUID.
    fn lookup(&self, class: Class) -> Lookup<'_> {
        Lookup {
            base: &self.settings.base_dn,
            class_filter: class.filter(),
            key: "objectGUID",
            matching: KeyMatch::Exact,
            page_size: self.settings.page_size,
        }
    }

    pub(crate) fn find(
        &self,
        class: Class,
        uid: &str,
        attributes: &[&str],
    ) -> Result<Entry, Error> {
        let bytes = guid::parse(uid).ok_or_else(|| {
            Error::not_found(format!(
                "{uid:?} is not an objectGUID, so no {} has it",
                class.name()
            ))
        })?;
        let filter = self.lookup(class).filter(&[&bytes]);
        self.search_all(&self.settings.base_dn, &filter, attributes)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("no {} with objectGUID {uid}", class.name())))
    }

    /// DNs of the objects of `class` with `uids`, in that order, found in
    /// batches; a uid with no object is an invalid reference.
    pub(crate) fn dns_of(&self, class: Class, uids: &[String]) -> Result<Vec<String>, Error> {
        let reference = if class == Class::Group {
            GROUPS
        } else {
            MEMBERS
        };
        let missing = |uid: &str| {
            Error::invalid_attribute(reference, format!("no {} has uid {uid}", class.name()))
        };
        let keys: Vec<[u8; 16]> = uids
            .iter()
            .map(|uid| guid::parse(uid).ok_or_else(|| missing(uid)))
            .collect::<Result<_, _>>()?;
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let dns = self
            .lookup(class)
            .dns(&self.conn, &keys)
            .map_err(ad_error)?;
        uids.iter()
            .zip(dns)
            .map(|(uid, dn)| dn.ok_or_else(|| missing(uid)))
            .collect()
    }

    /// Every `member` of the group at `dn`, read in ranges (AD returns at
    /// most MaxValRange values of an attribute at once; `member;range=…`
    /// asks for the next slice).
    fn members_of(&self, dn: &str) -> Result<Vec<String>, Error> {
        let step = self.settings.member_range;
        let mut members = Vec::new();
        let mut start = 0usize;
        loop {
            let wanted = format!("member;range={start}-{}", start + step - 1);
            let Some(entry) = self.conn.read(dn, &[&wanted]).map_err(ad_error)? else {
                return Ok(members);
            };
            // The answer names its range: `member;range=0-999`, or
            // `member;range=1000-*` for the last slice.
            let Some(slice) = entry
                .attributes
                .iter()
                .find(|a| a.name.to_ascii_lowercase().starts_with("member;range="))
            else {
                // No ranged answer: the group has no members left here, or
                // the server returned them whole.
                members.extend(entry.texts("member"));
                return Ok(members);
            };
            members.extend(
                slice
                    .values
                    .iter()
                    .filter_map(|v| String::from_utf8(v.clone()).ok()),
            );
            if slice.name.ends_with("-*") || slice.values.is_empty() {
                return Ok(members);
            }
            start += slice.values.len();
        }
    }

    /// GUIDs of the objects at `dns`, of any class (a group's members may
    /// be accounts, computers or groups), that exist and are readable.
    fn uids_of(&self, dns: &[String]) -> Result<Vec<String>, Error> {
        let any = Lookup {
            class_filter: "(objectClass=*)",
            ..self.lookup(Class::Account)
        };
        Ok(any
            .entries_at(&self.conn, "distinguishedName", dns)
            .map_err(ad_error)?
            .iter()
            .filter_map(|e| e.values("objectGUID").first().and_then(|b| guid::format(b)))
            .collect())
    }

    pub(crate) fn read_attributes(class: Class) -> Vec<&'static str> {
        match class {
            Class::Ou => vec!["*", "objectGUID"],
            _ => vec!["*", "objectGUID", "memberOf", "userAccountControl"],
        }
    }

    pub(crate) fn object(
        &self,
        class: Class,
        entry: &Entry,
        wanted: &[String],
    ) -> Result<ConnectorObject, Error> {
        let uid = entry
            .values("objectGUID")
            .first()
            .and_then(|b| guid::format(b))
            .ok_or_else(|| Error::failed(format!("{} has no readable objectGUID", entry.dn)))?;
        let name = entry
            .text(class.naming())
            .unwrap_or_else(|| ldap::rdn_value(&entry.dn));
        let wants = |n: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(n));
        let mut object = ConnectorObject::new(class.name(), uid, name);
        for attribute in &entry.attributes {
            if INTERNAL
                .iter()
                .any(|i| i.eq_ignore_ascii_case(&attribute.name))
                || attribute.name.contains(";range=")
                || (class == Class::Account && self.settings.shadowed(&attribute.name))
            {
                continue;
            }
            let name = if class == Class::Account {
                self.settings.provisio_name(&attribute.name)
            } else {
                &attribute.name
            };
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
        if wants(PARENT) {
            object
                .attributes
                .push(Attribute::single(PARENT, ldap::parent_dn(&entry.dn)));
        }
        match class {
            Class::Account => {
                if wants(ENABLE)
                    && let Some(uac) = entry
                        .text("userAccountControl")
                        .and_then(|u| u.parse::<i64>().ok())
                {
                    object
                        .attributes
                        .push(Attribute::single(ENABLE, uac & ACCOUNTDISABLE == 0));
                }
                if wants(GROUPS) {
                    let groups = self.uids_of(&entry.texts("memberOf"))?;
                    object.attributes.push(Attribute::multi(
                        GROUPS,
                        groups.into_iter().map(Value::Reference),
                    ));
                }
            }
            Class::Group => {
                if wants(MEMBERS) {
                    let members = self.uids_of(&self.members_of(&entry.dn)?)?;
                    object.attributes.push(Attribute::multi(
                        MEMBERS,
                        members.into_iter().map(Value::Reference),
                    ));
                }
            }
            Class::Ou => {}
        }
        Ok(object)
    }

    pub(crate) fn read_back(&self, class: Class, dn: &str) -> Result<ConnectorObject, Error> {
        let entry = self
            .conn
            .read(dn, &Self::read_attributes(class))
            .map_err(ad_error)?
            .ok_or_else(|| Error::failed(format!("{dn} vanished after it was written")))?;
        self.object(class, &entry, &[])
    }
}
