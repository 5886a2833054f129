//! An identity's desired state as callers send it, and its checks.

use super::profile::Profile;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// Profile attributes one identity may have.
pub const MAX_PROFILE_ATTRIBUTES: usize = 500;
/// Bytes one identity's state may take as JSON.
pub const MAX_STATE_BYTES: usize = 64 * 1024;
/// Roles one identity may be assigned.
pub const MAX_ROLES: usize = 200;

/// `active`, `suspended` (extended leave: accounts disabled, kept) or
/// `terminated` (accounts deprovisioned per each target's `on_delete`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Suspended,
    Terminated,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Terminated => "terminated",
        }
    }
}

/// A role held from `start` until `end` (RFC 3339 or a calendar date;
/// either may be absent). A bare name is a role held without dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(from = "GrantInput")]
pub struct RoleGrant {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GrantInput {
    Name(String),
    Full {
        role: String,
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
    },
}

impl From<GrantInput> for RoleGrant {
    fn from(input: GrantInput) -> Self {
        match input {
            GrantInput::Name(role) => RoleGrant {
                role,
                start: None,
                end: None,
            },
            GrantInput::Full { role, start, end } => RoleGrant { role, start, end },
        }
    }
}

/// What should be true about a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesiredState {
    /// Attributes from HR (`first`, `last`, `department`, …): text,
    /// numbers, booleans, or lists of them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub profile: Profile,
    #[serde(default)]
    pub roles: Vec<RoleGrant>,
    #[serde(default)]
    pub status: Status,
    /// Before this date the person's accounts exist but are disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// From this date the person is treated as terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

/// A desired state that cannot be accepted, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidIdentity {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidIdentity {
    InvalidIdentity {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks an identity id: 1 to 256 characters, none of them control
/// characters or `/`.
pub fn check_id(id: &str) -> Result<(), InvalidIdentity> {
    if id.is_empty() || id.chars().count() > 256 {
        return Err(invalid("id", "must be 1 to 256 characters"));
    }
    if id.chars().any(|c| c.is_control() || c == '/') || id.trim() != id {
        return Err(invalid(
            "id",
            "must not contain control characters or `/`, nor start or end with spaces",
        ));
    }
    if id.starts_with(ORPHAN_PREFIX) {
        return Err(invalid(
            "id",
            "`orphan:` starts the stand-in identities reconciliation links orphan accounts to",
        ));
    }
    Ok(())
}

/// What the stand-in identity of an orphan account reconciliation acts on
/// starts with (docs/reconciliation.md).
pub const ORPHAN_PREFIX: &str = "orphan:";

fn check_date(field: &str, value: &str) -> Result<String, InvalidIdentity> {
    crate::expr::canonical_date(value).map_err(|reason| invalid(field, reason))
}

fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
}

/// Names the identity layer puts beside the profile in an expression's
/// context: a profile attribute of one of these names is read as
/// `profile.<name>`.
pub const RESERVED: &[&str] = &[
    "profile",
    "id",
    "status",
    "roles",
    "start_date",
    "end_date",
    "now",
    // The counter of uniqueness rules.
    "n",
];

impl DesiredState {
    /// The state with dates made canonical, or what is wrong with it.
    pub fn checked(
        mut self,
        known_roles: &BTreeSet<String>,
    ) -> Result<DesiredState, InvalidIdentity> {
        if self.profile.len() > MAX_PROFILE_ATTRIBUTES {
            return Err(invalid(
                "profile",
                format!(
                    "has {} attributes, more than {MAX_PROFILE_ATTRIBUTES}",
                    self.profile.len()
                ),
            ));
        }
        for (name, value) in &self.profile {
            if !check_name(name) {
                return Err(invalid(
                    format!("profile.{name}"),
                    "an attribute name is 1 to 128 letters, digits, `_`, `-` or `.`",
                ));
            }
            let scalar = |v: &Json| matches!(v, Json::String(_) | Json::Number(_) | Json::Bool(_));
            let fine = match value {
                Json::Null => true,
                Json::Array(items) => items.iter().all(scalar),
                other => scalar(other),
            };
            if !fine {
                return Err(invalid(
                    format!("profile.{name}"),
                    "is a nested object or list; a value is text, a number, a boolean or a list of those",
                ));
            }
        }
        if self.roles.len() > MAX_ROLES {
            return Err(invalid(
                "roles",
                format!("has {} roles, more than {MAX_ROLES}", self.roles.len()),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, grant) in self.roles.iter_mut().enumerate() {
            if !known_roles.contains(&grant.role) {
                return Err(invalid(
                    format!("roles[{i}]"),
                    format!(
                        "there is no role `{}` (roles: {})",
                        grant.role,
                        if known_roles.is_empty() {
                            "none are configured".to_owned()
                        } else {
                            known_roles.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                ));
            }
            if !seen.insert(grant.role.clone()) {
                return Err(invalid(
                    format!("roles[{i}]"),
                    format!("`{}` is listed twice", grant.role),
                ));
            }
            if let Some(start) = &grant.start {
                grant.start = Some(check_date(&format!("roles[{i}].start"), start)?);
            }
            if let Some(end) = &grant.end {
                grant.end = Some(check_date(&format!("roles[{i}].end"), end)?);
            }
            if let (Some(start), Some(end)) = (&grant.start, &grant.end)
                && end < start
            {
                return Err(invalid(format!("roles[{i}].end"), "is before its start"));
            }
        }
        if let Some(date) = &self.start_date {
            self.start_date = Some(check_date("start_date", date)?);
        }
        if let Some(date) = &self.end_date {
            self.end_date = Some(check_date("end_date", date)?);
        }
        let size = serde_json::to_string(&self).map_or(usize::MAX, |s| s.len());
        if size > MAX_STATE_BYTES {
            return Err(invalid(
                "profile",
                format!("the identity is {size} bytes, more than {MAX_STATE_BYTES}"),
            ));
        }
        Ok(self)
    }

    /// The context expressions see at `now` (RFC 3339), with the roles
    /// the identity holds then.
    pub fn context(&self, id: &str, now: &str, roles: &[String]) -> Json {
        let mut context = serde_json::Map::new();
        for (name, value) in &self.profile {
            if !RESERVED.contains(&name.as_str()) {
                context.insert(name.clone(), value.clone());
            }
        }
        context.insert(
            "profile".into(),
            serde_json::to_value(&self.profile).unwrap_or_default(),
        );
        context.insert("id".into(), Json::String(id.to_owned()));
        context.insert(
            "status".into(),
            Json::String(self.status_at(now).as_str().into()),
        );
        context.insert("roles".into(), Json::from(roles.to_vec()));
        context.insert(
            "start_date".into(),
            self.start_date.clone().map_or(Json::Null, Json::String),
        );
        context.insert(
            "end_date".into(),
            self.end_date.clone().map_or(Json::Null, Json::String),
        );
        context.insert("now".into(), Json::String(now.to_owned()));
        Json::Object(context)
    }

    /// The status at `now`: terminated from the end date on.
    pub fn status_at(&self, now: &str) -> Status {
        match &self.end_date {
            Some(end) if end.as_str() <= now => Status::Terminated,
            _ => self.status,
        }
    }

    /// Whether the start date (if any) has come.
    pub fn started_at(&self, now: &str) -> bool {
        self.start_date.as_deref().is_none_or(|start| start <= now)
    }

    /// The assigned roles in force at `now`.
    pub fn roles_at(&self, now: &str) -> Vec<&RoleGrant> {
        self.roles
            .iter()
            .filter(|g| g.start.as_deref().is_none_or(|s| s <= now))
            .filter(|g| g.end.as_deref().is_none_or(|e| e > now))
            .collect()
    }

    /// The fields that differ in `after` (`profile.department`, `roles`,
    /// `status`, `start_date`, `end_date`): names, never values, for the
    /// audit log and a source run's reasons.
    pub fn changed_fields(&self, after: &DesiredState) -> Vec<String> {
        let keys: BTreeSet<&String> = self.profile.keys().chain(after.profile.keys()).collect();
        let mut fields: Vec<String> = keys
            .into_iter()
            .filter(|key| self.profile.get(key) != after.profile.get(key))
            .map(|key| format!("profile.{key}"))
            .collect();
        let others = [
            ("roles", self.roles != after.roles),
            ("status", self.status != after.status),
            ("start_date", self.start_date != after.start_date),
            ("end_date", self.end_date != after.end_date),
        ];
        fields.extend(
            others
                .iter()
                .filter(|(_, d)| *d)
                .map(|(n, _)| (*n).to_owned()),
        );
        fields
    }

    /// The first date after `now` at which the plan may change.
    pub fn next_date_after(&self, now: &str) -> Option<String> {
        let mut dates: Vec<&str> = Vec::new();
        dates.extend(self.start_date.as_deref());
        dates.extend(self.end_date.as_deref());
        for grant in &self.roles {
            dates.extend(grant.start.as_deref());
            dates.extend(grant.end.as_deref());
        }
        dates
            .into_iter()
            .filter(|d| *d > now)
            .min()
            .map(str::to_owned)
    }
}
