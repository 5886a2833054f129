//! Accounts: what a create writes (the name it is given, the password over
//! an encrypted connection only, the home OU) and
//! what an update changes (userAccountControl bits, a move when the OU
//! rule or the enabled state says so, groups joined and left).

use crate::errors::{ALREADY_MEMBER, NOT_MEMBER, ad_error, unicode_pwd};
use crate::{ACCOUNTDISABLE, AdConnector, Class, NORMAL_ACCOUNT};
use provisio_sdk::ldap::{
    self, Attribute as LdapAttribute, GroupChanges, Membership, Modification, ModifyKind,
};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{Attribute, AttributeChange, ConnectorObject, Error, find_attribute};

impl AdConnector {
    fn encrypted_or_refuse(&self) -> Result<(), Error> {
        if self.conn.is_encrypted() {
            Ok(())
        } else {
            Err(Error::invalid_attribute(
                PASSWORD,
                format!(
                    "AD takes passwords only over an encrypted connection; {} is plain LDAP (use ldaps:// or start_tls = true). Nothing was sent.",
                    self.settings.url
                ),
            ))
        }
    }

    fn change_groups(
        &self,
        dn: &str,
        current: &[String],
        membership: Membership,
    ) -> Result<(), Error> {
        let named = self.dns_of(Class::Group, membership.uids())?;
        GroupChanges::plan(current, &membership, named)
            .apply(&self.conn, dn, "member", ALREADY_MEMBER, NOT_MEMBER)
            .map_err(ad_error)
    }

    pub(crate) fn create_account(
        &self,
        attributes: &[Attribute],
    ) -> Result<ConnectorObject, Error> {
        let s = &self.settings;
        let text_of = |name: &str| -> Result<Option<String>, Error> {
            find_attribute(attributes, name)
                .map(Attribute::single_text)
                .transpose()
        };
        // Names are the policy map's to choose (a uniqueness rule asks the
        // domain through `search`), not the connector's.
        let name = text_of(NAME)?.ok_or_else(|| {
            Error::invalid_attribute(
                NAME,
                "a new account needs __name__ (its sAMAccountName); a policy map's uniqueness rule makes one (docs/identities.md)",
            )
        })?;
        let enabled = match find_attribute(attributes, ENABLE) {
            Some(a) => a.single_bool()?,
            None => true,
        };
        let password = text_of(PASSWORD)?;
        if password.is_some() {
            self.encrypted_or_refuse()?;
        } else if enabled {
            return Err(Error::invalid_attribute(
                PASSWORD,
                "AD enables an account only with a password: give __password__, or __enable__ = false",
            ));
        }
        let mut out: Vec<LdapAttribute> = vec![
            LdapAttribute::text(
                "objectClass",
                &["top", "person", "organizationalPerson", "user"],
            ),
            LdapAttribute::text("sAMAccountName", &[&name]),
        ];
        let uac = NORMAL_ACCOUNT | if enabled { 0 } else { ACCOUNTDISABLE };
        out.push(LdapAttribute::text(
            "userAccountControl",
            &[&uac.to_string()],
        ));
        if let Some(password) = &password {
            out.push(LdapAttribute {
                name: "unicodePwd".into(),
                values: vec![unicode_pwd(password)],
            });
        }
        let mut groups = Vec::new();
        let mut cn = None;
        let mut ou_value = None;
        for attribute in attributes {
            if [NAME, ENABLE, PASSWORD].iter().any(|n| attribute.is(n)) {
                continue;
            }
            if attribute.is(GROUPS) {
                groups = attribute.texts()?;
                continue;
            }
            let ldap_name = s.ldap_name(&attribute.name);
            if ldap_name.eq_ignore_ascii_case("cn") {
                cn = Some(attribute.single_text()?);
                continue;
            }
            if s.ou_from.as_deref().is_some_and(|o| attribute.is(o)) {
                ou_value = Some(attribute.single_text()?);
            }
            let values: Vec<Vec<u8>> = attribute.values.iter().map(ldap::value_bytes).collect();
            if !values.is_empty() {
                out.push(LdapAttribute {
                    name: ldap_name.to_owned(),
                    values,
                });
            }
        }
        let has =
            |out: &[LdapAttribute], n: &str| out.iter().any(|a| a.name.eq_ignore_ascii_case(n));
        if !has(&out, "userPrincipalName")
            && let Some(suffix) = &s.upn_suffix
        {
            out.push(LdapAttribute::text(
                "userPrincipalName",
                &[&format!("{name}@{suffix}")],
            ));
        }
        let parent = match (&s.disabled_ou, enabled) {
            (Some(disabled), false) => disabled.clone(),
            _ => s.home_ou(ou_value.as_deref()),
        };
        let cn = cn.unwrap_or_else(|| name.clone());
        let dn = format!("CN={},{parent}", ldap::escape_dn_value(&cn));
        self.conn.add(&dn, &out).map_err(|e| {
            let written: Vec<(&str, &str)> = out
                .iter()
                .map(|a| (a.name.as_str(), self.settings.provisio_name(&a.name)))
                .collect();
            ldap::undefined_attribute(&self.conn, &e, &written).unwrap_or_else(|| ad_error(e))
        })?;
        if !groups.is_empty() {
            self.change_groups(&dn, &[], Membership::Add(groups))?;
        }
        self.read_back(Class::Account, &dn)
    }

    pub(crate) fn update_account(
        &self,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let s = &self.settings;
        let mut wanted = vec!["userAccountControl", "memberOf", "sAMAccountName"];
        if let Some(o) = &s.ou_from {
            wanted.push(s.ldap_name(o));
        }
        let entry = self.find(Class::Account, uid, &wanted)?;
        let mut dn = entry.dn.clone();
        let uac: i64 = entry
            .text("userAccountControl")
            .and_then(|u| u.parse().ok())
            .unwrap_or(NORMAL_ACCOUNT);
        let mut enabled = uac & ACCOUNTDISABLE == 0;
        let mut ou_value = s.ou_from.as_ref().and_then(|o| entry.text(s.ldap_name(o)));
        let mut mods = Vec::new();
        let mut groups = None;
        let mut new_cn = None;
        let mut placement_changed = false;
        for change in changes {
            let (attribute, kind) = ldap::change_parts(change);
            let replace_only = || Error::invalid_attribute(&attribute.name, "is only replaced");
            if attribute.is(ENABLE) {
                if kind != ModifyKind::Replace {
                    return Err(replace_only());
                }
                let enable = attribute.single_bool()?;
                let bits = if enable {
                    uac & !ACCOUNTDISABLE
                } else {
                    uac | ACCOUNTDISABLE
                };
                mods.push(Modification::replace(
                    "userAccountControl",
                    vec![bits.to_string().into_bytes()],
                ));
                placement_changed |= enable != enabled;
                enabled = enable;
            } else if attribute.is(PASSWORD) {
                if kind != ModifyKind::Replace {
                    return Err(replace_only());
                }
                self.encrypted_or_refuse()?;
                mods.push(Modification::replace(
                    "unicodePwd",
                    vec![unicode_pwd(&attribute.single_text()?)],
                ));
            } else if attribute.is(NAME) {
                mods.push(Modification::replace(
                    "sAMAccountName",
                    vec![attribute.single_text()?.into_bytes()],
                ));
            } else if attribute.is(GROUPS) {
                groups = Some(Membership::of(kind, attribute.texts()?));
            } else if s.ldap_name(&attribute.name).eq_ignore_ascii_case("cn") {
                new_cn = Some(attribute.single_text()?);
            } else {
                if s.ou_from.as_deref().is_some_and(|o| attribute.is(o)) {
                    ou_value = if kind == ModifyKind::Replace {
                        attribute
                            .values
                            .first()
                            .and_then(|v| v.as_text())
                            .map(str::to_owned)
                    } else {
                        ou_value
                    };
                    placement_changed = true;
                }
                let name = s.ldap_name(&attribute.name);
                let values = attribute.values.iter().map(ldap::value_bytes).collect();
                mods.push(match kind {
                    ModifyKind::Replace => Modification::replace(name, values),
                    ModifyKind::Add => Modification::add(name, values),
                    ModifyKind::Delete => Modification::delete(name, values),
                });
            }
        }
        if !mods.is_empty() {
            self.conn.modify(&dn, &mods).map_err(|e| {
                let written: Vec<(&str, &str)> = mods
                    .iter()
                    .map(|m| {
                        (
                            m.attribute.as_str(),
                            self.settings.provisio_name(&m.attribute),
                        )
                    })
                    .collect();
                ldap::undefined_attribute(&self.conn, &e, &written).unwrap_or_else(|| ad_error(e))
            })?;
        }
        let parent = ldap::parent_dn(&dn).to_owned();
        let target = match (&s.disabled_ou, enabled) {
            (Some(disabled), false) => disabled.clone(),
            _ if placement_changed => s.home_ou(ou_value.as_deref()),
            _ => parent.clone(),
        };
        let moving = !target.eq_ignore_ascii_case(&parent);
        if moving || new_cn.is_some() {
            let cn = new_cn.unwrap_or_else(|| ldap::rdn_value(&dn));
            let rdn = format!("CN={}", ldap::escape_dn_value(&cn));
            self.conn
                .modify_dn(&dn, &rdn, true, moving.then_some(target.as_str()))
                .map_err(ad_error)?;
            dn = format!("{rdn},{target}");
        }
        if let Some(groups) = groups {
            self.change_groups(&dn, &entry.texts("memberOf"), groups)?;
        }
        self.read_back(Class::Account, &dn)
    }
}
