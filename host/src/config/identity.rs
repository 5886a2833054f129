//! What the identity layer reads from `provisio.toml`: roles
//! (`[roles.<name>]`), each target's policy map (`[targets.<t>.accounts]`)
//! and the operator tables expressions look values up in
//! (`[tables.<name>]`). docs/identities.md explains them with examples.

use crate::expr::{Expressions, Form, Tables};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[roles.<name>]`: what holding a role gives, per target.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    #[serde(default)]
    pub description: String,
    /// A birthright rule: every identity this expression holds for has
    /// the role (`department == "Sales"`), beside those it is assigned to.
    #[serde(default)]
    pub when: Option<String>,
    /// Per target: the role gives an account there, with these groups.
    #[serde(default)]
    pub targets: BTreeMap<String, RoleTarget>,
}

/// What a role gives on one target.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleTarget {
    /// Groups (a uid or a name the target knows; templates allowed:
    /// `"{{ department | lower }}"`) the account is a member of.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// `[targets.<t>.accounts]`: the policy map of a target's accounts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// Who may have an account here at all (an expression); everyone when
    /// absent.
    #[serde(default)]
    pub scope: Option<String>,
    /// A role every identity in scope holds on this target, so it keeps an
    /// account without being assigned one ("Default Provision User Role").
    #[serde(default)]
    pub default_role: Option<String>,
    /// Target attribute ← template or expression over the identity.
    #[serde(default)]
    pub attributes: BTreeMap<String, Mapping>,
    /// `random`: accounts are created with a strong password nobody sees
    /// (for targets that enable an account only with a password, such as
    /// Active Directory); the person sets their own through the target's
    /// reset process.
    #[serde(default)]
    pub initial_password: InitialPassword,
    /// Staged deprovisioning: what happens to a leaver's account, and when
    /// (after the person left). Without it, a leaver's groups are removed
    /// and the account deleted per `on_delete` at once.
    #[serde(default)]
    pub leaver: Vec<LeaverStep>,
}

/// One step of a leaver schedule: `{ after = "30d", do = "delete" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LeaverStep {
    #[serde(with = "humantime_serde")]
    pub after: std::time::Duration,
    #[serde(rename = "do")]
    pub action: LeaverAction,
}

/// What a leaver step does.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum LeaverAction {
    /// `disable`, `remove-groups` or `delete` (a delete operation, which
    /// the target's `on_delete` carries out).
    Named(LeaverNamed),
    /// `{ update = { description = "left 2026" } }`: these values written.
    Update {
        update: BTreeMap<String, toml::Value>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LeaverNamed {
    Disable,
    RemoveGroups,
    Delete,
}

impl LeaverAction {
    pub fn name(&self) -> &'static str {
        match self {
            LeaverAction::Named(LeaverNamed::Disable) => "disable",
            LeaverAction::Named(LeaverNamed::RemoveGroups) => "remove-groups",
            LeaverAction::Named(LeaverNamed::Delete) => "delete",
            LeaverAction::Update { .. } => "update",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InitialPassword {
    #[default]
    None,
    Random,
}

/// One attribute of a policy map: a template (`"{{ last }}"`), or a table
/// with the template or expression and its options.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Mapping {
    Template(String),
    Full(MappingOptions),
}

fn default_max_counter() -> u32 {
    99
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MappingOptions {
    /// A template: gives text.
    #[serde(default)]
    pub value: Option<String>,
    /// An expression: gives any value (a list is several values; none,
    /// `""` or `[]` is no value).
    #[serde(default)]
    pub expr: Option<String>,
    /// Candidates (templates) tried in order until one is free on the
    /// target and in what is being planned: one that reads `n` is tried
    /// with `n` = 2, 3, … up to `max_counter`.
    #[serde(default)]
    pub unique: Vec<String>,
    #[serde(default = "default_max_counter")]
    pub max_counter: u32,
    /// Written when the account is created, never afterwards.
    #[serde(default)]
    pub create_only: bool,
    /// `strong` (the default) keeps the target's value equal to the
    /// mapping's; `weak` writes only when the target has no value.
    #[serde(default)]
    pub strength: Strength,
}

#[derive(
    Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    #[default]
    Strong,
    Weak,
}

impl Mapping {
    /// The source and its form.
    pub fn source(&self) -> Result<(Form, &str), &'static str> {
        match self {
            Mapping::Template(text) => Ok((Form::Template, text)),
            Mapping::Full(options) => match (&options.value, &options.expr, options.unique.first())
            {
                (Some(text), None, None) => Ok((Form::Template, text)),
                (None, Some(text), None) => Ok((Form::Expression, text)),
                (None, None, Some(first)) => Ok((Form::Template, first)),
                (None, None, None) => Err(
                    "needs `value` (a template), `expr` (an expression) or `unique` (candidates)",
                ),
                _ => Err("give one of `value`, `expr` and `unique`"),
            },
        }
    }

    /// The candidates of a uniqueness rule and the highest counter.
    pub fn unique(&self) -> Option<(&[String], u32)> {
        match self {
            Mapping::Full(o) if !o.unique.is_empty() => Some((&o.unique, o.max_counter)),
            _ => None,
        }
    }

    pub fn create_only(&self) -> bool {
        matches!(self, Mapping::Full(o) if o.create_only)
    }

    pub fn strength(&self) -> Strength {
        match self {
            Mapping::Template(_) => Strength::Strong,
            Mapping::Full(o) => o.strength,
        }
    }
}

/// Every expression of the configuration, keyed the way an error names it.
pub struct Sources<'a> {
    pub keyed: Vec<(String, Form, &'a str)>,
}

/// Collects the sources of roles and policy maps, checking what needs no
/// compiling; the error is `(key, reason)`.
pub fn sources<'a>(
    roles: &'a BTreeMap<String, RoleConfig>,
    accounts: impl Iterator<Item = (&'a str, &'a AccountsConfig)>,
) -> Result<Sources<'a>, (String, String)> {
    let mut keyed = Vec::new();
    for (name, role) in roles {
        if let Some(when) = &role.when {
            keyed.push((
                format!("roles.{name}.when"),
                Form::Expression,
                when.as_str(),
            ));
        }
        for (target, gives) in &role.targets {
            for (i, group) in gives.groups.iter().enumerate() {
                keyed.push((
                    format!("roles.{name}.targets.{target}.groups[{i}]"),
                    Form::Template,
                    group.as_str(),
                ));
            }
        }
    }
    for (target, map) in accounts {
        if let Some(scope) = &map.scope {
            keyed.push((
                format!("targets.{target}.accounts.scope"),
                Form::Expression,
                scope.as_str(),
            ));
        }
        for (attribute, mapping) in &map.attributes {
            let key = format!("targets.{target}.accounts.attributes.{attribute}");
            let (form, text) = mapping.source().map_err(|e| (key.clone(), e.to_owned()))?;
            match mapping.unique() {
                None => keyed.push((key, form, text)),
                Some((candidates, max_counter)) => {
                    if max_counter < 2 {
                        return Err((
                            format!("{key}.max_counter"),
                            "must be at least 2 (the first counted candidate is n = 2)".into(),
                        ));
                    }
                    for (i, candidate) in candidates.iter().enumerate() {
                        keyed.push((format!("{key}.unique[{i}]"), Form::Template, candidate));
                    }
                }
            }
        }
    }
    Ok(Sources { keyed })
}

/// Compiles every source; the error names the key and the position.
pub fn compile(tables: &Tables, sources: &Sources<'_>) -> Result<Expressions, (String, String)> {
    Expressions::new(tables, sources.keyed.iter().map(|(_, f, t)| (*f, *t))).map_err(|(i, e)| {
        let key = sources.keyed[i].0.clone();
        (key, e.message)
    })
}
