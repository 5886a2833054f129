//! What a reconciliation run is and holds: its state, its items (one per
//! account or link it classified), its counts, and the deletion budget.

use crate::config::{Reaction, Situation};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Reading the target and classifying.
    Running,
    /// A dry run that ended: its items are the plan `apply` executes.
    Planned,
    /// Stopped by the deletion budget before acting: an operator confirms
    /// or abandons it.
    NeedsConfirmation,
    /// Executing its items' reactions.
    Applying,
    Succeeded,
    /// Reading failed (nothing was applied), or applying did (what was
    /// applied stays applied; a rerun completes).
    Failed,
    Abandoned,
}

impl RunState {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Planned => "planned",
            RunState::NeedsConfirmation => "needs-confirmation",
            RunState::Applying => "applying",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> RunState {
        [
            RunState::Running,
            RunState::Planned,
            RunState::NeedsConfirmation,
            RunState::Applying,
            RunState::Succeeded,
            RunState::Abandoned,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .unwrap_or(RunState::Failed)
    }
}

/// An attribute that differs from what the policy map gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Diff {
    pub attribute: String,
    #[schema(value_type = Object)]
    pub expected: Json,
    #[schema(value_type = Object)]
    pub actual: Json,
}

/// What applying an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemResult {
    /// The reaction ran (its operations were submitted).
    Applied,
    /// The account changed on the target since the run read it: not
    /// touched.
    Stale,
    Failed,
    /// Nothing to do after all (said why).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    pub result: ItemResult,
    pub detail: String,
    /// The operations submitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

/// One account (or link) a run classified, and what it does about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub situation: Situation,
    /// The account's uid on the target (for `deleted`, the link's).
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The identity it is linked to or matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `disputed`: every identity that matches; `collision`: the account
    /// the identity already has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    pub why: String,
    pub reaction: Reaction,
    /// `drifted`: each attribute with the expected and the actual value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<Diff>,
    /// The requests the reaction submits, exactly (for `update` and
    /// `create`, the policy map's; for `disable` and `delete`, one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub operations: Vec<Json>,
    /// The account's attributes as the run read them (each value as
    /// text): applying compares them with the target first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub read: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Item {
    /// Whether applying its reaction disables or deletes an account (what
    /// the deletion budget counts).
    pub fn removes(&self) -> bool {
        self.reaction != Reaction::Report
            && self
                .operations
                .iter()
                .any(|o| matches!(o["kind"].as_str(), Some("disable" | "delete")))
    }

    pub fn acts(&self) -> bool {
        self.reaction != Reaction::Report
    }
}

/// How applying went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applied {
    pub applied: u64,
    pub stale: u64,
    pub failed: u64,
    pub skipped: u64,
    pub operations: u64,
}

/// Why the deletion budget stopped a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Budget {
    /// Disables and deletes the run would make.
    pub removals: u64,
    /// Accounts the run saw.
    pub seen: u64,
    pub max_deletes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delete_share: Option<f64>,
    pub reason: String,
}

/// What a run records beside its state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Pages read so far.
    pub pages: u64,
    /// Accounts read.
    pub seen: u64,
    /// Links of the class at the start.
    pub links: u64,
    pub situations: BTreeMap<Situation, u64>,
    /// Items per reaction, `report` left out.
    pub reactions: BTreeMap<Reaction, u64>,
    /// Disables and deletes planned.
    pub removals: u64,
    pub reactions_used: BTreeMap<Situation, Reaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default)]
    pub applied: Applied,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<String>,
    /// Milliseconds reading and classifying took.
    #[serde(default)]
    pub read_ms: u64,
    /// Milliseconds applying took.
    #[serde(default)]
    pub apply_ms: u64,
    /// Items stored (the next one's sequence number less one).
    #[serde(default)]
    pub items: u64,
}
