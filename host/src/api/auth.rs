//! Bearer-token authentication: the token's sha256 is looked up among the
//! configured ones; the match gives the caller's name (the actor in the
//! audit log) and role.

use super::AppState;
use super::problem::ApiError;
use crate::config::{Role, TokenConfig, hash_token};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Tokens by the sha256 of their value.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, (String, Role)>,
    /// Tokens already verified, so that a busy caller's every request does
    /// not pay a SHA-256. Only valid tokens enter; it is emptied when full.
    verified: Mutex<HashMap<String, (String, Role)>>,
    /// Everyone is an operator named `demo` (only `provisio demo`).
    open: bool,
}

/// The tokens in force; a configuration reload replaces them whole.
#[derive(Debug, Default)]
pub struct TokenSet(RwLock<Arc<Tokens>>);

impl TokenSet {
    pub fn new(tokens: Tokens) -> Self {
        TokenSet(RwLock::new(Arc::new(tokens)))
    }

    pub fn current(&self) -> Arc<Tokens> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `tokens` in force: a removed token fails from the next
    /// request on (the verified cache goes with the old set).
    pub fn replace(&self, tokens: Tokens) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tokens);
    }
}

/// Verified tokens remembered at most.
const VERIFIED_CACHE: usize = 1024;

/// The longest `Authorization` header read. Tokens `provisio token new`
/// makes are 43 characters; a flood of huge ones is refused before it is
/// hashed.
pub const MAX_AUTHORIZATION_BYTES: usize = 512;

impl Tokens {
    pub fn new(tokens: &[TokenConfig], open: bool) -> Self {
        Tokens {
            by_hash: tokens
                .iter()
                .map(|t| (t.sha256.to_ascii_lowercase(), (t.name.clone(), t.role)))
                .collect(),
            verified: Mutex::new(HashMap::new()),
            open,
        }
    }
}

impl Tokens {
    fn check(&self, token: &str) -> Option<(String, Role)> {
        if let Some(known) = self.lock_verified().get(token) {
            return Some(known.clone());
        }
        // Hashed without the lock held, so that callers with invalid
        // tokens do not queue everyone else behind their SHA-256s.
        let found = self.by_hash.get(&hash_token(token))?.clone();
        let mut verified = self.lock_verified();
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(token.to_owned(), found.clone());
        Some(found)
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Role)>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role.may(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token `{}` has the {} role; this needs the {} role",
                self.name,
                self.role.as_str(),
                role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let tokens = state.tokens.current();
        if tokens.open {
            return Ok(Caller {
                name: "demo".into(),
                role: Role::Operator,
            });
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
        if header.len() > MAX_AUTHORIZATION_BYTES {
            return Err(ApiError::unauthorized(format!(
                "the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"
            )));
        }
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not `Bearer <token>`")
            })?;
        let (name, role) = tokens
            .check(token)
            .ok_or_else(|| ApiError::unauthorized("the token is not valid"))?;
        Ok(Caller { name, role })
    }
}
