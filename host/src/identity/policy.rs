//! Roles and policy maps from the configuration, with the expressions
//! compiled: what the planner evaluates.

use crate::config::{AccountsConfig, Config, OnDelete, RoleConfig};
use crate::expr::{ExprError, Expressions};
use std::collections::{BTreeMap, BTreeSet};

/// A target's policy map, with what planning needs of the target.
#[derive(Debug, Clone)]
pub struct TargetMap {
    pub target: String,
    /// The class accounts are (the target's default class).
    pub class: String,
    pub accounts: AccountsConfig,
    pub on_delete: OnDelete,
}

/// Every role and policy map.
#[derive(Debug, Clone)]
pub struct Policies {
    pub expressions: Expressions,
    pub roles: BTreeMap<String, RoleConfig>,
    pub maps: BTreeMap<String, TargetMap>,
}

/// Why a role is held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HeldBy {
    /// Assigned in the identity's state.
    Assigned,
    /// Its `when` holds of the identity.
    Birthright,
}

/// A role an identity holds at the reference time.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HeldRole {
    pub role: String,
    pub by: HeldBy,
    /// The birthright rule that gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Policies {
    /// The policies of a loaded configuration.
    pub fn from_config(config: &Config) -> Policies {
        let maps = config
            .targets
            .iter()
            .filter_map(|(name, target)| {
                target.accounts.as_ref().map(|accounts| {
                    (
                        name.clone(),
                        TargetMap {
                            target: name.clone(),
                            class: target.class.clone(),
                            accounts: accounts.clone(),
                            on_delete: target.on_delete.clone(),
                        },
                    )
                })
            })
            .collect();
        Policies {
            expressions: config
                .expressions
                .clone()
                .expect("a loaded configuration has its expressions compiled"),
            roles: config.roles.clone(),
            maps,
        }
    }

    pub fn role_names(&self) -> BTreeSet<String> {
        self.roles.keys().cloned().collect()
    }

    /// The roles held: the assigned ones in force, then every birthright
    /// role whose rule holds in `context` (which lists the assigned ones).
    pub fn held_roles(
        &self,
        assigned: &[&crate::identity::model::RoleGrant],
        context: &crate::expr::Context,
    ) -> Result<Vec<HeldRole>, (String, ExprError)> {
        let mut held: Vec<HeldRole> = assigned
            .iter()
            .map(|g| HeldRole {
                role: g.role.clone(),
                by: HeldBy::Assigned,
                when: None,
                until: g.end.clone(),
            })
            .collect();
        for (name, role) in &self.roles {
            let Some(when) = &role.when else { continue };
            if held.iter().any(|h| &h.role == name) {
                continue;
            }
            let holds = self
                .expressions
                .holds_in(when, context)
                .map_err(|e| (format!("roles.{name}.when"), e))?;
            if holds {
                held.push(HeldRole {
                    role: name.clone(),
                    by: HeldBy::Birthright,
                    when: Some(when.clone()),
                    until: None,
                });
            }
        }
        Ok(held)
    }
}
