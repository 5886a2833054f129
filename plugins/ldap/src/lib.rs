//! Provisio connector for LDAP directories: accounts (`inetOrgPerson` by
//! default) and groups (`groupOfNames`), through the host's `provisio:ldap`
//! capability. See [`settings`] for the configuration and
//! `docs/connectors/ldap.md` for the operator's guide.
//!
//! - uid: `entryUUID` (configurable); name: the RDN value.
//! - `__password__` writes `userPassword` (the server hashes it, e.g.
//!   OpenLDAP's ppolicy `olcPPolicyHashCleartext`); it is never read back.
//! - `__enable__` by an attribute value (ppolicy's `pwdAccountLockedTime`
//!   by default) or by moving the entry to a disabled-accounts base.
//! - `__groups__` (accounts) and `members` (groups) hold uids; the
//!   directory holds DNs in `member`, and `memberOf` is read back.
//! - Filters become RFC 4515 filters with every value escaped; searches
//!   page with the paged-results control, past the server's size limit.

mod directory;
mod schema;
pub mod settings;
mod sync;

use directory::Directory;
use provisio_sdk::ldap::{
    self, Attribute as LdapAttribute, GroupChanges, Membership, Modification, ModifyKind,
};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{
    Attribute, AttributeChange, Capabilities, Config, Connector, ConnectorInfo, ConnectorObject,
    Error, ObjectSchema, Page, Query, SyncBatch, SyncRequest, export_connector,
};
use settings::{ClassSettings, Disable, Settings};

/// A group's members, as account uids.
pub const MEMBERS: &str = "members";

pub struct LdapConnector {
    dir: Directory,
    /// The subschema, read the first time a filter compares for order.
    subschema: Option<ldap::Subschema>,
}

/// What an update does besides modifying attributes.
#[derive(Default)]
struct Plan {
    modifications: Vec<Modification>,
    new_name: Option<String>,
    /// Some(true): move to the class base; Some(false): to the disabled base.
    move_enabled: Option<bool>,
    groups: Option<Membership>,
    members: Option<Membership>,
    /// `parent` replaced: move the entry under this DN.
    new_parent: Option<String>,
}

impl Plan {
    /// Nothing but a membership change is asked: no attribute, name or
    /// place of the entry.
    fn only_membership(&self) -> bool {
        self.modifications.is_empty()
            && self.new_name.is_none()
            && self.move_enabled.is_none()
            && self.new_parent.is_none()
    }

    /// The members added to or removed from a group, when that is all the
    /// update asks.
    fn only_members_changed(&mut self) -> Option<Membership> {
        if !self.only_membership() || self.groups.is_some() {
            return None;
        }
        match self.members.take() {
            Some(m @ (Membership::Add(_) | Membership::Remove(_))) => Some(m),
            other => {
                self.members = other;
                None
            }
        }
    }

    /// The membership change, when it is all the update asks.
    fn only_groups(&mut self) -> Option<Membership> {
        if self.only_membership() && self.members.is_none() {
            self.groups.take()
        } else {
            None
        }
    }
}

/// The attribute naming the entry's container (its parent DN): writing it
/// places or moves the entry (a mover's OU).
const PARENT: &str = "parent";

/// `value` as a container for entries of `class`: the class's base or a
/// DN under it (entries outside it would not be found again).
fn container(class: &ClassSettings, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let base = class.base.to_ascii_lowercase();
    let lower = value.to_ascii_lowercase();
    if lower == base || lower.ends_with(&format!(",{base}")) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid_attribute(
            PARENT,
            format!("{value:?} is not {} or under it", class.base),
        ))
    }
}

/// An undefined attribute type named as the caller wrote it.
fn undefined(
    conn: &ldap::Connection,
    class: &ClassSettings,
    error: ldap::LdapError,
    ldap_names: &[&str],
) -> Error {
    let written: Vec<(&str, &str)> = ldap_names
        .iter()
        .map(|n| (*n, class.provisio_name(n)))
        .collect();
    ldap::undefined_attribute(conn, &error, &written).unwrap_or_else(|| error.into())
}

impl LdapConnector {
    fn settings(&self) -> &Settings {
        &self.dir.settings
    }

    /// `gt`/`ge`/`lt`/`le` on an attribute type with no ORDERING rule
    /// would match nothing (the directory evaluates it as undefined):
    /// refused, naming the attribute, rather than answered empty.
    fn refuse_unordered(
        &mut self,
        class: &ClassSettings,
        filter: &provisio_sdk::filter::Filter,
    ) -> Result<(), Error> {
        let ordered = ldap::ordered_attributes(filter);
        if ordered.is_empty() {
            return Ok(());
        }
        if self.subschema.is_none() {
            self.subschema = Some(ldap::Subschema::read(&self.dir.conn)?);
        }
        let schema = self.subschema.as_ref().expect("just read");
        for path in ordered {
            let attribute = self.dir.filter_attribute(class, &path.name)?;
            if schema.attribute(&attribute).is_some() && schema.ordering(&attribute).is_none() {
                return Err(Error::unsupported(format!(
                    "filter: {} cannot be compared with gt, ge, lt or le: the directory's attribute type {attribute} has no ORDERING matching rule",
                    path.name
                )));
            }
        }
        Ok(())
    }

    /// The attributes a create writes, the entry's DN, and the groups to
    /// join afterwards.
    fn new_entry(
        &self,
        class: &ClassSettings,
        attributes: &[Attribute],
    ) -> Result<(String, Vec<LdapAttribute>, Vec<String>), Error> {
        let settings = self.settings();
        let name = match attributes
            .iter()
            .find(|a| a.is(NAME) || a.is(class.provisio_name(&class.naming)))
        {
            Some(a) => a.single_text()?,
            None => {
                return Err(Error::invalid_attribute(
                    NAME,
                    format!(
                        "a new {} needs {NAME} (its {} value)",
                        class.name, class.naming
                    ),
                ));
            }
        };
        if name.is_empty() {
            return Err(Error::invalid_attribute(NAME, "must not be empty"));
        }
        let mut base = class.base.clone();
        let mut out = vec![LdapAttribute {
            name: "objectClass".into(),
            values: class
                .object_classes
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect(),
        }];
        let mut push = |name: &str, values: Vec<Vec<u8>>| match out
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        {
            Some(existing) => {
                for v in values {
                    if !existing.values.contains(&v) {
                        existing.values.push(v);
                    }
                }
            }
            None => out.push(LdapAttribute {
                name: name.to_owned(),
                values,
            }),
        };
        push(&class.naming, vec![name.as_bytes().to_vec()]);
        let mut groups = Vec::new();
        let mut parent = None;
        for attribute in attributes {
            if attribute.is(NAME) {
                continue;
            }
            if attribute.is(PARENT) && !class.mapping.maps(PARENT) {
                parent = Some(container(class, &attribute.single_text()?)?);
                continue;
            }
            if attribute.is(ENABLE) {
                if class.name != "account" {
                    return Err(Error::invalid_attribute(
                        ENABLE,
                        "only accounts are enabled or disabled",
                    ));
                }
                if !attribute.single_bool()? {
                    match &settings.disable {
                        Disable::Attribute { name, value } => {
                            push(name, vec![value.as_bytes().to_vec()]);
                        }
                        Disable::Move { base: disabled } => base = disabled.clone(),
                        Disable::None => {
                            return Err(Error::invalid_attribute(
                                ENABLE,
                                "account.disable is none: this directory's accounts cannot be disabled",
                            ));
                        }
                    }
                }
            } else if attribute.is(PASSWORD) {
                if class.name != "account" {
                    return Err(Error::invalid_attribute(
                        PASSWORD,
                        "only accounts have a password",
                    ));
                }
                push(
                    &settings.password_attribute,
                    vec![attribute.single_text()?.into_bytes()],
                );
            } else if attribute.is(GROUPS) {
                groups = attribute.texts()?;
            } else if class.name == "group" && attribute.is(MEMBERS) {
                let dns = self.dir.dns_of(&settings.account, &attribute.texts()?)?;
                push(
                    &settings.member_attribute,
                    dns.into_iter().map(String::into_bytes).collect(),
                );
            } else {
                let values: Vec<Vec<u8>> = attribute.values.iter().map(ldap::value_bytes).collect();
                if !values.is_empty() {
                    push(class.ldap_name(&attribute.name), values);
                }
            }
        }
        // A disabled account created under the disabled base stays there.
        if let Some(parent) = parent
            && base == class.base
        {
            base = parent;
        }
        // A group that would have no member gets the placeholder.
        if class.name == "group"
            && let Some(placeholder) = &settings.empty_member
            && !out.iter().any(|a| {
                a.name.eq_ignore_ascii_case(&settings.member_attribute) && !a.values.is_empty()
            })
        {
            out.push(LdapAttribute {
                name: settings.member_attribute.clone(),
                values: vec![placeholder.as_bytes().to_vec()],
            });
        }
        let dn = format!("{}={},{}", class.naming, ldap::escape_dn_value(&name), base);
        Ok((dn, out, groups))
    }

    fn plan(&self, class: &ClassSettings, changes: Vec<AttributeChange>) -> Result<Plan, Error> {
        let settings = self.settings();
        let mut plan = Plan::default();
        for change in changes {
            let (attribute, kind) = ldap::change_parts(change);
            use ModifyKind as K;
            let replace_only = |what: &str| {
                Error::invalid_attribute(&attribute.name, format!("{what} is only replaced"))
            };
            if attribute.is(PARENT) && !class.mapping.maps(PARENT) {
                if kind != K::Replace {
                    return Err(replace_only("the parent"));
                }
                plan.new_parent = Some(container(class, &attribute.single_text()?)?);
            } else if attribute.is(NAME) || attribute.is(class.provisio_name(&class.naming)) {
                if kind != K::Replace {
                    return Err(replace_only("the name"));
                }
                plan.new_name = Some(attribute.single_text()?);
            } else if attribute.is(ENABLE) {
                if kind != K::Replace {
                    return Err(replace_only(ENABLE));
                }
                let enable = attribute.single_bool()?;
                match &settings.disable {
                    Disable::Attribute { name, value } => plan.modifications.push(if enable {
                        Modification::delete(name, vec![])
                    } else {
                        Modification::replace(name, vec![value.as_bytes().to_vec()])
                    }),
                    Disable::Move { .. } => plan.move_enabled = Some(enable),
                    Disable::None => {
                        return Err(Error::invalid_attribute(
                            ENABLE,
                            "account.disable is none: this directory's accounts cannot be disabled",
                        ));
                    }
                }
            } else if attribute.is(PASSWORD) {
                if kind != K::Replace {
                    return Err(replace_only("the password"));
                }
                plan.modifications.push(Modification::replace(
                    &settings.password_attribute,
                    vec![attribute.single_text()?.into_bytes()],
                ));
            } else if attribute.is(GROUPS) || (class.name == "group" && attribute.is(MEMBERS)) {
                let membership = Membership::of(kind, attribute.texts()?);
                if attribute.is(GROUPS) {
                    plan.groups = Some(membership);
                } else {
                    plan.members = Some(membership);
                }
            } else {
                let values = attribute.values.iter().map(ldap::value_bytes).collect();
                let name = class.ldap_name(&attribute.name);
                plan.modifications.push(match kind {
                    K::Replace => Modification::replace(name, values),
                    K::Add => Modification::add(name, values),
                    K::Delete => Modification::delete(name, values),
                });
            }
        }
        Ok(plan)
    }

    /// Applies `membership` of account `dn` to groups.
    fn change_groups(
        &self,
        dn: &str,
        current: &[String],
        membership: Membership,
    ) -> Result<(), Error> {
        let settings = self.settings();
        let named = self.dir.dns_of(&settings.group, membership.uids())?;
        GroupChanges::plan(current, &membership, named)
            .keeping(settings.empty_member.clone())
            .apply(
                &self.dir.conn,
                dn,
                &settings.member_attribute,
                ldap::ALREADY_MEMBER,
                ldap::NOT_MEMBER,
            )?;
        Ok(())
    }

    /// An update that only joins or leaves groups writes the groups, not
    /// the account: the account is answered as found, its groups changed as
    /// they were applied, which saves reading it back and resolving every
    /// group DN again (two of five exchanges per membership change).
    fn change_groups_only(
        &self,
        class: &ClassSettings,
        uid: &str,
        membership: Membership,
    ) -> Result<ConnectorObject, Error> {
        let settings = self.settings();
        let entry = self.dir.find(class, uid, &[])?;
        let current = entry.texts(&settings.member_of_attribute);
        let named = self.dir.dns_of(&settings.group, membership.uids())?;
        let known: Vec<(String, String)> = named
            .iter()
            .cloned()
            .zip(membership.uids().iter().cloned())
            .collect();
        let changes =
            GroupChanges::plan(&current, &membership, named).keeping(settings.empty_member.clone());
        changes.apply(
            &self.dir.conn,
            &entry.dn,
            &settings.member_attribute,
            ldap::ALREADY_MEMBER,
            ldap::NOT_MEMBER,
        )?;
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let mut after: Vec<String> = current
            .into_iter()
            .filter(|dn| !changes.leave.iter().any(|l| same(l, dn)))
            .collect();
        for dn in changes.join {
            if !after.iter().any(|a| same(a, &dn)) {
                after.push(dn);
            }
        }
        let (mut groups, mut unknown) = (Vec::new(), Vec::new());
        for dn in after {
            match known.iter().find(|(k, _)| same(k, &dn)) {
                Some((_, uid)) => groups.push(uid.clone()),
                None => unknown.push(dn),
            }
        }
        if !unknown.is_empty() {
            groups.extend(self.dir.uids_of(&settings.group, &unknown)?);
        }
        self.dir
            .object_with_groups(class, &entry, &[], Some(groups))
    }

    /// An update that only adds or removes a group's members (the host
    /// sends many at once) writes them and answers the group without its
    /// members: reading back every member of a large group, each DN
    /// resolved to a uid, cost far more than the change. Adding a member
    /// already there or removing one that is not is no change, as for an
    /// account's groups; an RFC 4511 server refuses the whole modify then,
    /// so the members are changed one by one.
    fn change_members_only(
        &self,
        class: &ClassSettings,
        uid: &str,
        membership: Membership,
    ) -> Result<ConnectorObject, Error> {
        let settings = self.settings();
        let entry = self.dir.find(class, uid, &[NAME.to_owned()])?;
        let attribute = &settings.member_attribute;
        let (add, tolerated) = match &membership {
            Membership::Add(_) => (true, ldap::ALREADY_MEMBER),
            _ => (false, ldap::NOT_MEMBER),
        };
        let dns: Vec<Vec<u8>> = self
            .dir
            .dns_of(&settings.account, membership.uids())?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let conn = &self.dir.conn;
        let change = |values: Vec<Vec<u8>>| {
            if add {
                return conn.modify(&entry.dn, &[Modification::add(attribute, values)]);
            }
            let leave = Modification::delete(attribute, values);
            match (
                conn.modify(&entry.dn, std::slice::from_ref(&leave)),
                &settings.empty_member,
            ) {
                // The last member removed: the placeholder takes its place.
                (Err(ldap::LdapError::Server(r)), Some(placeholder))
                    if r.code == ldap::codes::OBJECT_CLASS_VIOLATION =>
                {
                    let keep = Modification::add(attribute, vec![placeholder.as_bytes().to_vec()]);
                    conn.modify(&entry.dn, &[keep, leave])
                }
                (outcome, _) => outcome,
            }
        };
        let no_change = |e: &ldap::LdapError| matches!(e, ldap::LdapError::Server(r) if tolerated.contains(&r.code));
        let refused = |e| undefined(conn, class, e, &[attribute]);
        match change(dns.clone()) {
            Err(e) if no_change(&e) => {
                for dn in dns {
                    match change(vec![dn]) {
                        Err(e) if no_change(&e) => {}
                        other => other.map_err(refused)?,
                    }
                }
            }
            other => other.map_err(refused)?,
        }
        self.dir.object(class, &entry, &[NAME.to_owned()])
    }

    fn member_modifications(&self, membership: Membership) -> Result<Modification, Error> {
        let settings = self.settings();
        let member = &settings.member_attribute;
        let dns: Vec<Vec<u8>> = self
            .dir
            .dns_of(&settings.account, membership.uids())?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        Ok(match membership {
            Membership::Replace(_) => Modification::replace(member, dns),
            Membership::Add(_) => Modification::add(member, dns),
            Membership::Remove(_) => Modification::delete(member, dns),
        })
    }

    fn read_back(&self, class: &ClassSettings, dn: &str) -> Result<ConnectorObject, Error> {
        let attributes = self.dir.read_attributes(class, &[]);
        let refs: Vec<&str> = attributes.iter().map(String::as_str).collect();
        let entry = self
            .dir
            .conn
            .read(dn, &refs)?
            .ok_or_else(|| Error::failed(format!("{dn} vanished after it was written")))?;
        self.dir.object(class, &entry, &[])
    }
}

impl Connector for LdapConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo::new(
            "ldap",
            env!("CARGO_PKG_VERSION"),
            "LDAP directories (OpenLDAP and RFC 4511 servers): accounts and groups",
            Capabilities::CREATE
                | Capabilities::GET
                | Capabilities::UPDATE
                | Capabilities::DELETE
                | Capabilities::SEARCH
                | Capabilities::SYNC
                | Capabilities::SCHEMA
                | Capabilities::TEST,
        )
    }

    fn open(config: &Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config)?;
        let conn = ldap::Connection::open(&settings.url, settings.start_tls)?;
        Ok(LdapConnector {
            dir: Directory { conn, settings },
            subschema: None,
        })
    }

    fn test(&mut self) -> Result<(), Error> {
        let base = &self.settings().base_dn;
        match self.dir.conn.read(base, &["objectClass"])? {
            Some(_) => Ok(()),
            None => Err(Error::invalid_attribute(
                "base_dn",
                format!("{base} does not exist in the directory (or this bind cannot see it)"),
            )),
        }
    }

    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        schema::read(&self.dir)
    }

    fn create(
        &mut self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        let class = self.settings().class(class)?.clone();
        let (dn, entry, groups) = self.new_entry(&class, &attributes)?;
        if groups.is_empty() {
            // One exchange where the server offers post-read.
            let attributes = self.dir.read_attributes(&class, &[]);
            let refs: Vec<&str> = attributes.iter().map(String::as_str).collect();
            let conn = &self.dir.conn;
            let names: Vec<&str> = entry.iter().map(|a| a.name.as_str()).collect();
            let written = conn
                .add_and_read(&dn, &entry, &refs)
                .map_err(|e| undefined(conn, &class, e, &names))?
                .ok_or_else(|| Error::failed(format!("{dn} vanished after it was added")))?;
            return self.dir.object(&class, &written, &[]);
        }
        let conn = &self.dir.conn;
        let names: Vec<&str> = entry.iter().map(|a| a.name.as_str()).collect();
        conn.add(&dn, &entry)
            .map_err(|e| undefined(conn, &class, e, &names))?;
        self.change_groups(&dn, &[], Membership::Add(groups))?;
        self.read_back(&class, &dn)
    }

    fn get(
        &mut self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let class = self.settings().class(class)?.clone();
        let entry = self.dir.find(&class, uid, attributes)?;
        self.dir.object(&class, &entry, attributes)
    }

    fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let class = self.settings().class(class)?.clone();
        let mut plan = self.plan(&class, changes)?;
        if let Some(membership) = plan.only_groups() {
            return self.change_groups_only(&class, uid, membership);
        }
        if let Some(membership) = plan.only_members_changed() {
            return self.change_members_only(&class, uid, membership);
        }
        let settings = self.settings();
        let entry = self.dir.find(&class, uid, &[GROUPS.to_owned()])?;
        let mut dn = entry.dn.clone();
        if let Some(members) = plan.members.take() {
            plan.modifications.push(self.member_modifications(members)?);
        }
        // Re-enabling an enabled account is no change, not an error.
        if let Disable::Attribute { name, .. } = &settings.disable {
            plan.modifications.retain(|m| {
                !(m.kind == ModifyKind::Delete
                    && m.values.is_empty()
                    && m.attribute.eq_ignore_ascii_case(name)
                    && !entry.has(name))
            });
        }
        if !plan.modifications.is_empty() {
            let conn = &self.dir.conn;
            let modified = match (
                conn.modify(&dn, &plan.modifications),
                &settings.empty_member,
            ) {
                // The last member removed: the placeholder takes its place.
                (Err(ldap::LdapError::Server(r)), Some(placeholder))
                    if r.code == ldap::codes::OBJECT_CLASS_VIOLATION && class.name == "group" =>
                {
                    let mut with_placeholder = plan.modifications.clone();
                    with_placeholder.push(Modification::add(
                        &settings.member_attribute,
                        vec![placeholder.as_bytes().to_vec()],
                    ));
                    conn.modify(&dn, &with_placeholder)
                }
                (outcome, _) => outcome,
            };
            modified.map_err(|e| {
                let names: Vec<&str> = plan
                    .modifications
                    .iter()
                    .map(|m| m.attribute.as_str())
                    .collect();
                undefined(conn, &class, e, &names)
            })?;
        }
        let target_base = match (plan.move_enabled, &settings.disable) {
            (Some(false), Disable::Move { base }) => Some(base.clone()),
            (Some(true), _) => Some(
                plan.new_parent
                    .clone()
                    .unwrap_or_else(|| class.base.clone()),
            ),
            _ => plan.new_parent.clone(),
        };
        let parent = ldap::parent_dn(&dn).to_owned();
        let moving = target_base
            .as_ref()
            .filter(|b| !b.eq_ignore_ascii_case(&parent));
        if plan.new_name.is_some() || moving.is_some() {
            let name = plan
                .new_name
                .clone()
                .unwrap_or_else(|| ldap::rdn_value(&dn));
            let rdn = format!("{}={}", class.naming, ldap::escape_dn_value(&name));
            self.dir
                .conn
                .modify_dn(&dn, &rdn, true, moving.map(String::as_str))?;
            dn = format!("{rdn},{}", moving.map_or(parent.as_str(), String::as_str));
        }
        if let Some(groups) = plan.groups.take() {
            let current = entry.texts(&settings.member_of_attribute);
            self.change_groups(&dn, &current, groups)?;
        }
        self.read_back(&class, &dn)
    }

    fn delete(&mut self, class: &str, uid: &str) -> Result<(), Error> {
        let class = self.settings().class(class)?.clone();
        let entry = self.dir.find(&class, uid, &["1.1".to_owned()])?;
        self.dir.conn.delete(&entry.dn)?;
        Ok(())
    }

    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let class = self.settings().class(&query.class)?.clone();
        if let Some(filter) = &query.filter {
            self.refuse_unordered(&class, filter)?;
        }
        let filter = match &query.filter {
            None => class.class_filter(),
            Some(f) => format!(
                "(&{}{})",
                class.class_filter(),
                ldap::scim_to_ldap(f, &|path| self.dir.filter_attribute(&class, &path.name))?
            ),
        };
        let attributes = self.dir.read_attributes(&class, &query.attributes);
        let request = ldap::SearchRequest::new(&class.base, ldap::Scope::Subtree, &filter)
            .attributes(&attributes.iter().map(String::as_str).collect::<Vec<_>>())
            .page_size(query.page.size);
        let cookie = ldap::decode_cookie(&query.page.cookie)?;
        let page = self.dir.conn.search_page(&request, &cookie).map_err(|e| match e {
            ldap::LdapError::Server(r) if !cookie.is_empty() && matches!(r.code, ldap::codes::PROTOCOL_ERROR | ldap::codes::UNWILLING_TO_PERFORM) => {
                Error::invalid(format!(
                    "the page cookie is no longer valid (the directory connection was re-opened): start the search again ({})",
                    r.message
                ))
            }
            other => other.into(),
        })?;
        let objects = page
            .entries
            .iter()
            .map(|e| self.dir.object(&class, e, &query.attributes))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            objects,
            cookie: ldap::encode_cookie(&page.cookie),
            remaining: None,
        })
    }

    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let class = self.settings().class(&request.class)?.clone();
        sync::changes(&self.dir, &class, request)
    }

    fn latest_sync_token(&mut self, class: &str) -> Result<String, Error> {
        self.settings().class(class)?;
        Ok(sync::now_token())
    }
}

export_connector!(LdapConnector);
