//! The HTTP API (JSON under `/v1`), with health, readiness, Prometheus
//! metrics and the OpenAPI document.

mod audit;
mod auth;
mod connectors;
mod filters;
mod health;
mod identities;
mod objects;
mod openapi;
mod operations;
mod problem;
mod reconciliations;
mod reload;
mod serve;
mod sources;
mod targets;
mod views;

pub use auth::{TokenSet, Tokens};
pub use health::recorder as health_recorder;
pub use problem::Problem;
pub use reload::{ReloadError, Reloaded, Reloader};
pub use serve::{ConnectionLimits, serve};
pub use views::{OperationView, parse_rfc3339, rfc3339};

use crate::engine::Engine;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use problem::ApiError;
use serde::de::DeserializeOwned;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub identities: crate::identity::Identities,
    pub sources: crate::identity::Sources,
    pub reconciliations: crate::recon::Reconciliations,
    pub tokens: std::sync::Arc<TokenSet>,
    /// Reloads the configuration (`POST /v1/config/reload`).
    pub reloader: std::sync::Arc<Reloader>,
    /// The largest connector upload (`server.max_connector_bytes`).
    pub max_connector_bytes: usize,
    /// Long-polls (`?wait`, `Prefer: wait`) held at once; past this a
    /// request answers at once with what it would have started from.
    pub long_polls: std::sync::Arc<tokio::sync::Semaphore>,
    /// `/readyz` also requires every target healthy.
    pub ready_requires_healthy_targets: bool,
}

/// Bounds on one request, past the connection's own (see [`serve`]).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    /// Time to send a request's body.
    pub body_timeout: std::time::Duration,
    /// Time a whole request may take, long-polls included.
    pub request_timeout: std::time::Duration,
}

/// `Json<T>` whose rejections are problem documents.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(ApiError::from)
    }
}

/// `Query<T>` whose rejections are problem documents.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(ApiError::from)
    }
}

/// The whole API.
pub fn router(state: AppState, limits: RequestLimits) -> Router {
    let max_body_bytes = limits.max_body_bytes;
    let uploads =
        Router::new().route(
            "/connectors",
            post(connectors::upload).get(connectors::list).layer(
                axum::extract::DefaultBodyLimit::max(state.max_connector_bytes),
            ),
        );
    let v1 = Router::new()
        .route("/targets", get(targets::list))
        .route("/targets/{target}", get(targets::get))
        .route("/targets/{target}/operations", post(operations::submit))
        .route("/targets/{target}/test", post(targets::test))
        .route("/targets/{target}/schema", get(targets::schema))
        .route("/targets/{target}/count", get(targets::count))
        .route("/targets/{target}/objects", get(objects::search))
        .route("/targets/{target}/objects/{uid}", get(objects::get))
        .route(
            "/targets/{target}/quarantine/lift",
            post(targets::lift_quarantine),
        )
        .route(
            "/targets/{target}/links",
            get(targets::links).post(targets::link),
        )
        .route("/identities", get(identities::list))
        .route(
            "/identities/{id}",
            get(identities::get)
                .put(identities::put)
                .delete(identities::remove),
        )
        .route("/identities/{id}/plan", get(identities::plan))
        .route("/identities/{id}/provision", post(identities::provision))
        .route(
            "/identities/{id}/terminate-now",
            post(identities::terminate_now),
        )
        .route(
            "/identities/{id}/termination-report",
            get(identities::termination_report),
        )
        .route("/sources", get(sources::list))
        .route(
            "/sources/{source}/runs",
            post(sources::start).get(sources::runs),
        )
        .route("/sources/{source}/runs/{id}", get(sources::get))
        .route("/sources/{source}/runs/{id}/items", get(sources::items))
        .route(
            "/sources/{source}/runs/{id}/confirm",
            post(sources::confirm),
        )
        .route(
            "/sources/{source}/runs/{id}/abandon",
            post(sources::abandon),
        )
        .route(
            "/targets/{target}/reconciliations",
            post(reconciliations::start).get(reconciliations::runs),
        )
        .route("/reconciliations/{id}", get(reconciliations::get))
        .route("/reconciliations/{id}/items", get(reconciliations::items))
        .route(
            "/reconciliations/{id}/report.csv",
            get(reconciliations::report),
        )
        .route("/reconciliations/{id}/apply", post(reconciliations::apply))
        .route(
            "/reconciliations/{id}/confirm",
            post(reconciliations::confirm),
        )
        .route(
            "/reconciliations/{id}/abandon",
            post(reconciliations::abandon),
        )
        .route("/operations", get(operations::list))
        .route("/operations/{id}", get(operations::get))
        .route("/operations/{id}/approve", post(operations::approve))
        .route("/operations/{id}/reject", post(operations::reject))
        .route("/operations/{id}/cancel", post(operations::cancel))
        .route("/operations/{id}/retry", post(operations::retry))
        .route("/config/reload", post(reload::reload))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .route("/connectors/{version}", delete(connectors::remove))
        .route("/targets/{target}/activate", post(connectors::activate))
        .route("/targets/{target}/rollback", post(connectors::rollback))
        .route(
            "/targets/{target}/canary",
            post(connectors::start_canary).delete(connectors::stop_canary),
        )
        .route("/openapi.json", get(openapi::document))
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .merge(uploads);
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(|| async {
            ApiError::not_found("unknown-route", "no such endpoint; see /v1/openapi.json")
        })
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
