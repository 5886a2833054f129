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
    modifiers(&BearerAuth, &UniqueOperationIds, &ProblemResponses),
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

/// Operation ids are the handlers' names by default, and several modules
/// have a `list` or a `get`: each becomes `{tag}_{name}` (`targets_list`),
/// unique as generated clients need them.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|t| t.first())
                    .cloned()
                    .unwrap_or_default();
                if let Some(id) = &operation.operation_id {
                    operation.operation_id = Some(format!("{tag}_{id}"));
                }
            }
        }
    }
}

/// Every error the host answers is an RFC 9457 problem, sent as
/// `application/problem+json`: the document says so for each (handlers
/// write `body = Problem`, which utoipa declares as `application/json`),
/// and adds the answers every secured route can give (400 for a request
/// that does not parse, 401 without a valid token, 403 for a role that may
/// not), so that a generated client expects them instead of raising.
struct ProblemResponses;

impl ProblemResponses {
    const PROBLEM: &'static str = "application/problem+json";

    fn problem(description: &str) -> utoipa::openapi::Response {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                Self::PROBLEM,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    }
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut operation.responses.responses;
                for response in responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                    });
                    if is_problem
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(Self::PROBLEM.to_owned(), content);
                    }
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    for (status, description) in [
                        (
                            "400",
                            "The request does not parse: a malformed body, parameter or header",
                        ),
                        ("401", "No valid bearer token"),
                        ("403", "The token's role may not do this"),
                    ] {
                        responses
                            .entry(status.to_owned())
                            .or_insert_with(|| RefOr::T(Self::problem(description)));
                    }
                }
            }
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use std::collections::BTreeSet;
    use utoipa::OpenApi;

    /// What `openapi-spec-validator` and generated clients need of every
    /// operation: a path parameter for each `{name}` of its path and no
    /// other, query parameters declared in the query, none twice.
    #[test]
    fn every_parameter_is_where_its_route_takes_it() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() >= 40, "{} paths", paths.len());
        let mut ids = BTreeSet::new();
        for (path, item) in paths {
            let template: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            for (method, operation) in item.as_object().expect("path item") {
                let id = operation["operationId"].as_str().expect("an operation id");
                assert!(ids.insert(id.to_owned()), "operation id {id} twice");
                let mut seen = BTreeSet::new();
                let mut in_path = BTreeSet::new();
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let name = parameter["name"].as_str().expect("a name");
                    let place = parameter["in"].as_str().expect("an `in`");
                    assert!(
                        seen.insert((name, place)),
                        "{method} {path}: {name} declared twice in {place}"
                    );
                    match place {
                        "path" => {
                            assert!(
                                template.contains(name),
                                "{method} {path}: {name} is declared `in: path` but the path has no {{{name}}}"
                            );
                            assert_eq!(parameter["required"], true, "{method} {path}: {name}");
                            in_path.insert(name);
                        }
                        "query" | "header" => assert!(
                            !template.contains(name),
                            "{method} {path}: {name} is in the path, declared in {place}"
                        ),
                        other => panic!("{method} {path}: {name} in {other}"),
                    }
                }
                assert_eq!(
                    in_path, template,
                    "{method} {path}: every {{name}} of the path is declared"
                );
            }
        }
    }
}
