//! The connector's configuration.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `url` | required | `ldap://host:port` or `ldaps://host:port` (granted under `grants.ldap.urls`) |
//! | `start_tls` | `false` | upgrade an `ldap://` connection with StartTLS |
//! | `base_dn` | required | the directory's suffix, e.g. `dc=example,dc=com` |
//! | `page_size` | `500` | entries per page when the connector reads many |
//! | `<class>.base` | `base_dn` | where the class's entries live (`account`, `group`) |
//! | `<class>.object_classes` | `inetOrgPerson` / `groupOfNames` | objectClass values of new entries (comma-separated) |
//! | `<class>.naming_attribute` | `uid` / `cn` | the RDN attribute; `__name__` is its value |
//! | `<class>.uid_attribute` | `entryUUID` | the attribute that identifies an entry for good |
//! | `<class>.attribute.<name>` | `<name>` | the LDAP attribute behind attribute `<name>` |
//! | `group.member_attribute` | `member` | DN-valued membership attribute of groups |
//! | `group.empty_member` | none | a DN kept as the member of a group that has no other (`groupOfNames` requires one, RFC 4519); never reported as a member |
//! | `account.member_of_attribute` | `memberOf` | the back-link the server maintains |
//! | `account.password_attribute` | `userPassword` | where `__password__` goes |
//! | `account.disable` | `attribute` | `attribute` (set `disable_attribute` to `disable_value`), `move` (to `disabled_base`), or `none` |
//! | `account.disable_attribute` | `pwdAccountLockedTime` | with `disable = attribute` |
//! | `account.disable_value` | `000001010000Z` | ppolicy's "locked until an administrator unlocks" |
//! | `account.disabled_base` | none | with `disable = move`: where disabled accounts go |
//! | `sync.accesslog_base` | none | OpenLDAP accesslog suffix (e.g. `cn=accesslog`): reports deletes |

use provisio_sdk::ldap::AttributeMap;
use provisio_sdk::{Config, Error};

#[derive(Debug, Clone, PartialEq)]
pub enum Disable {
    None,
    Attribute { name: String, value: String },
    Move { base: String },
}

#[derive(Debug, Clone)]
pub struct ClassSettings {
    pub name: &'static str,
    pub base: String,
    pub object_classes: Vec<String>,
    pub naming: String,
    pub uid: String,
    /// Provisio attribute → LDAP attribute, for those that differ.
    pub mapping: AttributeMap,
    /// `(objectClass=<structural class>)`: the last configured class.
    pub filter: String,
}

impl ClassSettings {
    fn from_config(
        config: &Config,
        name: &'static str,
        base_dn: &str,
        object_class: &str,
        naming: &str,
    ) -> Result<Self, Error> {
        let key = |k: &str| format!("{name}.{k}");
        let mapping = AttributeMap::new(config.prefixed(&format!("{name}.attribute.")));
        let mut object_classes = config.list(&key("object_classes"), ',');
        if object_classes.is_empty() {
            object_classes.push(object_class.to_owned());
        }
        let structural = object_classes.last().expect("at least one object class");
        let filter = format!(
            "(objectClass={})",
            provisio_sdk::ldap::escape_filter_value(structural)
        );
        Ok(ClassSettings {
            filter,
            name,
            base: config
                .get(&key("base"))
                .unwrap_or_else(|| base_dn.to_owned()),
            object_classes,
            naming: config
                .get(&key("naming_attribute"))
                .unwrap_or_else(|| naming.to_owned()),
            uid: config
                .get(&key("uid_attribute"))
                .unwrap_or_else(|| "entryUUID".to_owned()),
            mapping,
        })
    }

    /// The LDAP attribute behind a Provisio attribute.
    pub fn ldap_name<'a>(&'a self, attribute: &'a str) -> &'a str {
        self.mapping.ldap_name(attribute)
    }

    /// The Provisio attribute behind an LDAP attribute.
    pub fn provisio_name<'a>(&'a self, ldap: &'a str) -> &'a str {
        self.mapping.provisio_name(ldap)
    }

    /// Whether the mapping gave this LDAP attribute's name to another one.
    pub fn shadowed(&self, ldap: &str) -> bool {
        self.mapping.shadowed(ldap)
    }

    /// `(objectClass=<structural class>)`.
    pub fn class_filter(&self) -> String {
        self.filter.clone()
    }
}

pub struct Settings {
    pub url: String,
    pub start_tls: bool,
    pub base_dn: String,
    pub page_size: u32,
    pub account: ClassSettings,
    pub group: ClassSettings,
    pub member_attribute: String,
    /// The placeholder member of a group with no other, if configured.
    pub empty_member: Option<String>,
    pub member_of_attribute: String,
    pub password_attribute: String,
    pub disable: Disable,
    pub accesslog_base: Option<String>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let url = config.require("url")?;
        let base_dn = config.require("base_dn")?;
        let page_size: u32 = config.parse_or("page_size", 500)?;
        if page_size == 0 {
            return Err(Error::invalid_attribute("page_size", "must be at least 1"));
        }
        let disable = match config.get("account.disable").as_deref() {
            None | Some("attribute") => Disable::Attribute {
                name: config
                    .get("account.disable_attribute")
                    .unwrap_or_else(|| "pwdAccountLockedTime".into()),
                value: config
                    .get("account.disable_value")
                    .unwrap_or_else(|| "000001010000Z".into()),
            },
            Some("move") => Disable::Move {
                base: config.require("account.disabled_base")?,
            },
            Some("none") => Disable::None,
            Some(other) => {
                return Err(Error::invalid_attribute(
                    "account.disable",
                    format!("{other:?} is not attribute, move or none"),
                ));
            }
        };
        Ok(Settings {
            start_tls: config.flag("start_tls", false)?,
            account: ClassSettings::from_config(
                config,
                "account",
                &base_dn,
                "inetOrgPerson",
                "uid",
            )?,
            group: ClassSettings::from_config(config, "group", &base_dn, "groupOfNames", "cn")?,
            member_attribute: config
                .get("group.member_attribute")
                .unwrap_or_else(|| "member".into()),
            empty_member: config
                .get("group.empty_member")
                .filter(|dn| !dn.trim().is_empty()),
            member_of_attribute: config
                .get("account.member_of_attribute")
                .unwrap_or_else(|| "memberOf".into()),
            password_attribute: config
                .get("account.password_attribute")
                .unwrap_or_else(|| "userPassword".into()),
            accesslog_base: config.get("sync.accesslog_base"),
            disable,
            url,
            base_dn,
            page_size,
        })
    }

    pub fn class(&self, name: &str) -> Result<&ClassSettings, Error> {
        match name {
            "account" => Ok(&self.account),
            "group" => Ok(&self.group),
            other => Err(Error::invalid(format!(
                "unknown object class {other:?}: this connector serves account and group"
            ))),
        }
    }
}
