//! Reconciliation runs (docs/reconciliation.md).

use super::auth::Caller;
use super::problem::ApiError;
use super::{ApiQuery, AppState};
use crate::config::{Reaction, Role, Situation};
use crate::recon::{Item, ReconciliationView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The object class (the target's when absent).
    #[serde(default)]
    pub class: Option<String>,
    /// Read, classify and store the plan; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Reactions for this run, over the target's (operators only).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub reactions: BTreeMap<Situation, Reaction>,
}

/// Starts a run; it goes on in the background (`GET` the run for its
/// progress).
#[utoipa::path(post, path = "/v1/targets/{target}/reconciliations", tag = "reconciliation",
    params(("target" = String, Path)), request_body = StartRequest,
    responses((status = 202, body = ReconciliationView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ReconciliationView>), ApiError> {
    caller.require(Role::Provisioner)?;
    // No body is the target's defaults.
    let request: StartRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("the body is not a reconciliation request: {e}"))
        })?
    };
    if !request.reactions.is_empty() {
        caller.require(Role::Operator)?;
    }
    let run = state
        .reconciliations
        .run(
            &target,
            request.class.as_deref(),
            request.dry_run,
            request.reactions,
            &caller.name,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[utoipa::path(get, path = "/v1/targets/{target}/reconciliations", tag = "reconciliation",
    params(("target" = String, Path)),
    responses((status = 200, body = Vec<ReconciliationView>)), security(("bearer" = [])))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<Vec<ReconciliationView>>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.reconciliations.runs(&target, 50).await?))
}

#[utoipa::path(get, path = "/v1/reconciliations/{id}", tag = "reconciliation",
    params(("id" = String, Path)),
    responses((status = 200, body = ReconciliationView), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReconciliationView>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.reconciliations.view(&id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Only items of this situation.
    pub situation: Option<String>,
    pub after: Option<i64>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconItemPage {
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

fn situation(params: &ItemParams) -> Result<Option<Situation>, ApiError> {
    params
        .situation
        .as_deref()
        .map(|text| {
            Situation::parse(text).ok_or_else(|| {
                let known: Vec<&str> = Situation::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::bad_request(format!(
                    "there is no situation `{text}`: it is one of {}",
                    known.join(", ")
                ))
                .field("situation")
            })
        })
        .transpose()
}

/// The run's items: every account with its situation, the reaction, the
/// differences and, once applied, what happened.
#[utoipa::path(get, path = "/v1/reconciliations/{id}/items", tag = "reconciliation",
    params(("id" = String, Path), ItemParams),
    responses((status = 200, body = ReconItemPage)), security(("bearer" = [])))]
pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ItemParams>,
) -> Result<Json<ReconItemPage>, ApiError> {
    caller.require(Role::Provisioner)?;
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let page = state
        .reconciliations
        .items(&id, situation(&params)?, params.after.unwrap_or(0), limit)
        .await?;
    let next = (page.len() as u32 == limit)
        .then(|| page.last().map(|(seq, _)| *seq))
        .flatten();
    Ok(Json(ReconItemPage {
        items: page.into_iter().map(|(_, item)| item).collect(),
        next,
    }))
}

/// Every item as CSV.
#[utoipa::path(get, path = "/v1/reconciliations/{id}/report.csv", tag = "reconciliation",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String)), security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Provisioner)?;
    let mut body = Vec::new();
    let mut after = 0;
    loop {
        let page = state.reconciliations.items(&id, None, after, 1000).await?;
        let Some((last, _)) = page.last() else {
            if after == 0 {
                body = crate::recon::csv_report(&[], true).map_err(report_failed)?;
            }
            break;
        };
        after = *last;
        let rows = crate::recon::csv_report(&page, body.is_empty()).map_err(report_failed)?;
        body.extend(rows);
        if page.len() < 1000 {
            break;
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"reconciliation-{id}.csv\""),
            ),
        ],
        body,
    ))
}

fn report_failed(e: csv::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "report-failed",
        "The report could not be written",
        e.to_string(),
    )
}

/// Executes a dry run's stored plan, exactly: an item whose account
/// changed since is reported `stale` and not touched.
#[utoipa::path(post, path = "/v1/reconciliations/{id}/apply", tag = "reconciliation",
    params(("id" = String, Path)),
    responses((status = 202, body = ReconciliationView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ReconciliationView>), ApiError> {
    caller.require(Role::Operator)?;
    let run = state
        .reconciliations
        .apply(&id, &caller.name, false)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// Applies a run the deletion budget stopped, exactly as it decided.
#[utoipa::path(post, path = "/v1/reconciliations/{id}/confirm", tag = "reconciliation",
    params(("id" = String, Path)),
    responses((status = 202, body = ReconciliationView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ReconciliationView>), ApiError> {
    caller.require(Role::Operator)?;
    let run = state.reconciliations.apply(&id, &caller.name, true).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// Ends a stopped run or a dry run without acting.
#[utoipa::path(post, path = "/v1/reconciliations/{id}/abandon", tag = "reconciliation",
    params(("id" = String, Path)),
    responses((status = 200, body = ReconciliationView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn abandon(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReconciliationView>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.reconciliations.abandon(&id, &caller.name).await?,
    ))
}
