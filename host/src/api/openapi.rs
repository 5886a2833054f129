//! The OpenAPI document, generated from the handlers and types.

use super::{
    audit, connectors, identities, objects, operations, problem, reconciliations, reload, sources,
    targets, views,
};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Provisio", description = "Identity provisioning through sandboxed WebAssembly connectors"),
    paths(
        operations::submit, operations::get, operations::list, operations::approve,
        operations::reject, operations::cancel, operations::retry,
        targets::list, targets::get, targets::test, targets::schema, targets::count, targets::lift_quarantine,
        targets::links, targets::link,
        audit::list, audit::verify,
        connectors::upload, connectors::list, connectors::remove, connectors::activate, connectors::rollback,
        connectors::start_canary, connectors::stop_canary, reload::reload,
        identities::put, identities::get, identities::list, identities::plan, identities::provision,
        identities::remove, identities::terminate_now, identities::termination_report,
        sources::list, sources::start, sources::runs, sources::get, sources::items, sources::confirm,
        sources::abandon,
        reconciliations::start, reconciliations::runs, reconciliations::get, reconciliations::items,
        reconciliations::report, reconciliations::apply, reconciliations::confirm, reconciliations::abandon,
        objects::search, objects::get,
    ),
    components(schemas(
        problem::Problem, views::OperationView, views::OperationList, views::ErrorView,
        views::LinkView, views::AuditView, operations::Decision, crate::engine::OperationRequest, crate::engine::OperationKind,
        crate::engine::TargetStatus, crate::engine::Count, targets::LinkRequest, targets::TestResult, audit::AuditPage,
        audit::Verification, connectors::Uploaded, connectors::ActivateRequest,
        crate::store::ConnectorVersion, crate::engine::SwitchReport, crate::engine::VersionStatus,
        crate::engine::VersionRole, connectors::CanaryRequest, crate::engine::CanaryStatus, crate::engine::Held,
        reload::Reloaded,
        crate::identity::DesiredState, crate::identity::Outcome, crate::identity::Plan,
        crate::identity::IdentityView, crate::identity::IdentityList, crate::identity::RunView, crate::identity::TerminationReport,
        sources::SourceList, sources::ItemPage,
        reconciliations::StartRequest, reconciliations::ReconItemPage, crate::recon::ReconciliationView,
        crate::recon::Item, crate::recon::Diff, crate::recon::Outcome, crate::recon::Budget,
        objects::ObjectView, objects::ObjectPage,
    )),
    modifiers(&BearerAuth),
    tags((name = "operations"), (name = "targets"), (name = "audit"), (name = "connectors"), (name = "config"), (name = "identities"), (name = "sources"), (name = "reconciliation")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
