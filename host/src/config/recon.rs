//! `[targets.<t>.reconciliation]`: how a target's accounts are compared
//! with what Provisio expects — which identity an unlinked account belongs
//! to (correlation), what each situation leads to (reactions) and how many
//! disables and deletes a run may make before an operator confirms it.
//! docs/reconciliation.md explains them with examples.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReconConfig {
    /// Ordered correlation rules: the first that matches exactly one
    /// identity links an unlinked account to it.
    #[serde(default)]
    pub correlation: Vec<CorrelationRule>,
    /// What each situation leads to; `report` for every one not named.
    #[serde(default)]
    pub reactions: BTreeMap<Situation, Reaction>,
    /// Disables and deletes one run may make without an operator's
    /// confirmation.
    #[serde(default = "default_max_deletes")]
    pub max_deletes: u64,
    /// …or this share (0 to 1) of the accounts the run saw.
    #[serde(default)]
    pub max_delete_share: Option<f64>,
    /// Reconcile every interval (none: only on request).
    #[serde(default, with = "humantime_serde::option")]
    pub interval: Option<Duration>,
    /// Live reconciliation: ask the connector's `sync` for changes every
    /// interval and classify what changed, with the same reactions.
    #[serde(default, with = "humantime_serde::option")]
    pub live: Option<Duration>,
}

fn default_max_deletes() -> u64 {
    10
}

/// Account attributes equal to identity fields (`id`, or a profile
/// attribute), all of them, after normalising.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CorrelationRule {
    /// Account attribute → identity field.
    #[serde(rename = "match")]
    pub equal: BTreeMap<String, String>,
    #[serde(default)]
    pub normalize: Vec<Normalize>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Letters compare ignoring case.
    Case,
    /// Leading and trailing spaces dropped, runs of spaces as one.
    Whitespace,
    /// Accented letters as their ASCII base (`Ødegård` = `Odegard`).
    Diacritics,
}

/// Where an account stands against what Provisio expects.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Situation {
    /// Linked, and holds what the policy map gives.
    InSync,
    /// Linked, and some attribute differs from the policy map.
    Drifted,
    /// Not linked; one identity matches.
    Unlinked,
    /// Not linked; no identity matches (an orphan).
    Unmatched,
    /// Not linked; several identities match.
    Disputed,
    /// Linked, but the target no longer has the account.
    Deleted,
    /// Not linked; it matches an identity that already has an account here.
    Collision,
    /// Matches the target's protected filter: reported, never acted on.
    Protected,
}

impl Situation {
    pub const ALL: [Situation; 8] = [
        Situation::InSync,
        Situation::Drifted,
        Situation::Unlinked,
        Situation::Unmatched,
        Situation::Disputed,
        Situation::Deleted,
        Situation::Collision,
        Situation::Protected,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Situation::InSync => "in-sync",
            Situation::Drifted => "drifted",
            Situation::Unlinked => "unlinked",
            Situation::Unmatched => "unmatched",
            Situation::Disputed => "disputed",
            Situation::Deleted => "deleted",
            Situation::Collision => "collision",
            Situation::Protected => "protected",
        }
    }

    pub fn parse(text: &str) -> Option<Situation> {
        Situation::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The reactions that make sense for it (`report` always does).
    pub fn allows(&self) -> &'static [Reaction] {
        use Reaction::*;
        match self {
            Situation::InSync | Situation::Protected | Situation::Disputed => &[Report],
            Situation::Drifted => &[Report, Update],
            Situation::Unlinked => &[Report, Link],
            Situation::Unmatched | Situation::Collision => &[Report, Disable, Delete],
            Situation::Deleted => &[Report, Create, Unlink],
        }
    }
}

/// What a situation leads to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Reaction {
    /// Nothing: the report says it.
    Report,
    /// Link the account to the identity that matches.
    Link,
    /// Repair the drift with the policy map's values.
    Update,
    /// Re-create an account that was deleted and should exist.
    Create,
    Disable,
    Delete,
    /// Forget the link to an account the target no longer has.
    Unlink,
}

impl Reaction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reaction::Report => "report",
            Reaction::Link => "link",
            Reaction::Update => "update",
            Reaction::Create => "create",
            Reaction::Disable => "disable",
            Reaction::Delete => "delete",
            Reaction::Unlink => "unlink",
        }
    }
}

impl ReconConfig {
    /// Checks the reactions and the budget; an error is `(key, reason)`
    /// under the section.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (situation, reaction) in &self.reactions {
            if !situation.allows().contains(reaction) {
                let allowed: Vec<&str> = situation.allows().iter().map(|r| r.as_str()).collect();
                return Err((
                    format!("reactions.{}", situation.as_str()),
                    format!(
                        "`{}` is not a reaction to {}: it may be {}",
                        reaction.as_str(),
                        situation.as_str(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if let Some(share) = self.max_delete_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err((
                "max_delete_share".into(),
                "a share is between 0 and 1".into(),
            ));
        }
        for (i, rule) in self.correlation.iter().enumerate() {
            if rule.equal.is_empty() {
                return Err((
                    format!("correlation[{i}].match"),
                    "a rule matches at least one attribute".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn reaction(&self, situation: Situation) -> Reaction {
        self.reactions
            .get(&situation)
            .copied()
            .unwrap_or(Reaction::Report)
    }
}
