//! Provisio connector for Active Directory (and Samba AD domain
//! controllers): users, groups and organizational units through the host's
//! `provisio:ldap` capability. See [`settings`] for the configuration and
//! `docs/connectors/ad.md` for the operator's guide.
//!
//! - uid: `objectGUID` as a GUID string; name: `sAMAccountName` (OUs: `ou`).
//! - A new account without a name gets one by the rule operators use most
//!   ([`provisio_sdk::naming`]): `smithw`, then `smithw2`, … checked against
//!   the domain; `mail` likewise (`will.smith@…`, `will.smith2@…`).
//! - `__enable__` flips bit 2 (ACCOUNTDISABLE) of `userAccountControl` and
//!   keeps every other bit; `__password__` writes `unicodePwd` (quoted,
//!   UTF-16LE) and is refused on an unencrypted connection before anything
//!   is sent.
//! - An OU rule (`account.ou_from`) places accounts and moves them when the
//!   value changes; `account.disabled_ou` parks disabled accounts.
//! - `sync` follows `uSNChanged`, and deletes through AD's tombstones.

mod guid;
pub mod settings;
mod sync;

use provisio_sdk::ldap::{
    self, Attribute as LdapAttribute, Connection, Entry, Modification, Scope, SearchRequest,
};
use provisio_sdk::{
    Attribute, AttributeChange, Capabilities, Config, Connector, ConnectorInfo, ConnectorObject,
    Error, Page, Query, SyncBatch, SyncRequest, Value, export_connector, naming,
};
use settings::Settings;

pub const NAME: &str = "__name__";
pub const ENABLE: &str = "__enable__";
pub const PASSWORD: &str = "__password__";
pub const GROUPS: &str = "__groups__";
pub const MEMBERS: &str = "members";
/// An OU's parent DN on create.
pub const PARENT: &str = "parent";

/// userAccountControl bits.
const ACCOUNTDISABLE: i64 = 0x2;
const NORMAL_ACCOUNT: i64 = 0x200;

/// Attributes AD maintains that are not returned as ordinary attributes.
const INTERNAL: &[&str] = &[
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

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Account,
    Group,
    Ou,
}

impl Class {
    fn parse(name: &str) -> Result<Class, Error> {
        match name {
            "account" => Ok(Class::Account),
            "group" => Ok(Class::Group),
            "ou" => Ok(Class::Ou),
            other => Err(Error::invalid(format!(
                "unknown object class {other:?}: this connector serves account, group and ou"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Account => "account",
            Class::Group => "group",
            Class::Ou => "ou",
        }
    }

    pub fn filter(self) -> &'static str {
        match self {
            Class::Account => "(&(objectClass=user)(!(objectClass=computer)))",
            Class::Group => "(objectClass=group)",
            Class::Ou => "(objectClass=organizationalUnit)",
        }
    }

    fn naming(self) -> &'static str {
        match self {
            Class::Ou => "ou",
            _ => "sAMAccountName",
        }
    }
}

pub struct AdConnector {
    conn: Connection,
    settings: Settings,
}

enum Membership {
    Replace(Vec<String>),
    Add(Vec<String>),
    Remove(Vec<String>),
}

/// `unicodePwd`'s value: the password in double quotes, UTF-16LE.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes.iter().find(|a| a.is(name))
}

/// An AD refusal, quoting the server and saying what it means when AD's
/// code is one operators meet often.
fn ad_error(e: ldap::LdapError) -> Error {
    if let ldap::LdapError::Server(r) = &e {
        let m = &r.message;
        if m.contains("0000052D") || (r.code == 19 && m.to_ascii_lowercase().contains("password")) {
            return Error::invalid_attribute(
                PASSWORD,
                format!("the domain's password policy refused the password: {m}"),
            );
        }
        let duplicate_name = r.code == 19 && m.to_ascii_lowercase().contains("samaccountname");
        if r.code == 68 || duplicate_name {
            return Error::already_exists(format!("the domain refused: {m}"));
        }
    }
    e.into()
}

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

    fn search_all(
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

    /// Whether any object in the domain has `attribute` = `value`.
    fn taken(&self, attribute: &str, value: &str) -> Result<bool, Error> {
        let filter = format!("({attribute}={})", ldap::escape_filter_value(value));
        let request = SearchRequest::new(&self.settings.base_dn, Scope::Subtree, &filter)
            .attributes(&["1.1"])
            .page_size(1);
        Ok(!self
            .conn
            .search_page(&request, &[])
            .map_err(ad_error)?
            .entries
            .is_empty())
    }

    fn find(&self, class: Class, uid: &str, attributes: &[&str]) -> Result<Entry, Error> {
        let bytes = guid::parse(uid).ok_or_else(|| {
            Error::not_found(format!(
                "{uid:?} is not an objectGUID, so no {} has it",
                class.name()
            ))
        })?;
        let filter = format!(
            "(&{}(objectGUID={}))",
            class.filter(),
            ldap::escape_filter_bytes(&bytes)
        );
        self.search_all(&self.settings.base_dn, &filter, attributes)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("no {} with objectGUID {uid}", class.name())))
    }

    /// DNs of the objects of `class` with `uids`.
    fn dns_of(&self, class: Class, uids: &[String]) -> Result<Vec<String>, Error> {
        uids.iter()
            .map(|uid| {
                self.find(class, uid, &["1.1"]).map(|e| e.dn).map_err(|_| {
                    Error::invalid_attribute(
                        if class == Class::Group {
                            GROUPS
                        } else {
                            MEMBERS
                        },
                        format!("no {} has uid {uid}", class.name()),
                    )
                })
            })
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

    /// GUIDs of the objects at `dns` (those that exist and are readable).
    fn uids_of(&self, dns: &[String]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for chunk in dns.chunks(50) {
            let terms: String = chunk
                .iter()
                .map(|dn| format!("(distinguishedName={})", ldap::escape_filter_value(dn)))
                .collect();
            for entry in self.search_all(
                &self.settings.base_dn,
                &format!("(|{terms})"),
                &["objectGUID"],
            )? {
                if let Some(g) = entry
                    .values("objectGUID")
                    .first()
                    .and_then(|b| guid::format(b))
                {
                    out.push(g);
                }
            }
        }
        Ok(out)
    }

    fn read_attributes(class: Class) -> Vec<&'static str> {
        match class {
            Class::Ou => vec!["*", "objectGUID"],
            _ => vec!["*", "objectGUID", "memberOf", "userAccountControl"],
        }
    }

    fn object(
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

    fn read_back(&self, class: Class, dn: &str) -> Result<ConnectorObject, Error> {
        let entry = self
            .conn
            .read(dn, &Self::read_attributes(class))
            .map_err(ad_error)?
            .ok_or_else(|| Error::failed(format!("{dn} vanished after it was written")))?;
        self.object(class, &entry, &[])
    }

    fn change_groups(
        &self,
        dn: &str,
        current: &[String],
        membership: Membership,
    ) -> Result<(), Error> {
        let same = |a: &String, b: &String| a.eq_ignore_ascii_case(b);
        let (join, leave) = match membership {
            Membership::Add(u) => (self.dns_of(Class::Group, &u)?, Vec::new()),
            Membership::Remove(u) => (Vec::new(), self.dns_of(Class::Group, &u)?),
            Membership::Replace(u) => {
                let wanted = self.dns_of(Class::Group, &u)?;
                let join = wanted
                    .iter()
                    .filter(|g| !current.iter().any(|c| same(c, g)))
                    .cloned()
                    .collect();
                let leave = current
                    .iter()
                    .filter(|c| !wanted.iter().any(|g| same(c, g)))
                    .cloned()
                    .collect();
                (join, leave)
            }
        };
        let member = vec![dn.as_bytes().to_vec()];
        for group in join {
            match self
                .conn
                .modify(&group, &[Modification::add("member", member.clone())])
            {
                Err(ldap::LdapError::Server(r)) if r.code == 20 || r.code == 68 => {}
                other => other.map_err(ad_error)?,
            }
        }
        for group in leave {
            match self
                .conn
                .modify(&group, &[Modification::delete("member", member.clone())])
            {
                Err(ldap::LdapError::Server(r)) if r.code == 16 || r.code == 53 => {}
                other => other.map_err(ad_error)?,
            }
        }
        Ok(())
    }

    fn create_account(&self, attributes: &[Attribute]) -> Result<ConnectorObject, Error> {
        let s = &self.settings;
        let text_of = |name: &str| -> Result<Option<String>, Error> {
            find_attribute(attributes, name)
                .map(Attribute::single_text)
                .transpose()
        };
        let given = text_of(s.provisio_name("givenName"))?.or(text_of("givenName")?);
        let family = text_of(s.provisio_name("sn"))?.or(text_of("sn")?);
        let name = match text_of(NAME)? {
            Some(name) => name,
            None => match (&given, &family) {
                (Some(g), Some(f)) => {
                    naming::account_name(g, f, |n| self.taken("sAMAccountName", n))?
                }
                _ => {
                    return Err(Error::invalid_attribute(
                        NAME,
                        "a new account needs __name__ (its sAMAccountName), or givenName and sn to make one",
                    ));
                }
            },
        };
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
        if !has(&out, "mail")
            && let (Some(domain), Some(g), Some(f)) = (&s.mail_domain, &given, &family)
        {
            let mail = naming::email(g, f, domain, |m| self.taken("mail", m))?;
            out.push(LdapAttribute::text("mail", &[&mail]));
        }
        let parent = match (&s.disabled_ou, enabled) {
            (Some(disabled), false) => disabled.clone(),
            _ => s.home_ou(ou_value.as_deref()),
        };
        let cn = cn.unwrap_or_else(|| name.clone());
        let dn = format!("CN={},{parent}", ldap::escape_dn_value(&cn));
        self.conn.add(&dn, &out).map_err(ad_error)?;
        if !groups.is_empty() {
            self.change_groups(&dn, &[], Membership::Add(groups))?;
        }
        self.read_back(Class::Account, &dn)
    }

    fn create_other(
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
        self.conn.add(&dn, &out).map_err(ad_error)?;
        self.read_back(class, &dn)
    }

    fn update_account(
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
            let (attribute, kind) = match change {
                AttributeChange::Replace(a) => (a, ldap::ModifyKind::Replace),
                AttributeChange::AddValues(a) => (a, ldap::ModifyKind::Add),
                AttributeChange::RemoveValues(a) => (a, ldap::ModifyKind::Delete),
            };
            let replace_only = || Error::invalid_attribute(&attribute.name, "is only replaced");
            if attribute.is(ENABLE) {
                if kind != ldap::ModifyKind::Replace {
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
                if kind != ldap::ModifyKind::Replace {
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
                let u = attribute.texts()?;
                groups = Some(match kind {
                    ldap::ModifyKind::Replace => Membership::Replace(u),
                    ldap::ModifyKind::Add => Membership::Add(u),
                    ldap::ModifyKind::Delete => Membership::Remove(u),
                });
            } else if s.ldap_name(&attribute.name).eq_ignore_ascii_case("cn") {
                new_cn = Some(attribute.single_text()?);
            } else {
                if s.ou_from.as_deref().is_some_and(|o| attribute.is(o)) {
                    ou_value = if kind == ldap::ModifyKind::Replace {
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
                    ldap::ModifyKind::Replace => Modification::replace(name, values),
                    ldap::ModifyKind::Add => Modification::add(name, values),
                    ldap::ModifyKind::Delete => Modification::delete(name, values),
                });
            }
        }
        if !mods.is_empty() {
            self.conn.modify(&dn, &mods).map_err(ad_error)?;
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

    fn update_other(
        &self,
        class: Class,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let entry = self.find(class, uid, &["1.1"])?;
        let mut mods = Vec::new();
        for change in changes {
            let (attribute, kind) = match change {
                AttributeChange::Replace(a) => (a, ldap::ModifyKind::Replace),
                AttributeChange::AddValues(a) => (a, ldap::ModifyKind::Add),
                AttributeChange::RemoveValues(a) => (a, ldap::ModifyKind::Delete),
            };
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
            self.conn.modify(&entry.dn, &mods).map_err(ad_error)?;
        }
        self.read_back(class, &entry.dn)
    }
}

impl Connector for AdConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo::new(
            "ad",
            env!("CARGO_PKG_VERSION"),
            "Active Directory (and Samba AD): users, groups and OUs",
            Capabilities::CREATE
                | Capabilities::GET
                | Capabilities::UPDATE
                | Capabilities::DELETE
                | Capabilities::SEARCH
                | Capabilities::SYNC
                | Capabilities::TEST,
        )
    }

    fn open(config: &Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config)?;
        let conn = Connection::open(&settings.url, settings.start_tls).map_err(ad_error)?;
        Ok(AdConnector { conn, settings })
    }

    fn test(&mut self) -> Result<(), Error> {
        let base = &self.settings.base_dn;
        match self.conn.read(base, &["objectGUID"]).map_err(ad_error)? {
            Some(_) => Ok(()),
            None => Err(Error::invalid_attribute(
                "base_dn",
                format!("{base} is not in the directory"),
            )),
        }
    }

    fn create(
        &mut self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        match Class::parse(class)? {
            Class::Account => self.create_account(&attributes),
            other => self.create_other(other, &attributes),
        }
    }

    fn get(
        &mut self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let class = Class::parse(class)?;
        let entry = self.find(class, uid, &Self::read_attributes(class))?;
        self.object(class, &entry, attributes)
    }

    fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        match Class::parse(class)? {
            Class::Account => self.update_account(uid, changes),
            other => self.update_other(other, uid, changes),
        }
    }

    fn delete(&mut self, class: &str, uid: &str) -> Result<(), Error> {
        let class = Class::parse(class)?;
        let entry = self.find(class, uid, &["1.1"])?;
        self.conn.delete(&entry.dn).map_err(ad_error)
    }

    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let class = Class::parse(&query.class)?;
        let settings = &self.settings;
        let filter = match &query.filter {
            None => class.filter().to_owned(),
            Some(f) => format!(
                "(&{}{})",
                class.filter(),
                ldap::scim_to_ldap(f, &|path| {
                    let name = path.name.as_str();
                    if name.eq_ignore_ascii_case("name") || name.eq_ignore_ascii_case(NAME) {
                        Ok(class.naming().to_owned())
                    } else if [ENABLE, GROUPS, PASSWORD, "uid", "enable", "groups"]
                        .iter()
                        .any(|s| name.eq_ignore_ascii_case(s))
                    {
                        Err(Error::invalid(format!(
                            "filter: {name} cannot be searched on in AD; use get for a uid"
                        )))
                    } else if class == Class::Account {
                        Ok(settings.ldap_name(name).to_owned())
                    } else {
                        Ok(name.to_owned())
                    }
                })?
            ),
        };
        let size = query.page.size.min(settings::MAX_PAGE_SIZE);
        let request = SearchRequest::new(&self.settings.base_dn, Scope::Subtree, &filter)
            .attributes(&Self::read_attributes(class))
            .page_size(size);
        let page = self
            .conn
            .search_page(&request, &ldap::decode_cookie(&query.page.cookie)?)
            .map_err(ad_error)?;
        let objects = page
            .entries
            .iter()
            .map(|e| self.object(class, e, &query.attributes))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            objects,
            cookie: ldap::encode_cookie(&page.cookie),
            remaining: None,
        })
    }

    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let class = Class::parse(&request.class)?;
        sync::changes(self, class, request)
    }

    fn latest_sync_token(&mut self, class: &str) -> Result<String, Error> {
        Class::parse(class)?;
        Ok(sync::token(sync::highest_usn(&self.conn)?))
    }
}

export_connector!(AdConnector);
