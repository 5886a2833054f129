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

/// The store answers; 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let query = crate::store::OperationQuery {
        limit: 1,
        ..Default::default()
    };
    match state.engine.store().operations(&query).await {
        Ok(_) => (StatusCode::OK, "ready\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
    }
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
