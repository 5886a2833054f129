//! Small helpers the connector tests share.

use provisio_host::model::{Attribute, ConnectorError, ConnectorObject, Value};
use provisio_host::runtime::CallError;

/// A single-valued text attribute.
pub fn text(name: &str, value: &str) -> Attribute {
    Attribute::single(name, Value::Text(value.into()))
}

/// The values of an attribute, none when it is absent.
pub fn values(object: &ConnectorObject, name: &str) -> Vec<Value> {
    object
        .attribute(name)
        .map(|a| a.values.clone())
        .unwrap_or_default()
}

/// The connector error's code, or a marker when the call failed otherwise.
pub fn code(error: &CallError) -> &'static str {
    error
        .connector_error()
        .map_or("(not a connector error)", ConnectorError::code)
}

/// A host object as uid, name and sorted `name=values` lines: what a
/// connector run natively (`provisio_sdk::testing`) must answer alike.
pub fn seen_host(object: &ConnectorObject) -> (String, String, Vec<String>) {
    let mut attributes: Vec<String> = object
        .attributes
        .iter()
        .map(|a| format!("{}={:?}", a.name, a.values))
        .collect();
    attributes.sort();
    (object.uid.clone(), object.name.clone(), attributes)
}

/// [`seen_host`] of an object a connector answered natively.
pub fn seen_native(object: &provisio_sdk::ConnectorObject) -> (String, String, Vec<String>) {
    let mut attributes: Vec<String> = object
        .attributes
        .iter()
        .map(|a| {
            let values: Vec<Value> = a
                .values
                .iter()
                .map(|v| match v {
                    provisio_sdk::Value::Text(t) => Value::Text(t.clone()),
                    provisio_sdk::Value::Reference(r) => Value::Reference(r.clone()),
                    provisio_sdk::Value::Integer(i) => Value::Integer(*i),
                    provisio_sdk::Value::Boolean(b) => Value::Boolean(*b),
                    provisio_sdk::Value::Binary(b) => Value::Binary(b.clone()),
                })
                .collect();
            format!("{}={values:?}", a.name)
        })
        .collect();
    attributes.sort();
    (object.uid.clone(), object.name.clone(), attributes)
}

/// Host attributes as the SDK's, for a connector called natively.
pub fn native_attributes(attributes: Vec<Attribute>) -> Vec<provisio_sdk::Attribute> {
    attributes
        .into_iter()
        .map(|a| provisio_sdk::Attribute {
            name: a.name,
            values: a
                .values
                .into_iter()
                .map(|v| match v {
                    Value::Text(t) => provisio_sdk::Value::Text(t),
                    Value::Reference(r) => provisio_sdk::Value::Reference(r),
                    Value::Integer(i) => provisio_sdk::Value::Integer(i),
                    Value::Boolean(b) => provisio_sdk::Value::Boolean(b),
                    Value::Binary(b) => provisio_sdk::Value::Binary(b),
                })
                .collect(),
        })
        .collect()
}
