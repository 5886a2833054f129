//! Reading and verifying the audit log.

use super::auth::Caller;
use super::problem::ApiError;
use super::views::AuditView;
use super::{ApiQuery, AppState};
use crate::config::Role;
use crate::store::{AuditQuery, AuditReport};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub target: Option<String>,
    pub operation: Option<String>,
    /// Rows after this sequence number.
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditView>,
    pub next: Option<i64>,
}

/// Audit rows in order; never contain secrets or passwords.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Role::Provisioner)?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let events: Vec<AuditView> = state
        .engine
        .store()
        .audit(&AuditQuery {
            target: params.target,
            operation_id: params.operation,
            after_seq: params.after,
            limit,
        })
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let next = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage { events, next }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub rows: u64,
    pub ok: bool,
    pub problem: Option<String>,
}

/// Recomputes the audit log's MAC chain.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verification)), security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Verification>, ApiError> {
    caller.require(Role::Operator)?;
    let AuditReport { rows, ok, problem } = state.engine.store().verify_audit().await?;
    Ok(Json(Verification { rows, ok, problem }))
}
