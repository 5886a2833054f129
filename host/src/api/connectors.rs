//! Connector versions: upload, list, and switching a target's version.

use super::auth::Caller;
use super::problem::ApiError;
use super::{ApiJson, AppState};
use crate::config::Role;
use crate::engine::{CanaryStatus, SwitchReport};
use crate::registry::VersionRef;
use crate::store::ConnectorVersion;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    #[serde(flatten)]
    pub version: ConnectorVersion,
    /// False when these exact bytes were already registered.
    pub new: bool,
}

/// A connector's `.wasm` file, as the raw body of an upload (declared as
/// `application/octet-stream`, which generated clients send as a file;
/// `application/wasm` is taken too).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ComponentFile(#[allow(dead_code)] Vec<u8>);

/// Uploads a connector (`.wasm` as the raw body). The host checks it is a
/// component of the connector world, of a contract version it supports,
/// that it compiles and declares a valid name and semver, then keeps it.
#[utoipa::path(post, path = "/v1/connectors", tag = "connectors",
    request_body(content = ComponentFile, content_type = "application/octet-stream",
        description = "The connector's .wasm file; `Content-Type: application/wasm` is taken too"),
    responses((status = 201, body = Uploaded), (status = 200, body = Uploaded),
        (status = 409, body = super::problem::Problem), (status = 413, body = super::problem::Problem),
        (status = 415, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    caller.require(Role::Operator)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(essence, "application/wasm" | "application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Send the .wasm file as the body",
            format!(
                "the body is {essence}; send the connector's .wasm as the raw body with \
                 `Content-Type: application/wasm`"
            ),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The connector is too large",
                format!(
                    "the connector is larger than server.max_connector_bytes ({} bytes)",
                    state.max_connector_bytes
                ),
            )
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send the connector's .wasm",
        ));
    }
    let (version, new) = state.engine.upload(body.to_vec(), &caller.name).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Uploaded { version, new })))
}

/// Every connector version the host keeps, oldest first.
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors",
    responses((status = 200, body = Vec<ConnectorVersion>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ConnectorVersion>>, ApiError> {
    caller.require(Role::Provisioner)?;
    Ok(Json(state.engine.connector_versions().await?))
}

/// Removes a connector version no target needs (not active, canary,
/// previous, draining or configured on any target): its record, its file
/// and its compiled forms. Answers the removed version.
#[utoipa::path(delete, path = "/v1/connectors/{version}", tag = "connectors",
    params(("version" = String, Path, description = "sha256, a unique prefix of 8 or more hex digits, or name@version")),
    responses((status = 200, body = ConnectorVersion), (status = 400, body = super::problem::Problem),
        (status = 404, body = super::problem::Problem), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(version): Path<String>,
) -> Result<Json<ConnectorVersion>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.engine.remove_version(&version, &caller.name).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The version: its sha256 (or a unique prefix of 8 or more hex
    /// digits), its semver, or `name@version`.
    pub version: String,
    /// Allow a lower semver than the active one.
    #[serde(default)]
    pub force: bool,
}

/// Switches the target to a registered version once the host proves it
/// compatible (same connector, not a lower semver unless forced, no
/// ungranted capability, its `test` passing). Running operations finish on
/// the old version.
#[utoipa::path(post, path = "/v1/targets/{target}/activate", tag = "connectors",
    params(("target" = String, Path)), request_body = ActivateRequest,
    responses((status = 200, body = SwitchReport), (status = 404, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiJson(request): ApiJson<ActivateRequest>,
) -> Result<Json<SwitchReport>, ApiError> {
    caller.require(Role::Operator)?;
    if request.version.trim().is_empty() {
        return Err(ApiError::bad_request("must not be empty").field("version"));
    }
    let reference = VersionRef::new(request.version);
    Ok(Json(
        state
            .engine
            .activate(&target, &reference, request.force, &caller.name)
            .await?,
    ))
}

/// Returns the target to the version it ran before the last switch.
#[utoipa::path(post, path = "/v1/targets/{target}/rollback", tag = "connectors",
    params(("target" = String, Path)),
    responses((status = 200, body = SwitchReport), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<SwitchReport>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(state.engine.rollback(&target, &caller.name).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    /// The version, as for `activate`.
    pub version: String,
    /// The share of the work it takes, in (0, 1].
    pub share: f64,
    /// Only reads (search, get, count) go to it, no operations.
    #[serde(default)]
    pub reads_only: bool,
}

/// Sends a share of the target's work to a version, after the same checks
/// as an activation; its error rate shows beside the active version's in
/// the target's `versions`. Activating it promotes it.
#[utoipa::path(post, path = "/v1/targets/{target}/canary", tag = "connectors",
    params(("target" = String, Path)), request_body = CanaryRequest,
    responses((status = 200, body = CanaryStatus), (status = 400, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn start_canary(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiJson(request): ApiJson<CanaryRequest>,
) -> Result<Json<CanaryStatus>, ApiError> {
    caller.require(Role::Operator)?;
    let reference = VersionRef::new(request.version);
    Ok(Json(
        state
            .engine
            .start_canary(
                &target,
                &reference,
                request.share,
                request.reads_only,
                &caller.name,
            )
            .await?,
    ))
}

/// Ends the target's canary; its share returns to the active version.
#[utoipa::path(delete, path = "/v1/targets/{target}/canary", tag = "connectors",
    params(("target" = String, Path)),
    responses((status = 204), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn stop_canary(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    state.engine.stop_canary(&target, &caller.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
