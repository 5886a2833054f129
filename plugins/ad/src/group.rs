//! Groups and organizational units: creating them under their bases, and
//! changing their attributes and (for groups) members.

use crate::errors::ad_error;
use crate::{AdConnector, Class, MEMBERS, PARENT};
use provisio_sdk::ldap::{self, Attribute as LdapAttribute, Modification};
use provisio_sdk::names::NAME;
use provisio_sdk::{Attribute, AttributeChange, ConnectorObject, Error, find_attribute};

impl AdConnector {
    pub(crate) fn create_other(
        &self,
        class: Class,
        attributes: &[Attribute],
    ) -> Result<ConnectorObject, Error> {
        let name = find_attribute(attributes, NAME)
            .map(Attribute::single_text)
            .transpose()?
            .ok_or_else(|| {
                Error::invalid_attribute(NAME, format!("a new {} needs __name__", class.name()))
            })?;
        let mut parent = match class {
            Class::Group => self.settings.group_base.clone(),
            _ => self.settings.ou_base.clone(),
        };
        let mut out = Vec::new();
        let mut rdn = match class {
            Class::Group => {
                out.push(LdapAttribute::text("objectClass", &["top", "group"]));
                out.push(LdapAttribute::text("sAMAccountName", &[&name]));
                format!("CN={}", ldap::escape_dn_value(&name))
            }
            _ => {
                out.push(LdapAttribute::text(
                    "objectClass",
                    &["top", "organizationalUnit"],
                ));
                format!("OU={}", ldap::escape_dn_value(&name))
            }
        };
        for attribute in attributes {
            if attribute.is(NAME) {
                continue;
            }
            if attribute.is(PARENT) {
                parent = attribute.single_text()?;
            } else if class == Class::Group && attribute.is(MEMBERS) {
                let dns = self.dns_of(Class::Account, &attribute.texts()?)?;
                if !dns.is_empty() {
                    out.push(LdapAttribute {
                        name: "member".into(),
                        values: dns.into_iter().map(String::into_bytes).collect(),
                    });
                }
            } else if class == Class::Group && attribute.is("cn") {
                rdn = format!("CN={}", ldap::escape_dn_value(&attribute.single_text()?));
            } else {
                out.push(LdapAttribute {
                    name: attribute.name.clone(),
                    values: attribute.values.iter().map(ldap::value_bytes).collect(),
                });
            }
        }
        let dn = format!("{rdn},{parent}");
        self.conn.add(&dn, &out).map_err(|e| {
            // An attribute the schema does not define is `invalid` naming it.
            let written: Vec<(&str, &str)> = out
                .iter()
                .map(|a| (a.name.as_str(), a.name.as_str()))
                .collect();
            ldap::undefined_attribute(&self.conn, &e, &written).unwrap_or_else(|| ad_error(e))
        })?;
        self.read_back(class, &dn)
    }

    pub(crate) fn update_other(
        &self,
        class: Class,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let entry = self.find(class, uid, &["1.1"])?;
        let mut dn = entry.dn.clone();
        let mut mods = Vec::new();
        let mut new_cn = None;
        for change in changes {
            let (attribute, kind) = ldap::change_parts(change);
            // A group's cn is its RDN: changed by a rename (AD refuses a
            // modify of it), never emptied.
            if class == Class::Group && attribute.is("cn") {
                new_cn = Some(attribute.single_text()?);
                continue;
            }
            let (name, values) = if class == Class::Group && attribute.is(MEMBERS) {
                let dns = self.dns_of(Class::Account, &attribute.texts()?)?;
                (
                    "member".to_owned(),
                    dns.into_iter().map(String::into_bytes).collect(),
                )
            } else if class == Class::Group && attribute.is(NAME) {
                (
                    "sAMAccountName".to_owned(),
                    vec![attribute.single_text()?.into_bytes()],
                )
            } else if attribute.is(NAME) || attribute.is(PARENT) {
                return Err(Error::invalid_attribute(
                    &attribute.name,
                    "renaming or moving an OU is not supported",
                ));
            } else {
                (
                    attribute.name.clone(),
                    attribute.values.iter().map(ldap::value_bytes).collect(),
                )
            };
            mods.push(Modification {
                kind,
                attribute: name,
                values,
            });
        }
        if !mods.is_empty() {
            self.conn.modify(&dn, &mods).map_err(|e| {
                let written: Vec<(&str, &str)> = mods
                    .iter()
                    .map(|m| (m.attribute.as_str(), m.attribute.as_str()))
                    .collect();
                ldap::undefined_attribute(&self.conn, &e, &written).unwrap_or_else(|| ad_error(e))
            })?;
        }
        if let Some(cn) = new_cn {
            let rdn = format!("CN={}", ldap::escape_dn_value(&cn));
            self.conn
                .modify_dn(&dn, &rdn, true, None)
                .map_err(ad_error)?;
            dn = format!("{rdn},{}", ldap::parent_dn(&dn));
        }
        self.read_back(class, &dn)
    }
}
