//! Liveness, readiness and metrics.

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers (and, with `ready_requires_healthy_targets`, every
/// target's last test passed and none is quarantined); 503 otherwise,
/// saying why.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let query = crate::store::OperationQuery {
        limit: 1,
        ..Default::default()
    };
    if let Err(e) = state.engine.store().operations(&query).await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n"));
    }
    if state.ready_requires_healthy_targets {
        let unhealthy: Vec<String> = state
            .engine
            .targets()
            .into_iter()
            .filter(|t| t.health != "ok")
            .map(|t| {
                format!(
                    "target {} is {}: {}",
                    t.name,
                    t.health,
                    t.health_reason.unwrap_or_default()
                )
            })
            .collect();
        if !unhealthy.is_empty() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", unhealthy.join("; ")),
            );
        }
    }
    (StatusCode::OK, "ready\n".to_owned())
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0,
                ],
            )
            .expect("valid buckets")
            // Time to provision is an SLA in seconds to hours.
            .set_buckets_for_metric(
                Matcher::Prefix("provisio_time_to_".into()),
                &[
                    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
                ],
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for target in state.engine.targets() {
        metrics::gauge!("provisio_queue_depth", "target" => target.name.clone())
            .set(target.queue_depth as f64);
        metrics::gauge!("provisio_running", "target" => target.name.clone())
            .set(target.running as f64);
        let quarantined = if target.health == "quarantined" {
            1.0
        } else {
            0.0
        };
        metrics::gauge!("provisio_quarantined", "target" => target.name).set(quarantined);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        recorder().render(),
    )
}
