//! A run as the API shows it.

use super::model::{Budget, RunState, Summary};
use crate::config::{Reaction, Situation};
use crate::store::ReconRunRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// A run, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReconciliationView {
    pub id: String,
    pub target: String,
    pub class: String,
    pub state: RunState,
    pub dry_run: bool,
    pub requested_by: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Pages read so far (the page a failed run reached).
    pub pages: u64,
    /// Accounts read.
    pub seen: u64,
    /// Items per situation.
    #[schema(value_type = Object)]
    pub situations: BTreeMap<Situation, u64>,
    /// Items per reaction (`report` left out).
    #[schema(value_type = Object)]
    pub reactions: BTreeMap<Reaction, u64>,
    /// Disables and deletes the run makes (or would).
    pub removals: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    pub applied: super::model::Applied,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    pub read_ms: u64,
    pub apply_ms: u64,
}

pub(super) fn view(record: ReconRunRecord) -> ReconciliationView {
    let summary: Summary = serde_json::from_value(record.summary).unwrap_or_default();
    ReconciliationView {
        id: record.id,
        target: record.target,
        class: record.class,
        state: RunState::parse(&record.state),
        dry_run: record.dry_run,
        requested_by: record.requested_by,
        started_at: crate::store::rfc3339(record.started_at),
        finished_at: record.finished_at.map(crate::store::rfc3339),
        pages: summary.pages,
        seen: summary.seen,
        situations: summary.situations,
        reactions: summary.reactions,
        removals: summary.removals,
        budget: summary.budget,
        applied: summary.applied,
        error: summary.error,
        confirmed_by: summary.confirmed_by,
        read_ms: summary.read_ms,
        apply_ms: summary.apply_ms,
    }
}
