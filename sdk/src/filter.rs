//! SCIM filters (RFC 7644 §3.4.2.2), parsed for you in [`Query::filter`](crate::Query).
//!
//! This is the `provisio-filter` crate: see its documentation for the
//! grammar and the evaluation rules. [`matches`] tests a
//! [`ConnectorObject`] directly.

use crate::bindings::provisio::connector::types::{ConnectorObject, Value};
pub use provisio_filter::*;

impl FilterSubject for ConnectorObject {
    fn uid(&self) -> &str {
        &self.uid
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn values(&self, name: &str) -> Option<Vec<ValueRef<'_>>> {
        self.attribute(name)
            .map(|a| a.values.iter().map(value_ref).collect())
    }
}

fn value_ref(value: &Value) -> ValueRef<'_> {
    match value {
        Value::Text(s) => ValueRef::Text(s),
        Value::Integer(i) => ValueRef::Integer(*i),
        Value::Boolean(b) => ValueRef::Boolean(*b),
        Value::Binary(b) => ValueRef::Binary(b),
        Value::Reference(r) => ValueRef::Reference(r),
    }
}

impl From<FilterError> for crate::Error {
    fn from(e: FilterError) -> Self {
        crate::Error::invalid(e.to_string())
    }
}
