//! Submitting operations and following them.

use super::auth::Caller;
use super::problem::ApiError;
use super::views::{OperationList, OperationView, parse_rfc3339};
use super::{ApiJson, ApiQuery, AppState};
use crate::config::Role;
use crate::engine::OperationRequest;
use crate::store::OperationQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Submits an operation. It is durable when this answers `202`; follow it at
/// the `Location`. A repeated `Idempotency-Key` returns the first operation.
/// With `Prefer: wait=N` (RFC 7240; seconds, at most 60) the answer waits
/// for the operation to end: `200` with its final state, or `202` when it
/// is still going after N seconds.
#[utoipa::path(post, path = "/v1/targets/{target}/operations", tag = "operations",
    params(("target" = String, Path, description = "The target's name"),
           ("Idempotency-Key" = Option<String>, Header, description = "Submissions with the same key return the first operation"),
           ("Prefer" = Option<String>, Header, description = "`wait=N`: answer when the operation ends, waiting at most N seconds")),
    request_body = OperationRequest,
    responses((status = 200, description = "Stored, and ended within the `Prefer: wait`", body = OperationView),
              (status = 202, description = "Accepted and stored", body = OperationView),
              (status = 400, body = super::problem::Problem), (status = 401, body = super::problem::Problem),
              (status = 403, body = super::problem::Problem), (status = 404, body = super::problem::Problem),
              (status = 413, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<OperationRequest>,
) -> Result<Response, ApiError> {
    caller.require(Role::Provisioner)?;
    if let Some(key) = headers.get("idempotency-key") {
        let key = key.to_str().map_err(|_| {
            ApiError::bad_request("the Idempotency-Key header is not text").field("Idempotency-Key")
        })?;
        match &request.idempotency_key {
            Some(body_key) if body_key != key => {
                return Err(ApiError::bad_request(
                    "the Idempotency-Key header and idempotency_key differ",
                )
                .field("idempotency_key"));
            }
            _ => request.idempotency_key = Some(key.to_owned()),
        }
    }
    // Past the cap of held long-polls, the submission answers at once.
    let long_poll = preferred_wait(&headers)?.and_then(|wait| {
        state
            .long_polls
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| (wait, permit))
    });
    let wait = long_poll.as_ref().map(|(wait, _)| *wait);
    let (record, replayed) = state
        .engine
        .submit(&target, request, &caller.name, wait)
        .await?;
    drop(long_poll);
    let location = format!("/v1/operations/{}", record.id);
    let status = if wait.is_some() && record.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = (status, Json(OperationView::of(&state.engine, record))).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("an id is header-safe"),
    );
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The `wait` of the `Prefer` headers (RFC 7240 §4.3), capped at
/// [`MAX_WAIT`]. Preferences this host does not know are ignored, as the RFC
/// asks; a `wait` that is not a number of seconds is an error.
fn preferred_wait(headers: &HeaderMap) -> Result<Option<std::time::Duration>, ApiError> {
    let bad = || {
        ApiError::bad_request("wait must be a whole number of seconds, e.g. `Prefer: wait=10`")
            .field("Prefer")
    };
    for value in headers.get_all("prefer") {
        let value = value.to_str().map_err(|_| bad())?;
        for preference in value.split(',') {
            let mut parts = preference.split(';').next().unwrap_or("").splitn(2, '=');
            let name = parts.next().unwrap_or("").trim();
            if !name.eq_ignore_ascii_case("wait") {
                continue;
            }
            let seconds: u64 = parts
                .next()
                .map(|v| v.trim().trim_matches('"'))
                .and_then(|v| v.parse().ok())
                .ok_or_else(bad)?;
            return Ok(Some(std::time::Duration::from_secs(seconds).min(MAX_WAIT)));
        }
    }
    Ok(None)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// Wait up to this long (`500ms`, `30s`; at most 60 s) for the
    /// operation to end before answering.
    pub wait: Option<String>,
}

/// Operation ids are UUIDs (36 characters); anything much longer names no
/// operation, and is answered without touching the store or a waiter.
fn looks_like_an_id(id: &str) -> bool {
    id.len() <= 64
}

/// Longest a caller may wait for an operation to end.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

#[utoipa::path(get, path = "/v1/operations/{id}", tag = "operations",
    params(("id" = String, Path), GetParams),
    responses((status = 200, body = OperationView), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Json<OperationView>, ApiError> {
    caller.require(Role::Provisioner)?;
    if !looks_like_an_id(&id) {
        return Err(crate::engine::EngineError::UnknownOperation(id).into());
    }
    let record = match params.wait {
        None => state.engine.operation(&id).await?,
        Some(wait) => {
            let wait = humantime::parse_duration(&wait).map_err(|e| {
                ApiError::bad_request(format!("{wait:?} is not a duration ({e})")).field("wait")
            })?;
            if wait > MAX_WAIT {
                return Err(ApiError::bad_request("must be at most 60s").field("wait"));
            }
            match state.long_polls.clone().try_acquire_owned() {
                Ok(_held) => state.engine.wait_final(&id, wait).await?,
                // Past the cap of held long-polls: the state as it is now.
                Err(_) => state.engine.operation(&id).await?,
            }
        }
    };
    Ok(Json(OperationView::of(&state.engine, record)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub target: Option<String>,
    /// One status.
    pub status: Option<String>,
    pub identity: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
}

/// Operations in submission order, filtered.
#[utoipa::path(get, path = "/v1/operations", tag = "operations", params(ListParams),
    responses((status = 200, body = OperationList), (status = 400, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<OperationList>, ApiError> {
    caller.require(Role::Provisioner)?;
    let time = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(|e| ApiError::bad_request(e).field(field))
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("must be between 1 and 1000").field("limit"));
    }
    let query = OperationQuery {
        target: params.target,
        status: params
            .status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| ApiError::bad_request(e).field("status"))?,
        identity: params.identity,
        since: time("since", &params.since)?,
        until: time("until", &params.until)?,
        after: params.after,
        limit,
    };
    let operations: Vec<OperationView> = state
        .engine
        .operations(&query)
        .await?
        .into_iter()
        .map(|record| OperationView::of(&state.engine, record))
        .collect();
    let next = (operations.len() == limit as usize)
        .then(|| operations.last().map(|o| o.id.clone()))
        .flatten();
    Ok(Json(OperationList { operations, next }))
}

/// What an operator may say with a decision: `{"reason": "…"}`, recorded
/// in the audit log (and in the error of a rejected or cancelled
/// operation). The body is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub reason: Option<String>,
}

/// Longest reason a decision may carry, in characters.
const MAX_REASON: usize = 1000;

impl Decision {
    fn from_body(body: &[u8]) -> Result<Option<String>, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let decision: Decision = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("a decision is {{\"reason\": \"…\"}} or empty: {e}"))
        })?;
        let reason = decision
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON)
        {
            return Err(
                ApiError::bad_request(format!("must be at most {MAX_REASON} characters"))
                    .field("reason"),
            );
        }
        Ok(reason)
    }
}

macro_rules! decision {
    ($name:ident, $method:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "operations", params(("id" = String, Path)),
            request_body(content = Option<Decision>, description = "Optional: why, for the audit log"),
            responses((status = 200, body = OperationView), (status = 400, body = super::problem::Problem),
                      (status = 403, body = super::problem::Problem),
                      (status = 404, body = super::problem::Problem), (status = 409, body = super::problem::Problem)),
            security(("bearer" = [])))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
            body: axum::body::Bytes,
        ) -> Result<Json<OperationView>, ApiError> {
            caller.require(Role::Operator)?;
            let reason = Decision::from_body(&body)?;
            let record = state.engine.$method(&id, &caller.name, reason.as_deref()).await?;
            Ok(Json(OperationView::of(&state.engine, record)))
        }
    };
}

decision!(
    approve,
    approve,
    "/v1/operations/{id}/approve",
    "Lets a `pending-approval` operation run."
);
decision!(
    reject,
    reject,
    "/v1/operations/{id}/reject",
    "Cancels a `pending-approval` operation."
);
decision!(
    cancel,
    cancel,
    "/v1/operations/{id}/cancel",
    "Cancels an operation that is not running or final."
);
decision!(
    retry,
    retry,
    "/v1/operations/{id}/retry",
    "Queues a `failed` operation again with fresh attempts."
);
