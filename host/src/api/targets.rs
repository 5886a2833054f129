//! Targets: status, connection test, schema, quarantine and links.

use super::auth::Caller;
use super::problem::ApiError;
use super::views::LinkView;
use super::{ApiJson, ApiQuery, AppState};
use crate::config::Role;
use crate::engine::{Count, TargetStatus};
use crate::model::ObjectSchema;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

#[utoipa::path(get, path = "/v1/targets", tag = "targets",
    responses((status = 200, body = Vec<TargetStatus>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TargetStatus>>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.engine.targets()))
}

#[utoipa::path(get, path = "/v1/targets/{target}", tag = "targets", params(("target" = String, Path)),
    responses((status = 200, body = TargetStatus), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<TargetStatus>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.engine.target_status(&target)?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub ok: bool,
}

/// Runs the connector's `test` against the target.
#[utoipa::path(post, path = "/v1/targets/{target}/test", tag = "targets", params(("target" = String, Path)),
    responses((status = 200, body = TestResult), (status = 502, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    caller.require(Role::Operator)?;
    state.engine.test_target(&target).await?;
    Ok(Json(TestResult { ok: true }))
}

/// The classes and attributes the target supports, read from it now.
#[utoipa::path(get, path = "/v1/targets/{target}/schema", tag = "targets", params(("target" = String, Path)),
    responses((status = 200, body = Object), (status = 502, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn schema(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<ObjectSchema>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.engine.schema(&target).await?))
}

/// Lets a quarantined target's operations run again.
#[utoipa::path(post, path = "/v1/targets/{target}/quarantine/lift", tag = "targets", params(("target" = String, Path)),
    responses((status = 200, body = TargetStatus), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn lift_quarantine(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<TargetStatus>, ApiError> {
    caller.require(Role::Operator)?;
    state.engine.lift_quarantine(&target, &caller.name).await?;
    Ok(Json(state.engine.target_status(&target)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountParams {
    /// The object class (default: the target's class).
    pub class: Option<String>,
    /// A SCIM filter.
    pub filter: Option<String>,
}

/// How many objects match, counted by the connector when it can (contract
/// 0.2.0) or by paging through its search.
#[utoipa::path(get, path = "/v1/targets/{target}/count", tag = "targets", params(("target" = String, Path), CountParams),
    responses((status = 200, body = Count), (status = 502, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn count(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(params): ApiQuery<CountParams>,
) -> Result<Json<Count>, ApiError> {
    caller.require(Role::Provisioner)?;
    super::filters::checked(params.filter.as_deref())?;
    Ok(Json(
        state
            .engine
            .count(&target, params.class, params.filter)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinkParams {
    /// Identities after this one.
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// Which identity owns which account on the target.
#[utoipa::path(get, path = "/v1/targets/{target}/links", tag = "targets", params(("target" = String, Path), LinkParams),
    responses((status = 200, body = Vec<LinkView>)), security(("bearer" = [])))]
pub async fn links(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(params): ApiQuery<LinkParams>,
) -> Result<Json<Vec<LinkView>>, ApiError> {
    caller.require(Role::Provisioner)?;
    state.engine.target_status(&target)?;
    let links = state
        .engine
        .store()
        .links(
            &target,
            params.after.as_deref(),
            params.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(Json(links.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub identity: String,
    /// The account's uid on the target.
    pub uid: String,
    pub class: Option<String>,
}

/// Links an existing account to an identity, so Provisio may manage it.
#[utoipa::path(post, path = "/v1/targets/{target}/links", tag = "targets", params(("target" = String, Path)),
    request_body = LinkRequest,
    responses((status = 200, body = LinkView), (status = 409, body = super::problem::Problem), (status = 502, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiJson(request): ApiJson<LinkRequest>,
) -> Result<Json<LinkView>, ApiError> {
    caller.require(Role::Operator)?;
    if request.identity.trim().is_empty() {
        return Err(ApiError::bad_request("must not be empty").field("identity"));
    }
    let link = state
        .engine
        .link(
            &target,
            request.class,
            request.identity.trim(),
            &request.uid,
            &caller.name,
        )
        .await?;
    Ok(Json(link.into()))
}
