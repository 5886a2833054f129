//! Authoritative sources and their runs (docs/identities.md#sources).

use super::auth::Caller;
use super::problem::ApiError;
use super::{ApiQuery, AppState};
use crate::config::Role;
use crate::identity::{RunItem, RunView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceList {
    pub sources: Vec<String>,
}

#[utoipa::path(get, path = "/v1/sources", tag = "sources",
    responses((status = 200, body = SourceList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SourceList>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(SourceList {
        sources: state.sources.names(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// Read and decide, and change nothing: the run's items say what it
    /// would do.
    #[serde(default)]
    pub dry_run: bool,
}

/// Starts a run of the source; it goes on in the background (`GET` the
/// run for its progress).
#[utoipa::path(post, path = "/v1/sources/{source}/runs", tag = "sources",
    params(("source" = String, Path), RunParams),
    responses((status = 202, body = RunView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(source): Path<String>,
    ApiQuery(params): ApiQuery<RunParams>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    caller.require(Role::Provisioner)?;
    let run = state
        .sources
        .run(&source, params.dry_run, &caller.name)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[utoipa::path(get, path = "/v1/sources/{source}/runs", tag = "sources",
    params(("source" = String, Path)),
    responses((status = 200, body = Vec<RunView>)), security(("bearer" = [])))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(source): Path<String>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.sources.runs(&source, 50).await?))
}

#[utoipa::path(get, path = "/v1/sources/{source}/runs/{id}", tag = "sources",
    params(("source" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((source, id)): Path<(String, String)>,
) -> Result<Json<RunView>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.sources.view(&source, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    pub after: Option<i64>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemPage {
    pub items: Vec<RunItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// What the run changes (or would, for a dry run or a stopped run): each
/// joiner, mover, leaver and rehire with why, and once applied what it did.
#[utoipa::path(get, path = "/v1/sources/{source}/runs/{id}/items", tag = "sources",
    params(("source" = String, Path), ("id" = String, Path), ItemParams),
    responses((status = 200, body = ItemPage)), security(("bearer" = [])))]
pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path((source, id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<ItemParams>,
) -> Result<Json<ItemPage>, ApiError> {
    caller.require(Role::Provisioner)?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let page = state
        .sources
        .items(&source, &id, params.after.unwrap_or(0), limit)
        .await?;
    let next = (page.len() as u32 == limit)
        .then(|| page.last().map(|(seq, _)| *seq))
        .flatten();
    Ok(Json(ItemPage {
        items: page.into_iter().map(|(_, item)| item).collect(),
        next,
    }))
}

/// Applies a run the deletion guard stopped, exactly as it decided.
#[utoipa::path(post, path = "/v1/sources/{source}/runs/{id}/confirm", tag = "sources",
    params(("source" = String, Path), ("id" = String, Path)),
    responses((status = 202, body = RunView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path((source, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    caller.require(Role::Operator)?;
    let run = state.sources.confirm(&source, &id, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// Ends a run the deletion guard stopped, without acting.
#[utoipa::path(post, path = "/v1/sources/{source}/runs/{id}/abandon", tag = "sources",
    params(("source" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn abandon(
    State(state): State<AppState>,
    caller: Caller,
    Path((source, id)): Path<(String, String)>,
) -> Result<Json<RunView>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.sources.abandon(&source, &id, &caller.name).await?,
    ))
}
