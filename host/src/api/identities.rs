//! Identities: what should be true about a person, the plans that makes,
//! and provisioning on demand (docs/identities.md).

use super::auth::Caller;
use super::problem::ApiError;
use super::{ApiJson, ApiQuery, AppState};
use crate::config::Role;
use crate::identity::{DesiredState, IdentityList, IdentityView, Outcome, Plan, TerminationReport};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// Answer the plan and submit nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Say for every planned value which mapping or role produced it.
    #[serde(default)]
    pub explain: bool,
}

/// Sets what should be true about a person, and submits the plan that
/// causes (answering it with its operations). Idempotent: the same state
/// again plans only what the targets still lack.
#[utoipa::path(put, path = "/v1/identities/{id}", tag = "identities",
    params(("id" = String, Path), PutParams), request_body = DesiredState,
    responses((status = 200, body = Outcome), (status = 201, body = Outcome),
        (status = 400, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PutParams>,
    ApiJson(desired): ApiJson<DesiredState>,
) -> Result<(StatusCode, Json<Outcome>), ApiError> {
    caller.require(Role::Provisioner)?;
    let outcome = state
        .identities
        .put(&id, desired, &caller.name, params.dry_run, params.explain)
        .await?;
    let status = if outcome.created && !outcome.dry_run {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

/// The identity, and its account on each target with the last plan's
/// operations.
#[utoipa::path(get, path = "/v1/identities/{id}", tag = "identities", params(("id" = String, Path)),
    responses((status = 200, body = IdentityView), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IdentityView>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.identities.get(&id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Identities after this id (the `next` of the previous page).
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/identities", tag = "identities", params(ListParams),
    responses((status = 200, body = IdentityList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<IdentityList>, ApiError> {
    caller.require(Role::Provisioner)?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        state
            .identities
            .list(params.after.as_deref(), limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    #[serde(default)]
    pub explain: bool,
    /// Plan as of this moment (RFC 3339 or a date) instead of now: what a
    /// role's end or a leaving date will do.
    pub at: Option<String>,
}

/// What would change now, without changing anything.
#[utoipa::path(get, path = "/v1/identities/{id}/plan", tag = "identities",
    params(("id" = String, Path), PlanParams),
    responses((status = 200, body = Plan), (status = 404, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PlanParams>,
) -> Result<Json<Plan>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(
        state
            .identities
            .plan(&id, params.at, params.explain)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProvisionParams {
    #[serde(default)]
    pub explain: bool,
}

/// Plans the identity now and submits the plan (provisioning on demand).
#[utoipa::path(post, path = "/v1/identities/{id}/provision", tag = "identities",
    params(("id" = String, Path), ProvisionParams),
    responses((status = 200, body = Outcome), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn provision(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ProvisionParams>,
) -> Result<Json<Outcome>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(
        state
            .identities
            .provision(&id, &caller.name, params.explain)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveParams {
    #[serde(default)]
    pub dry_run: bool,
}

/// Deprovisions the identity's accounts everywhere (per each target's
/// `on_delete`) and forgets the identity. Operator role.
#[utoipa::path(delete, path = "/v1/identities/{id}", tag = "identities",
    params(("id" = String, Path), RemoveParams),
    responses((status = 200, body = Outcome), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<RemoveParams>,
) -> Result<Json<Outcome>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state
            .identities
            .remove(&id, &caller.name, params.dry_run)
            .await?,
    ))
}

/// The kill switch: terminates the identity and disables its account on
/// every target at once, ahead of other queued work; then plans the rest
/// of leaving as usual. Operator role.
#[utoipa::path(post, path = "/v1/identities/{id}/terminate-now", tag = "identities",
    params(("id" = String, Path)),
    responses((status = 200, body = Outcome), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn terminate_now(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.identities.terminate_now(&id, &caller.name).await?,
    ))
}

/// Per target: what was done for a leaver, when, and what the target holds
/// now (read back through the connector's `get`).
#[utoipa::path(get, path = "/v1/identities/{id}/termination-report", tag = "identities",
    params(("id" = String, Path)),
    responses((status = 200, body = TerminationReport), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn termination_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TerminationReport>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.identities.termination_report(&id).await?))
}
