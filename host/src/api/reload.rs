//! Configuration reload (`POST /v1/config/reload`, and SIGHUP on
//! `provisio serve`): the file is read and checked completely, compared
//! with the configuration in force, and applied only when everything it
//! changes can change while the host runs — the targets' policies and the
//! API tokens. Otherwise the host keeps running on what it had and says
//! why. Either way the audit log records it.

use super::AppState;
use super::auth::{Caller, TokenSet, Tokens};
use super::problem::ApiError;
use crate::config::{Changes, Config, ConfigError, Role};
use crate::engine::{Engine, PolicyError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use std::sync::Arc;

/// Reloads the configuration a host was started from.
pub struct Reloader {
    /// The configuration in force; held across a reload so that reloads
    /// do not interleave.
    current: tokio::sync::Mutex<Config>,
    engine: Engine,
    tokens: Arc<TokenSet>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    #[error(
        "{} cannot change while the host runs; restart it to apply {}",
        .0.join(", "),
        if .0.len() == 1 { "this change" } else { "these changes" }
    )]
    NeedsRestart(Vec<String>),
    #[error("{0}")]
    Policy(#[from] PolicyError),
}

/// What a reload did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    /// The configuration file read.
    pub file: String,
    /// The keys it changed (empty when the file says what was in force).
    pub changed: Vec<String>,
}

impl Reloader {
    pub fn new(config: Config, engine: Engine, tokens: Arc<TokenSet>) -> Self {
        Reloader {
            current: tokio::sync::Mutex::new(config),
            engine,
            tokens,
        }
    }

    /// Reads the file again and applies it, or nothing of it.
    pub async fn reload(&self, actor: &str) -> Result<Reloaded, ReloadError> {
        let mut current = self.current.lock().await;
        let file = current.file.clone();
        let outcome = self.apply(&current, actor).await;
        match outcome {
            Ok((next, changes)) => {
                if !changes.is_empty() {
                    tracing::info!(
                        "configuration reloaded from {}: {}",
                        file.display(),
                        changes.keys.join(", ")
                    );
                }
                *current = next;
                Ok(Reloaded {
                    file: file.display().to_string(),
                    changed: changes.keys,
                })
            }
            Err(e) => {
                tracing::warn!("configuration not reloaded, the host keeps the one in force: {e}");
                self.engine
                    .audit_refused_reload(actor, &file.display().to_string(), &e.to_string())
                    .await;
                Err(e)
            }
        }
    }

    async fn apply(&self, current: &Config, actor: &str) -> Result<(Config, Changes), ReloadError> {
        let file = current.file.clone();
        let next = tokio::task::spawn_blocking(move || Config::load(&file))
            .await
            .expect("reading the configuration does not panic")?;
        let changes = Changes::between(current, &next);
        let restart = changes.needing_restart();
        if !restart.is_empty() {
            return Err(ReloadError::NeedsRestart(
                restart.into_iter().map(str::to_owned).collect(),
            ));
        }
        self.engine
            .apply_policies(&next, actor, &changes.keys)
            .await?;
        if changes.keys.iter().any(|k| k == "tokens") {
            self.tokens
                .replace(Tokens::new(&next.tokens, next.server.insecure_no_auth));
        }
        Ok((next, changes))
    }
}

/// Reads the configuration file again and applies what changed: the
/// targets' policies and the API tokens. A file that is invalid, or that
/// changes what needs a restart, changes nothing.
#[utoipa::path(post, path = "/v1/config/reload", tag = "config",
    responses((status = 200, body = Reloaded),
        (status = 409, description = "a changed key needs a restart", body = super::problem::Problem),
        (status = 422, description = "the file is invalid", body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn reload(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(state.reloader.reload(&caller.name).await?))
}

impl From<ReloadError> for ApiError {
    fn from(e: ReloadError) -> Self {
        let invalid = |key: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-config",
                "The configuration is invalid",
                e.to_string(),
            )
            .field(key)
        };
        match &e {
            ReloadError::Invalid(c) => invalid(&c.key),
            ReloadError::Policy(p) => invalid(&p.key),
            ReloadError::NeedsRestart(keys) => ApiError::new(
                StatusCode::CONFLICT,
                "restart-required",
                "The change needs a restart",
                e.to_string(),
            )
            .field(keys[0].clone()),
        }
    }
}
