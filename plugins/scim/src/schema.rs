//! The schema, from the service's own description: `/ResourceTypes` says
//! which resource types it offers and which schema extensions each takes,
//! `/Schemas` describes their attributes (RFC 7643 §6, §7). A mapped
//! attribute appears when the service's schemas for that resource type
//! define it, typed, multi-valued, required and mutable as they say.

use crate::mapping::Path;
use provisio_sdk::{AttributeInfo, ValueType};
use serde_json::Value as Json;

/// The `Resources` of a list response, or the array itself (some services
/// answer `/ResourceTypes` and `/Schemas` with a bare array).
pub fn resources(body: &Json) -> Vec<Json> {
    body.get("Resources")
        .and_then(Json::as_array)
        .or_else(|| body.as_array())
        .cloned()
        .unwrap_or_default()
}

/// What `/ResourceTypes` says about the resource type of `schema`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub endpoint: String,
    /// The core schema, then its extensions.
    pub schemas: Vec<String>,
}

pub fn resource_type(types: &[Json], schema: &str) -> Option<ResourceType> {
    let rt = types
        .iter()
        .find(|t| t.get("schema").and_then(Json::as_str) == Some(schema))?;
    let mut schemas = vec![schema.to_owned()];
    schemas.extend(
        rt.get("schemaExtensions")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("schema").and_then(Json::as_str))
            .map(str::to_owned),
    );
    Some(ResourceType {
        endpoint: rt
            .get("endpoint")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        schemas,
    })
}

fn named<'a>(attributes: Option<&'a Json>, name: &str) -> Option<&'a Json> {
    attributes?.as_array()?.iter().find(|a| {
        a.get("name")
            .and_then(Json::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The definition of `path` in `schemas` (the resource type's, core
/// first), descending into a sub-attribute when the path names one.
/// Returns the attribute's definition and whether a selector picks one
/// value of it.
fn definition<'a>(all: &'a [Json], rt: &ResourceType, path: &Path) -> Option<(&'a Json, &'a Json)> {
    let candidates: Vec<&String> = match &path.schema {
        Some(urn) => rt
            .schemas
            .iter()
            .filter(|s| s.eq_ignore_ascii_case(urn))
            .collect(),
        None => rt.schemas.first().into_iter().collect(),
    };
    for id in candidates {
        let schema = all
            .iter()
            .find(|s| s.get("id").and_then(Json::as_str) == Some(id.as_str()))?;
        if let Some(top) = named(schema.get("attributes"), &path.attr) {
            let leaf = match &path.sub {
                Some(sub) => named(top.get("subAttributes"), sub)?,
                None => top,
            };
            return Some((top, leaf));
        }
    }
    None
}

/// The attribute `name` mapped to `path`, as the service describes it; None
/// when the resource type's schemas do not define the path.
pub fn attribute_info(
    all: &[Json],
    rt: &ResourceType,
    name: &str,
    path: &Path,
) -> Option<AttributeInfo> {
    let Some((top, leaf)) = definition(all, rt, path) else {
        return common_attribute(name, path);
    };
    let value_type = match leaf.get("type").and_then(Json::as_str).unwrap_or("string") {
        "boolean" => ValueType::Boolean,
        "integer" => ValueType::Integer,
        "binary" => ValueType::Binary,
        "reference" => ValueType::Reference,
        _ => ValueType::Text,
    };
    let mut info = AttributeInfo::new(name, value_type);
    let flag = |j: &Json, key: &str| j.get(key).and_then(Json::as_bool).unwrap_or(false);
    // A selector (`emails[type eq "work"].value`) picks one value.
    let multi = path.selector.is_none() && (flag(top, "multiValued") || flag(leaf, "multiValued"));
    if multi {
        info = info.multi_valued();
    }
    if flag(leaf, "required") && path.selector.is_none() {
        info = info.required();
    }
    match leaf
        .get("mutability")
        .or_else(|| top.get("mutability"))
        .and_then(Json::as_str)
    {
        Some("readOnly") => info = info.read_only(),
        Some("writeOnly") => info = info.write_only(),
        Some("immutable") => info.updatable = false,
        _ => {}
    }
    if let Some(d) = leaf.get("description").and_then(Json::as_str) {
        info.description = Some(d.to_owned());
    }
    Some(info)
}

/// The attributes every resource has (RFC 7643 §3.1), which `/Schemas`
/// need not list (SCIMMY does not): `externalId`, and `meta`'s read-only
/// sub-attributes.
fn common_attribute(name: &str, path: &Path) -> Option<AttributeInfo> {
    if path.schema.is_some() || path.selector.is_some() {
        return None;
    }
    match (path.attr.as_str(), path.sub.as_deref()) {
        ("externalId", None) => {
            let mut info = AttributeInfo::new(name, ValueType::Text);
            info.description = Some(
                "an identifier of the resource in the provisioning client (RFC 7643 §3.1)".into(),
            );
            Some(info)
        }
        ("meta", Some("created" | "lastModified" | "resourceType" | "location" | "version")) => {
            Some(AttributeInfo::new(name, ValueType::Text).read_only())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_types_extensions_and_sub_attributes() {
        let types = resources(&json!({"Resources": [
            {"schema": "urn:ietf:params:scim:schemas:core:2.0:User", "endpoint": "/Users",
             "schemaExtensions": [{"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false}]}
        ]}));
        let rt = resource_type(&types, "urn:ietf:params:scim:schemas:core:2.0:User").unwrap();
        assert_eq!(rt.endpoint, "/Users");
        assert_eq!(rt.schemas.len(), 2);
        let schemas = vec![
            json!({"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [
                {"name": "userName", "type": "string", "required": true},
                {"name": "id", "type": "string", "mutability": "readOnly"},
                {"name": "name", "type": "complex", "subAttributes": [{"name": "givenName", "type": "string"}]},
                {"name": "emails", "type": "complex", "multiValued": true, "subAttributes": [{"name": "value", "type": "string"}]}
            ]}),
            json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [
                {"name": "department", "type": "string"}
            ]}),
        ];
        let info = |name: &str, path: &str| attribute_info(&schemas, &rt, name, &Path::parse(path));
        assert!(info("u", "userName").unwrap().required);
        assert!(!info("i", "id").unwrap().creatable);
        assert!(info("g", "name.givenName").is_some());
        assert!(info("x", "name.nope").is_none());
        assert!(
            !info("m", "emails[type eq \"work\"].value")
                .unwrap()
                .multi_valued
        );
        assert!(
            info(
                "d",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
            )
            .is_some()
        );
        assert!(info("d", "urn:example:other:2.0:User:department").is_none());
        // Common attributes, unlisted here as SCIMMY leaves them unlisted.
        let external = info("externalId", "externalId").unwrap();
        assert!(external.creatable && external.updatable);
        assert!(!info("created", "meta.created").unwrap().creatable);
        assert!(info("x", "meta.nope").is_none());
    }
}
