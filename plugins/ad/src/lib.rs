//! Provisio connector for Active Directory (and Samba AD domain
//! controllers): users, groups and organizational units through the host's
//! `provisio:ldap` capability. See [`settings`] for the configuration and
//! `docs/connectors/ad.md` for the operator's guide.
//!
//! - uid: `objectGUID` as a GUID string; name: `sAMAccountName` (OUs: `ou`).
//! - A new account needs its name (`__name__`, the sAMAccountName): the
//!   host's policy maps make unique ones (`smithw`, `smithw2`, …) by asking
//!   the domain through `search`.
//! - `__enable__` flips bit 2 (ACCOUNTDISABLE) of `userAccountControl` and
//!   keeps every other bit; `__password__` writes `unicodePwd` (quoted,
//!   UTF-16LE) and is refused on an unencrypted connection before anything
//!   is sent.
//! - An OU rule (`account.ou_from`) places accounts and moves them when the
//!   value changes; `account.disabled_ou` parks disabled accounts.
//! - `sync` follows `uSNChanged`, and deletes through AD's tombstones.

mod account;
mod directory;
mod errors;
mod group;
mod guid;
mod schema;
pub mod settings;
mod sync;

use errors::ad_error;
use provisio_sdk::ldap::{self, Connection, Scope, SearchRequest};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{
    Attribute, AttributeChange, Capabilities, Config, Connector, ConnectorInfo, ConnectorObject,
    Error, ObjectSchema, Page, Query, SyncBatch, SyncRequest, export_connector,
};
use settings::Settings;

/// A group's members, as uids.
pub const MEMBERS: &str = "members";
/// An OU's parent DN on create.
pub const PARENT: &str = "parent";

/// userAccountControl bits.
const ACCOUNTDISABLE: i64 = 0x2;
const NORMAL_ACCOUNT: i64 = 0x200;

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

    /// The structural object class of the class's entries.
    fn object_class(self) -> &'static str {
        match self {
            Class::Account => "user",
            Class::Group => "group",
            Class::Ou => "organizationalUnit",
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
                | Capabilities::SCHEMA
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

    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        self.read_schema()
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
