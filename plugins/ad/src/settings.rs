//! The connector's configuration.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `url` | required | `ldaps://dc:636` (or `ldap://` with `start_tls`; passwords are refused on a plain connection) |
//! | `start_tls` | `false` | upgrade an `ldap://` connection with StartTLS |
//! | `base_dn` | required | the domain, e.g. `DC=example,DC=test` |
//! | `page_size` | `500` | entries per page; at most AD's MaxPageSize, 1000 |
//! | `account.base` | `CN=Users,<base_dn>` | where new accounts go when no OU rule places them |
//! | `group.base` | `CN=Users,<base_dn>` | where new groups go |
//! | `ou.base` | `<base_dn>` | where new OUs go (unless `parent` is given) |
//! | `account.attribute.<name>` | `<name>` | the AD attribute behind attribute `<name>` |
//! | `account.upn_suffix` | none | `userPrincipalName` = `<sAMAccountName>@<suffix>` when not given |
//! | `account.ou_from` | none | the attribute whose value places the account (e.g. `department`) |
//! | `account.ou.<value>` | none | the OU for that value, e.g. `account.ou.Engineering = OU=Engineering,DC=example,DC=test` |
//! | `account.disabled_ou` | none | disabled accounts move here, and back when enabled |
//! | `group.member_range` | `1000` | `member` values read per request (ranged retrieval; AD's MaxValRange is 1500) |

use provisio_sdk::ldap::AttributeMap;
use provisio_sdk::{Config, Error};
use std::collections::BTreeMap;

/// AD's default MaxPageSize.
pub const MAX_PAGE_SIZE: u32 = 1000;

pub struct Settings {
    pub url: String,
    pub start_tls: bool,
    pub base_dn: String,
    pub page_size: u32,
    pub account_base: String,
    pub group_base: String,
    pub ou_base: String,
    pub mapping: AttributeMap,
    pub upn_suffix: Option<String>,
    pub ou_from: Option<String>,
    /// Value of `ou_from` (lower-case) → OU.
    pub ou_by_value: BTreeMap<String, String>,
    pub disabled_ou: Option<String>,
    pub member_range: usize,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let base_dn = config.require("base_dn")?;
        let page_size: u32 = config.parse_or("page_size", 500)?;
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(Error::invalid_attribute(
                "page_size",
                format!("{page_size} is not between 1 and AD's MaxPageSize of {MAX_PAGE_SIZE}"),
            ));
        }
        if config.get("account.mail_domain").is_some() {
            return Err(Error::invalid_attribute(
                "account.mail_domain",
                "the connector no longer makes addresses: give mail in the target's policy map, with a uniqueness rule (docs/identities.md)",
            ));
        }
        let users = format!("CN=Users,{base_dn}");
        Ok(Settings {
            url: config.require("url")?,
            start_tls: config.flag("start_tls", false)?,
            page_size,
            account_base: config.get("account.base").unwrap_or_else(|| users.clone()),
            group_base: config.get("group.base").unwrap_or(users),
            ou_base: config.get("ou.base").unwrap_or_else(|| base_dn.clone()),
            mapping: AttributeMap::new(config.prefixed("account.attribute.")),
            upn_suffix: config.get("account.upn_suffix"),
            ou_from: config.get("account.ou_from"),
            ou_by_value: config
                .prefixed("account.ou.")
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
            disabled_ou: config.get("account.disabled_ou"),
            member_range: match config.parse_or("group.member_range", 1000usize)? {
                0 => {
                    return Err(Error::invalid_attribute(
                        "group.member_range",
                        "must be at least 1",
                    ));
                }
                n => n,
            },
            base_dn,
        })
    }

    /// The AD attribute behind a Provisio attribute of an account.
    pub fn ldap_name<'a>(&'a self, attribute: &'a str) -> &'a str {
        self.mapping.ldap_name(attribute)
    }

    pub fn provisio_name<'a>(&'a self, ldap: &'a str) -> &'a str {
        self.mapping.provisio_name(ldap)
    }

    /// Whether the mapping gave this AD attribute's name to another one.
    pub fn shadowed(&self, ldap: &str) -> bool {
        self.mapping.shadowed(ldap)
    }

    /// Where an account with `ou_value` lives while enabled.
    pub fn home_ou(&self, ou_value: Option<&str>) -> String {
        ou_value
            .and_then(|v| self.ou_by_value.get(&v.to_lowercase()))
            .cloned()
            .unwrap_or_else(|| self.account_base.clone())
    }
}
