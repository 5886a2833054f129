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
