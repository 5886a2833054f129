//! The JSON shape of attributes, used by the CLI and the HTTP API:
//!
//! ```json
//! {"mail": "ada@example.com", "member": ["u1", "u2"], "__enable__": true,
//!  "photo": {"binary": "iVBORw0K..."}, "manager": {"reference": "u9"}}
//! ```
//!
//! A string is text, a number an integer, a boolean a boolean; `binary`
//! (base64) and `reference` are tagged objects. An array is several values
//! and `null` or `[]` no value. One value serialises as a scalar.
//! `__password__` values serialise as `"***"`: the host never shows them.

use super::{Attribute, AttributeChange, Value};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::collections::HashSet;
use std::fmt;

/// Attributes one JSON object may hold. The engine applies each target's
/// own, lower cap (`max_attributes`); this one bounds what a body can make
/// the parser hold before any target is known.
pub const MAX_ATTRIBUTES: usize = 10_000;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(t) => s.serialize_str(t),
            Value::Integer(i) => s.serialize_i64(*i),
            Value::Boolean(b) => s.serialize_bool(*b),
            Value::Binary(b) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("binary", &BASE64.encode(b))?;
                map.end()
            }
            Value::Reference(r) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("reference", r)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        value_from_json(Json::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// One value from JSON, or why it is not one.
pub fn value_from_json(json: Json) -> Result<Value, String> {
    match json {
        Json::String(s) => Ok(Value::Text(s)),
        Json::Bool(b) => Ok(Value::Boolean(b)),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .ok_or_else(|| format!("{n} is not a 64-bit integer (send decimals as text)")),
        Json::Object(map) if map.len() == 1 => {
            let (tag, inner) = map.into_iter().next().expect("one entry");
            match (tag.as_str(), inner) {
                ("binary", Json::String(b64)) => BASE64
                    .decode(b64.as_bytes())
                    .map(Value::Binary)
                    .map_err(|e| format!("binary value is not valid base64: {e}")),
                ("reference", Json::String(uid)) => Ok(Value::Reference(uid)),
                (tag, _) => Err(format!(
                    "unknown tagged value `{tag}` (expected {{\"binary\": base64}} or {{\"reference\": uid}})"
                )),
            }
        }
        other => Err(format!("{other} is not an attribute value")),
    }
}

/// The values of one attribute from JSON: a scalar, an array or null.
pub fn values_from_json(json: Json) -> Result<Vec<Value>, String> {
    match json {
        Json::Null => Ok(Vec::new()),
        Json::Array(items) => items.into_iter().map(value_from_json).collect(),
        scalar => Ok(vec![value_from_json(scalar)?]),
    }
}

fn serialize_values<M: SerializeMap>(map: &mut M, attribute: &Attribute) -> Result<(), M::Error> {
    if attribute.is_secret() {
        return map.serialize_entry(&attribute.name, "***");
    }
    match attribute.values.as_slice() {
        [one] => map.serialize_entry(&attribute.name, one),
        many => map.serialize_entry(&attribute.name, many),
    }
}

/// `#[serde(with)]` for `Vec<Attribute>` as a JSON object, in order.
pub mod attributes {
    use super::*;

    pub fn serialize<S: Serializer>(attributes: &[Attribute], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(attributes.len()))?;
        for attribute in attributes {
            serialize_values(&mut map, attribute)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Attribute>, D::Error> {
        struct AttributesVisitor;
        impl<'de> Visitor<'de> for AttributesVisitor {
            type Value = Vec<Attribute>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of attribute names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<Attribute> = Vec::new();
                // Names compare ignoring case, as `Attribute::is` does.
                let mut seen: HashSet<String> = HashSet::new();
                while let Some((name, json)) = map.next_entry::<String, Json>()? {
                    if out.len() == MAX_ATTRIBUTES {
                        return Err(de::Error::custom(format!(
                            "more than {MAX_ATTRIBUTES} attributes"
                        )));
                    }
                    if !seen.insert(name.to_lowercase()) {
                        return Err(de::Error::custom(format!(
                            "attribute `{name}` appears twice"
                        )));
                    }
                    let values = values_from_json(json)
                        .map_err(|e| de::Error::custom(format!("attribute `{name}`: {e}")))?;
                    out.push(Attribute::new(name, values));
                }
                Ok(out)
            }
        }
        d.deserialize_map(AttributesVisitor)
    }
}

/// The JSON shape of a change: `{"op": "replace", "name": "mail", "values": "x"}`
/// with `op` one of `replace`, `add`, `remove`.
#[derive(Serialize, Deserialize)]
struct ChangeJson {
    op: ChangeOp,
    name: String,
    #[serde(default)]
    values: Json,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChangeOp {
    Replace,
    Add,
    Remove,
}

impl Serialize for AttributeChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (op, attribute) = match self {
            AttributeChange::Replace(a) => (ChangeOp::Replace, a),
            AttributeChange::AddValues(a) => (ChangeOp::Add, a),
            AttributeChange::RemoveValues(a) => (ChangeOp::Remove, a),
        };
        let values = if attribute.is_secret() {
            Json::String("***".into())
        } else {
            serde_json::to_value(&attribute.values).map_err(serde::ser::Error::custom)?
        };
        ChangeJson {
            op,
            name: attribute.name.clone(),
            values,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AttributeChange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let change = ChangeJson::deserialize(d)?;
        let values = values_from_json(change.values)
            .map_err(|e| de::Error::custom(format!("attribute `{}`: {e}", change.name)))?;
        let attribute = Attribute::new(change.name, values);
        Ok(match change.op {
            ChangeOp::Replace => AttributeChange::Replace(attribute),
            ChangeOp::Add => AttributeChange::AddValues(attribute),
            ChangeOp::Remove => AttributeChange::RemoveValues(attribute),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ConnectorObject;

    #[test]
    fn attributes_round_trip_through_json() {
        let json = serde_json::json!({
            "uid": "1", "name": "ada", "class": "account",
            "attributes": {
                "mail": "ada@example.com",
                "member": ["g1", "g2"],
                "__enable__": true,
                "age": 36,
                "photo": {"binary": "AAEC"},
                "manager": {"reference": "u9"},
                "empty": []
            }
        });
        let object: ConnectorObject = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(object.attributes.len(), 7);
        assert_eq!(
            object.attribute("photo").unwrap().values,
            vec![super::Value::Binary(vec![0, 1, 2])]
        );
        assert_eq!(serde_json::to_value(&object).unwrap(), json);
    }

    #[test]
    fn bad_values_name_the_attribute() {
        let json = serde_json::json!({"uid": "1", "name": "a", "class": "c",
            "attributes": {"weight": 1.5}});
        let err = serde_json::from_value::<ConnectorObject>(json)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("attribute `weight`") && err.contains("1.5"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_names_are_found_ignoring_case_in_one_pass() {
        let mut names: serde_json::Map<String, serde_json::Value> = (0..super::MAX_ATTRIBUTES - 1)
            .map(|i| (format!("a{i}"), serde_json::json!("x")))
            .collect();
        names.insert("A7".into(), serde_json::json!("y"));
        let json = serde_json::json!({"uid": "1", "name": "a", "class": "c", "attributes": names});
        let err = serde_json::from_value::<ConnectorObject>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("attribute `A7` appears twice"), "{err}");
    }

    #[test]
    fn an_object_holds_a_bounded_number_of_attributes() {
        let names: serde_json::Map<String, serde_json::Value> = (0..=super::MAX_ATTRIBUTES)
            .map(|i| (format!("a{i}"), serde_json::json!(1)))
            .collect();
        let json = serde_json::json!({"uid": "1", "name": "a", "class": "c", "attributes": names});
        let err = serde_json::from_value::<ConnectorObject>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 10000 attributes"), "{err}");
    }

    #[test]
    fn passwords_never_serialise() {
        let change = super::AttributeChange::Replace(super::Attribute::single(
            "__password__",
            super::Value::Text("hunter2".into()),
        ));
        let out = serde_json::to_string(&change).unwrap();
        assert!(!out.contains("hunter2"), "{out}");
    }
}
