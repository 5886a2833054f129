//! The connector's configuration, read once per instance.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `database` | `main` | the granted database, by the name the operator gave it |
//! | `classes` | `account` | object classes, one table each |
//! | `<class>.table` | `<class>s` | the table |
//! | `<class>.key` | `id` | key column: the object's uid |
//! | `<class>.key_generated` | `false` | the database fills the key (identity, serial, rowid) |
//! | `<class>.name` | the key column | naming column (`__name__`) |
//! | `<class>.enable` | none | boolean column holding `__enable__` |
//! | `<class>.password` | none | column holding the hash of `__password__` |
//! | `<class>.updated` | none | change timestamp the connector sets on every write; `sync` reads it |
//! | `<class>.deletes.table` | none | a table a trigger fills with deleted keys; `sync` reports them as deletes |
//! | `<class>.deletes.key` / `<class>.deletes.at` | the key column / `deleted_at` | its columns (same types as the key and `updated` columns) |
//! | `<class>.columns` | every other column | columns exposed as attributes |
//! | `<class>.attribute.<name>` | the same name | the column behind attribute `<name>` |
//! | `membership.table` | none | a table of (account, group) rows behind `__groups__` |
//! | `membership.account` / `membership.group` | `account_id` / `group_id` | its columns |
//! | `password.hash` | `argon2id` | `argon2id` or `pbkdf2-sha256` |

use provisio_sdk::{Config, Error};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: String,
    pub classes: Vec<ClassSettings>,
    pub membership: Option<MembershipTable>,
    pub password_hash: PasswordHash,
}

#[derive(Debug, Clone)]
pub struct ClassSettings {
    pub class: String,
    pub table: String,
    pub key: String,
    pub key_generated: bool,
    pub name: String,
    pub enable: Option<String>,
    pub password: Option<String>,
    pub updated: Option<String>,
    /// Where deleted keys are recorded, for `sync`.
    pub deletes: Option<Deletes>,
    /// Columns exposed as attributes, when the operator lists them.
    pub columns: Option<Vec<String>>,
    /// attribute name → column.
    pub renames: BTreeMap<String, String>,
}

/// A tombstone table: one row per deleted object, written by a trigger.
#[derive(Debug, Clone)]
pub struct Deletes {
    pub table: String,
    /// Holds the deleted row's key.
    pub key: String,
    /// When it was deleted, of the same type as the `updated` column.
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct MembershipTable {
    pub table: String,
    pub account: String,
    pub group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHash {
    Argon2id,
    Pbkdf2Sha256,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let class_names = match config.get("classes") {
            Some(_) => config.list("classes", ','),
            None => vec!["account".to_owned()],
        };
        if class_names.is_empty() {
            return Err(Error::invalid("configuration key `classes` names no class"));
        }
        let mut classes = Vec::new();
        for class in class_names {
            let get = |k: &str| config.get(&format!("{class}.{k}"));
            let key = get("key").unwrap_or_else(|| "id".to_owned());
            let renames = config
                .prefixed(&format!("{class}.attribute."))
                .into_iter()
                .collect();
            let deletes = get("deletes.table").map(|table| Deletes {
                table,
                key: get("deletes.key").unwrap_or_else(|| key.clone()),
                at: get("deletes.at").unwrap_or_else(|| "deleted_at".into()),
            });
            if deletes.is_some() && get("updated").is_none() {
                return Err(Error::invalid(format!(
                    "configuration key `{class}.deletes.table` needs `{class}.updated`: sync reads both"
                )));
            }
            classes.push(ClassSettings {
                deletes,
                table: get("table").unwrap_or_else(|| format!("{class}s")),
                key_generated: config.flag(&format!("{class}.key_generated"), false)?,
                name: get("name").unwrap_or_else(|| key.clone()),
                key,
                enable: get("enable"),
                password: get("password"),
                updated: get("updated"),
                columns: get("columns").map(|_| config.list(&format!("{class}.columns"), ',')),
                renames,
                class,
            });
        }
        let membership = config.get("membership.table").map(|table| MembershipTable {
            table,
            account: config
                .get("membership.account")
                .unwrap_or_else(|| "account_id".into()),
            group: config
                .get("membership.group")
                .unwrap_or_else(|| "group_id".into()),
        });
        let password_hash = match config.get("password.hash").as_deref() {
            None | Some("argon2id") => PasswordHash::Argon2id,
            Some("pbkdf2-sha256") => PasswordHash::Pbkdf2Sha256,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "configuration key `password.hash`: unknown algorithm {other:?} (argon2id, pbkdf2-sha256)"
                )));
            }
        };
        Ok(Settings {
            database: config.get("database").unwrap_or_else(|| "main".into()),
            classes,
            membership,
            password_hash,
        })
    }

    pub fn class(&self, class: &str) -> Result<&ClassSettings, Error> {
        self.classes
            .iter()
            .find(|c| c.class.eq_ignore_ascii_case(class))
            .ok_or_else(|| {
                let known: Vec<&str> = self.classes.iter().map(|c| c.class.as_str()).collect();
                Error::invalid(format!(
                    "unknown object class {class:?} (this target serves: {})",
                    known.join(", ")
                ))
            })
    }
}
