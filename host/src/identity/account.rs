//! What Provisio last asked a target for on an identity's behalf, kept
//! per (identity, target, class) in the store's account records.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    /// Provisio wants the account to exist (false once deprovisioned).
    pub provisioned: bool,
    /// Provisio asked for the account to be enabled.
    pub enabled: bool,
    /// The values the policy map last wrote, by attribute.
    #[serde(default)]
    pub attributes: BTreeMap<String, Json>,
    /// The groups roles gave, as Provisio asked for them.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// The operations of the last plan submitted for this account.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Counts the plans submitted for this account: part of each
    /// operation's idempotency key, so a plan submitted again after a
    /// crash replays instead of repeating.
    #[serde(default)]
    pub generation: u64,
    /// When Provisio deprovisioned the account (Unix ms): when the person
    /// left, which a leaver schedule counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprovisioned_at: Option<i64>,
    /// Steps of the target's leaver schedule done so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leaver_done: usize,
}

impl AccountState {
    pub fn from_json(json: &Json) -> AccountState {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
