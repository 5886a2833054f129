//! Errors as problem documents (RFC 9457): a stable `code`, a sentence in
//! `detail`, and the offending `field` when there is one.

use crate::engine::{EngineError, SwitchError};
use crate::registry::RegistryError;
use crate::runtime::StartError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// Stable, for programs: `invalid-request`, `unknown-target`, …
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is invalid",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication is required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The token's role does not allow this",
            detail,
        )
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://provisio.dev/problems/{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail,
            field: self.field,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::UnknownTarget(_) => ApiError::not_found("unknown-target", e.to_string()),
            EngineError::UnknownOperation(_) => {
                ApiError::not_found("unknown-operation", e.to_string())
            }
            EngineError::Invalid(e) => ApiError::bad_request(e.to_string()).field(e.field),
            EngineError::WrongState { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "wrong-state",
                "The operation is not in a state that allows this",
                e.to_string(),
            ),
            EngineError::Refused(_) => ApiError::new(
                StatusCode::CONFLICT,
                "refused",
                "The request was refused",
                e.to_string(),
            ),
            EngineError::IdempotencyKeyReused(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "The idempotency key was used for another request",
                e.to_string(),
            )
            .field("Idempotency-Key"),
            EngineError::UnknownAccount(_) => {
                ApiError::not_found("unknown-account", e.to_string()).field("uid")
            }
            EngineError::Protected(_) => ApiError::new(
                StatusCode::CONFLICT,
                "protected",
                "The account is protected on this target",
                e.to_string(),
            ),
            EngineError::NotAllowed(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "not-allowed",
                "The caller may not do this",
                e.to_string(),
            ),
            EngineError::Connector(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "connector-error",
                "The target's connector answered with an error",
                e.to_string(),
            ),
            EngineError::Switch(e) => e.into(),
            EngineError::Store(e) => e.into(),
        }
    }
}

impl From<SwitchError> for ApiError {
    fn from(e: SwitchError) -> Self {
        let refused = |code| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "The connector version was refused",
                e.to_string(),
            )
        };
        match &e {
            SwitchError::Registry(RegistryError::Load(_)) => refused("invalid-connector"),
            SwitchError::Registry(RegistryError::VersionTaken { .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "version-taken",
                "The version is already registered",
                e.to_string(),
            ),
            SwitchError::Registry(RegistryError::Unknown(_)) => {
                ApiError::not_found("unknown-version", e.to_string())
            }
            SwitchError::Registry(RegistryError::Ambiguous { .. }) => {
                ApiError::bad_request(e.to_string()).field("version")
            }
            SwitchError::WrongConnector { .. } => refused("wrong-connector"),
            SwitchError::Downgrade { .. } => refused("downgrade"),
            SwitchError::Start(StartError::NotGranted { .. }) => refused("not-granted"),
            SwitchError::Start(_) => refused("cannot-start"),
            SwitchError::TestFailed { .. } => refused("test-failed"),
            SwitchError::Prewarm { .. } => refused("cannot-start"),
            SwitchError::InUse { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "version-in-use",
                "The connector version is in use",
                e.to_string(),
            ),
            SwitchError::Unqualified(_) => ApiError::bad_request(e.to_string()).field("version"),
            SwitchError::AlreadyActive { .. } | SwitchError::NoPrevious(_) => ApiError::new(
                StatusCode::CONFLICT,
                "refused",
                "The request was refused",
                e.to_string(),
            ),
            SwitchError::Registry(
                RegistryError::Unreadable { .. } | RegistryError::Io(_) | RegistryError::Store(_),
            )
            | SwitchError::Store(_) => {
                tracing::error!("registry error: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "registry-unavailable",
                    "The connector registry failed",
                    e.to_string(),
                )
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyLinked { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "already-linked",
                "The account is linked to another identity",
                e.to_string(),
            ),
            StoreError::NotFound(_) => ApiError::not_found("unknown-operation", e.to_string()),
            e => {
                tracing::error!("store error: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "The store failed",
                    e.to_string(),
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonDataError(e) => {
                // "kind: unknown variant `x`" style: serde names the path.
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "The request is invalid",
                    e.body_text(),
                )
            }
            JsonRejection::JsonSyntaxError(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
                e.body_text(),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send JSON",
                "the request needs `Content-Type: application/json`",
            ),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
                rejection.body_text(),
            ),
            _ => ApiError::new(
                rejection.status(),
                "invalid-body",
                "The body could not be read",
                rejection.body_text(),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<crate::identity::IdentityError> for ApiError {
    fn from(e: crate::identity::IdentityError) -> Self {
        use crate::identity::IdentityError;
        match e {
            IdentityError::NotFound(_) => ApiError::not_found("unknown-identity", e.to_string()),
            IdentityError::Invalid(invalid) => {
                ApiError::bad_request(invalid.to_string()).field(invalid.field)
            }
            IdentityError::Plan(plan) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "plan-failed",
                "The plan could not be made",
                format!("{plan}; nothing was stored or submitted"),
            )
            .field(plan.key),
            IdentityError::Store(e) => e.into(),
            IdentityError::Engine(e) => e.into(),
        }
    }
}

impl From<crate::identity::RunError> for ApiError {
    fn from(e: crate::identity::RunError) -> Self {
        use crate::identity::RunError;
        match e {
            RunError::UnknownSource(_) => ApiError::not_found("unknown-source", e.to_string()),
            RunError::UnknownRun { .. } => ApiError::not_found("unknown-run", e.to_string()),
            RunError::Busy { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "busy",
                "A run is in progress",
                e.to_string(),
            ),
            RunError::WrongState { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "wrong-state",
                "The run is not in that state",
                e.to_string(),
            ),
            RunError::Unreadable(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "source-unreadable",
                "The source could not be read",
                e.to_string(),
            ),
            RunError::Identity(e) => e.into(),
        }
    }
}

impl From<crate::recon::ReconError> for ApiError {
    fn from(e: crate::recon::ReconError) -> Self {
        use crate::recon::ReconError;
        match e {
            ReconError::UnknownTarget(_) => ApiError::not_found("unknown-target", e.to_string()),
            ReconError::UnknownRun(_) => ApiError::not_found("unknown-run", e.to_string()),
            ReconError::Busy { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "busy",
                "A run is in progress",
                e.to_string(),
            ),
            ReconError::WrongState { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "wrong-state",
                "The run is not in that state",
                e.to_string(),
            ),
            ReconError::Invalid { ref field, .. } => {
                let field = field.clone();
                ApiError::bad_request(e.to_string()).field(field)
            }
            ReconError::Unreadable(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "target-unreadable",
                "The target could not be read",
                e.to_string(),
            ),
            ReconError::Stopping => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "The host is stopping",
                e.to_string(),
            ),
            ReconError::Identity(e) => e.into(),
            ReconError::Engine(e) => e.into(),
            ReconError::Store(e) => e.into(),
        }
    }
}
