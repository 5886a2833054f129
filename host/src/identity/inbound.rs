//! An authoritative source's record as an identity's desired state,
//! through the source's inbound mapping.

use super::model::{DesiredState, RoleGrant, Status};
use crate::config::{STATE_FIELDS, SourceConfig};
use crate::expr::Expressions;
use crate::model::ConnectorObject;
use serde_json::Value as Json;

/// A record that was not taken, and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rejected {
    /// The record's uid on the source (a CSV row's key).
    pub record: String,
    /// The identity id it carried, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub reason: String,
}

/// The record's attributes as an expression's context: one value as
/// itself, several as a list; `uid` and `name` are the record's own
/// unless it has attributes of those names.
pub fn context(record: &ConnectorObject) -> Json {
    let mut context = serde_json::Map::new();
    context.insert("uid".into(), Json::String(record.uid.clone()));
    context.insert("name".into(), Json::String(record.name.clone()));
    for attribute in &record.attributes {
        let value = match attribute.values.as_slice() {
            [] => Json::Null,
            [one] => serde_json::to_value(one).unwrap_or_default(),
            many => serde_json::to_value(many).unwrap_or_default(),
        };
        context.insert(attribute.name.clone(), value);
    }
    Json::Object(context)
}

fn present(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::String(s) => !s.trim().is_empty(),
        Json::Array(a) => !a.is_empty(),
        _ => true,
    }
}

/// The identity id and desired state a record gives, or why it gives none.
pub fn desired(
    source: &SourceConfig,
    expressions: &Expressions,
    record: &ConnectorObject,
) -> Result<(String, DesiredState), Rejected> {
    let context = context(record);
    let reject = |identity: Option<String>, reason: String| Rejected {
        record: record.uid.clone(),
        identity,
        reason,
    };
    let id = match context.get(&source.key) {
        Some(Json::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Json::Number(n)) => n.to_string(),
        _ => {
            return Err(reject(
                None,
                format!("has no {} (the source's key)", source.key),
            ));
        }
    };
    for required in &source.required {
        if !context.get(required).is_some_and(present) {
            return Err(reject(
                Some(id),
                format!("has no {required}, which the source requires"),
            ));
        }
    }
    let mut state = DesiredState::default();
    let converted = crate::expr::Context::new(context);
    for (attribute, mapping) in &source.mapping {
        let (form, text) = mapping
            .source()
            .map_err(|e| reject(Some(id.clone()), format!("mapping.{attribute}: {e}")))?;
        let value = expressions
            .evaluate_in(form, text, &converted)
            .map_err(|e| reject(Some(id.clone()), format!("mapping.{attribute}: {e}")))?;
        if !STATE_FIELDS.contains(&attribute.as_str()) {
            if present(&value) {
                state.profile.insert(attribute.clone(), value);
            }
            continue;
        }
        let text = value.as_str().map(str::trim).filter(|s| !s.is_empty());
        match attribute.as_str() {
            "status" => {
                state.status = match text {
                    None | Some("active") => Status::Active,
                    Some("suspended") => Status::Suspended,
                    Some("terminated") => Status::Terminated,
                    Some(other) => {
                        return Err(reject(
                            Some(id),
                            format!(
                                "mapping.status gives {other:?}; a status is active, suspended or terminated"
                            ),
                        ));
                    }
                }
            }
            "roles" => {
                let names: Vec<String> = match &value {
                    Json::Array(items) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    Json::String(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                state.roles = names
                    .into_iter()
                    .map(|role| RoleGrant {
                        role,
                        start: None,
                        end: None,
                    })
                    .collect();
            }
            "start_date" => state.start_date = text.map(str::to_owned),
            "end_date" => state.end_date = text.map(str::to_owned),
            _ => {}
        }
    }
    Ok((id, state))
}
