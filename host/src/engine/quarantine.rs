//! Quarantine: a target whose recent calls fail too often stops taking
//! attempts until a probe passes (see `health`) or an operator lifts it.

use super::error::EngineError;
use super::execute::{CallLog, Fault};
use super::sync::lock;
use super::target::Target;
use super::{Actor, Engine, Shared};
use crate::store::AuditEvent;
use serde_json::json;

impl Shared {
    /// Feeds call outcomes to the target's failure window; quarantines the
    /// target when the window trips.
    pub(super) async fn note_calls(&self, target: &Target, calls: &[CallLog]) {
        let mut tripped = None;
        {
            let mut window = lock(&target.failures);
            for call in calls {
                if let Some(rate) = window.record(call.fault == Some(Fault::Availability)) {
                    tripped = Some(rate);
                }
            }
        }
        let Some(rate) = tripped else { return };
        let reason = format!(
            "{:.0}% of the last calls failed (threshold {:.0}%)",
            rate * 100.0,
            target.policy().config.quarantine.failure_rate * 100.0
        );
        {
            let mut quarantine = lock(&target.quarantine);
            if quarantine.is_some() {
                return;
            }
            *quarantine = Some(reason.clone());
        }
        tracing::warn!(target = %target.name, "target quarantined: {reason}");
        metrics::gauge!("provisio_quarantined", "target" => target.name.clone()).set(1.0);
        let audit = AuditEvent {
            actor: "engine".into(),
            target: Some(target.name.clone()),
            operation_id: None,
            event: "quarantined".into(),
            detail: json!({"reason": reason}),
        };
        if let Err(e) = self
            .store
            .set_quarantine(&target.name, Some(reason), audit)
            .await
        {
            tracing::error!("cannot record the quarantine: {e}");
        }
    }
}

impl Engine {
    pub async fn lift_quarantine(&self, name: &str, actor: &Actor) -> Result<(), EngineError> {
        let target = self.target(name)?;
        let Some(reason) = target.quarantine_reason() else {
            return Err(EngineError::Refused(format!(
                "target {name} is not quarantined"
            )));
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(name.to_owned()),
            operation_id: None,
            event: "quarantine-lifted".into(),
            detail: json!({"reason": reason}),
        };
        self.shared.store.set_quarantine(name, None, audit).await?;
        target.clear_quarantine();
        Ok(())
    }
}
