//! Reading a target's objects through its connector: a paged search and
//! one object by uid — the "read" of create, read, update and delete.
//! Secret attributes are never answered (whatever the connector returns);
//! an account the target's protected filter matches is answered with
//! `protected` saying which part of the filter it matches.

use super::auth::Caller;
use super::problem::ApiError;
use super::{ApiQuery, AppState};
use crate::config::Role;
use crate::model::{ConnectorObject, PageRequest, SearchRequest};
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

/// Objects per page at most.
const MAX_PAGE_SIZE: u32 = 1000;
/// Attributes one request may name.
const MAX_ATTRIBUTES: usize = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The object class (the target's when absent).
    pub class: Option<String>,
    /// A SCIM filter (`department eq "Sales" and name sw "a"`; operational
    /// attributes are named without underscores: `name`, `enable`).
    pub filter: Option<String>,
    /// Attributes to return, separated by commas (the connector's
    /// defaults when absent).
    pub attributes: Option<String>,
    /// 1 to 1000, default 100.
    pub page_size: Option<u32>,
    /// The `cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    pub class: Option<String>,
    pub attributes: Option<String>,
}

/// An object as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectView {
    pub uid: String,
    pub name: String,
    pub class: String,
    /// Attribute → value (a list when several).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// The part of the target's protected filter it matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectPage {
    pub objects: Vec<ObjectView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Objects after this page, when the target knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

fn attributes(list: Option<&str>) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > MAX_ATTRIBUTES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_ATTRIBUTES} attributes may be named"
        ))
        .field("attributes"));
    }
    Ok(names)
}

fn view(state: &AppState, target: &str, mut object: ConnectorObject) -> ObjectView {
    let protected = state.engine.protected_part(target, &object).ok().flatten();
    object.attributes.retain(|a| !a.is_secret());
    let attributes = serde_json::to_value(&object)
        .ok()
        .and_then(|mut v| v.get_mut("attributes").map(serde_json::Value::take))
        .unwrap_or_default();
    ObjectView {
        uid: object.uid,
        name: object.name,
        class: object.class,
        attributes,
        protected,
    }
}

/// A page of the target's objects, through the connector's `search`.
#[utoipa::path(get, path = "/v1/targets/{target}/objects", tag = "targets", operation_id = "search_objects",
    params(("target" = String, Path), SearchParams),
    responses((status = 200, body = ObjectPage), (status = 400, body = super::problem::Problem),
              (status = 502, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<ObjectPage>, ApiError> {
    caller.require(Role::Provisioner)?;
    let size = params.page_size.unwrap_or(100);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(
            ApiError::bad_request(format!("page_size is 1 to {MAX_PAGE_SIZE}")).field("page_size"),
        );
    }
    super::filters::checked(params.filter.as_deref())?;
    let class = state.engine.class_name(&target, params.class.as_deref())?;
    let page = state
        .engine
        .search(
            &target,
            SearchRequest {
                class,
                filter: params.filter,
                page: PageRequest {
                    size,
                    cookie: params.cursor,
                },
                attributes: attributes(params.attributes.as_deref())?,
            },
        )
        .await?;
    Ok(Json(ObjectPage {
        objects: page
            .objects
            .into_iter()
            .map(|o| view(&state, &target, o))
            .collect(),
        cursor: page.cookie,
        remaining: page.remaining,
    }))
}

/// One object by uid, through the connector's `get`.
#[utoipa::path(get, path = "/v1/targets/{target}/objects/{uid}", tag = "targets", operation_id = "get_object",
    params(("target" = String, Path), ("uid" = String, Path), GetParams),
    responses((status = 200, body = ObjectView), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((target, uid)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Json<ObjectView>, ApiError> {
    caller.require(Role::Provisioner)?;
    let class = state.engine.class_name(&target, params.class.as_deref())?;
    match state
        .engine
        .read_account(
            &target,
            &class,
            &uid,
            attributes(params.attributes.as_deref())?,
        )
        .await?
    {
        Some(object) => Ok(Json(view(&state, &target, object))),
        None => Err(ApiError::not_found(
            "unknown-object",
            format!("target {target} has no {class} with uid {uid}"),
        )
        .field("uid")),
    }
}
