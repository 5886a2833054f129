//! The connector's configuration.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `base_url` | required | the service's SCIM root, e.g. `https://api.example.com/scim/v2` |
//! | secret `token` | none | bearer token |
//! | secrets `username`, `password` | none | HTTP basic credentials (when no token) |
//! | `oauth.token_url` | none | OAuth 2.0 client credentials: the token endpoint (grant it too) |
//! | secrets `client_id`, `client_secret` | none | the client's credentials, with `oauth.token_url` |
//! | `oauth.scope` | none | the scope to ask for |
//! | `account.attribute.<name>` | see [`DEFAULT_USER_MAPPING`] | the SCIM path behind attribute `<name>` |
//! | `group.attribute.<name>` | `members` → `members` | the same for groups |

use provisio_sdk::{Config, Error, Secret};
use std::collections::BTreeMap;

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Attributes every account has unless the operator maps them otherwise.
pub const DEFAULT_USER_MAPPING: &[(&str, &str)] = &[
    ("externalId", "externalId"),
    ("displayName", "displayName"),
    ("givenName", "name.givenName"),
    ("familyName", "name.familyName"),
    ("title", "title"),
    ("mail", "emails[type eq \"work\"].value"),
    ("phone", "phoneNumbers[type eq \"work\"].value"),
    (
        "department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ),
    (
        "employeeNumber",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ),
    (
        "manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ),
];

pub enum Credentials {
    Bearer(Secret),
    Basic(Secret, Secret),
    ClientCredentials {
        token_url: String,
        client_id: Secret,
        client_secret: Secret,
        scope: Option<String>,
    },
    None,
}

pub struct Settings {
    pub base_url: String,
    pub credentials: Credentials,
    pub user_mapping: BTreeMap<String, String>,
    pub group_mapping: BTreeMap<String, String>,
}

fn mapping(config: &Config, class: &str, defaults: &[(&str, &str)]) -> BTreeMap<String, String> {
    let configured = config.prefixed(&format!("{class}.attribute."));
    if configured.is_empty() {
        defaults
            .iter()
            .map(|(a, p)| ((*a).to_owned(), (*p).to_owned()))
            .collect()
    } else {
        configured
    }
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let base_url = config.require("base_url")?.trim_end_matches('/').to_owned();
        let credentials = match (
            config.get("oauth.token_url"),
            config.secret("token"),
            config.secret("username"),
            config.secret("password"),
        ) {
            (Some(token_url), _, _, _) => Credentials::ClientCredentials {
                token_url,
                client_id: config.require_secret("client_id")?,
                client_secret: config.require_secret("client_secret")?,
                scope: config.get("oauth.scope"),
            },
            (None, Some(token), _, _) => Credentials::Bearer(token),
            (None, None, Some(user), Some(password)) => Credentials::Basic(user, password),
            _ => Credentials::None,
        };
        Ok(Settings {
            base_url,
            credentials,
            user_mapping: mapping(config, "account", DEFAULT_USER_MAPPING),
            group_mapping: mapping(config, "group", &[("members", "members")]),
        })
    }
}
