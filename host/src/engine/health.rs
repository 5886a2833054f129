//! A target's health: what its connector's last `test` said, so that
//! `health` says whether the target can work, not only that the host is
//! up. `monitor` runs the tests.

use crate::model::ConnectorError;
use crate::runtime::{CallError, CallErrorKind};
use serde::Serialize;

/// What the last test said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not tested yet, or the connector has no `test`.
    Unknown,
    Ok,
    /// The target answers, but not fully (rate-limited, no instance free).
    Degraded,
    /// The target cannot work: unreachable, refusing Provisio's
    /// credentials, misconfigured, or the connector broke.
    Failing,
}

/// A target's last test.
#[derive(Debug, Clone)]
pub struct HealthState {
    pub health: Health,
    pub reason: Option<String>,
    /// When it was tested (ms since the epoch).
    pub checked_at: Option<i64>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            health: Health::Unknown,
            reason: Some("not tested yet".into()),
            checked_at: None,
        }
    }
}

/// What a test's answer says of the target.
pub fn assess(result: &Result<(), CallError>) -> (Health, Option<String>) {
    let error = match result {
        Ok(()) => return (Health::Ok, None),
        Err(error) => error,
    };
    let reason = error.kind.to_string();
    match &error.kind {
        CallErrorKind::NotSupported => (Health::Unknown, Some("the connector has no test".into())),
        CallErrorKind::Busy | CallErrorKind::Connector(ConnectorError::RateLimited { .. }) => {
            (Health::Degraded, Some(reason))
        }
        CallErrorKind::Connector(ConnectorError::PermissionDenied { message }) => (
            Health::Failing,
            Some(format!(
                "the target refuses the connector's credentials or rights: {message}"
            )),
        ),
        CallErrorKind::Connector(ConnectorError::Unavailable { message }) => (
            Health::Failing,
            Some(format!("the target cannot be reached: {message}")),
        ),
        _ => (Health::Failing, Some(reason)),
    }
}
