//! Constructors and accessors on the contract's data types.

use crate::bindings::provisio::connector::types::{
    Attribute, AttributeChange, AttributeInfo, Capabilities, ClassInfo, ConnectorInfo,
    ConnectorObject, Error, InvalidDetail, RateLimit, Value, ValueType,
};
use std::fmt;

impl Value {
    /// The value as text, for `text` and `reference` values.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Reference(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Text(_) => ValueType::Text,
            Value::Integer(_) => ValueType::Integer,
            Value::Boolean(_) => ValueType::Boolean,
            Value::Binary(_) => ValueType::Binary,
            Value::Reference(_) => ValueType::Reference,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(b)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Text => "text",
            ValueType::Integer => "integer",
            ValueType::Boolean => "boolean",
            ValueType::Binary => "binary",
            ValueType::Reference => "reference",
        })
    }
}

impl Attribute {
    /// An attribute with one value.
    pub fn single(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Attribute {
            name: name.into(),
            values: vec![value.into()],
        }
    }

    /// An attribute with several values.
    pub fn multi<V: Into<Value>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Attribute {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// True when `name` names this attribute (case-insensitively).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The first value, when there is one.
    pub fn first(&self) -> Option<&Value> {
        self.values.first()
    }

    /// The one text value, or an `invalid` error naming the attribute.
    pub fn single_text(&self) -> Result<String, Error> {
        match self.values.as_slice() {
            [value] => value
                .as_text()
                .map(str::to_owned)
                .ok_or_else(|| Error::invalid_attribute(&self.name, "must be text")),
            [] => Err(Error::invalid_attribute(&self.name, "has no value")),
            _ => Err(Error::invalid_attribute(&self.name, "takes one value")),
        }
    }

    /// The one boolean value, or an `invalid` error naming the attribute.
    pub fn single_bool(&self) -> Result<bool, Error> {
        match self.values.as_slice() {
            [Value::Boolean(b)] => Ok(*b),
            _ => Err(Error::invalid_attribute(
                &self.name,
                "takes one boolean value",
            )),
        }
    }

    /// Every value as text (text or reference values, such as uids).
    pub fn texts(&self) -> Result<Vec<String>, Error> {
        self.values
            .iter()
            .map(|v| {
                v.as_text().map(str::to_owned).ok_or_else(|| {
                    Error::invalid_attribute(&self.name, "holds uids: text or reference values")
                })
            })
            .collect()
    }
}

impl AttributeChange {
    /// The attribute this change applies to.
    pub fn attribute(&self) -> &Attribute {
        match self {
            AttributeChange::Replace(a)
            | AttributeChange::AddValues(a)
            | AttributeChange::RemoveValues(a) => a,
        }
    }
}

/// Finds an attribute by name (case-insensitively) in a list.
pub fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes.iter().find(|a| a.is(name))
}

impl ConnectorObject {
    /// An object with no attributes yet.
    pub fn new(class: impl Into<String>, uid: impl Into<String>, name: impl Into<String>) -> Self {
        ConnectorObject {
            uid: uid.into(),
            name: name.into(),
            class: class.into(),
            attributes: Vec::new(),
        }
    }

    /// Adds an attribute (builder style).
    pub fn with(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// The attribute called `name` (case-insensitively).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attribute(&self.attributes, name)
    }
}

impl ConnectorInfo {
    /// Info for a connector; pass `env!("CARGO_PKG_VERSION")` as the version.
    pub fn new(name: &str, version: &str, description: &str, capabilities: Capabilities) -> Self {
        ConnectorInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            capabilities,
        }
    }
}

impl AttributeInfo {
    /// A single-valued, optional, readable and writable attribute.
    pub fn new(name: impl Into<String>, value_type: ValueType) -> Self {
        AttributeInfo {
            name: name.into(),
            value_type,
            multi_valued: false,
            required: false,
            readable: true,
            creatable: true,
            updatable: true,
            returned_by_default: true,
            description: None,
        }
    }

    pub fn multi_valued(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Write-only (like `__password__`): never returned.
    pub fn write_only(mut self) -> Self {
        self.readable = false;
        self.returned_by_default = false;
        self
    }

    /// Set by the target, never by the host (like a generated key).
    pub fn read_only(mut self) -> Self {
        self.creatable = false;
        self.updatable = false;
        self
    }
}

impl ClassInfo {
    pub fn new(name: impl Into<String>, attributes: Vec<AttributeInfo>) -> Self {
        ClassInfo {
            name: name.into(),
            attributes,
            description: None,
        }
    }
}

impl Error {
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Error::AlreadyExists(message.into())
    }

    /// An invalid request or configuration not tied to one attribute.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(InvalidDetail {
            attribute: None,
            message: message.into(),
        })
    }

    /// An invalid value of `attribute`.
    pub fn invalid_attribute(attribute: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(InvalidDetail {
            attribute: Some(attribute.into()),
            message: message.into(),
        })
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported(message.into())
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::PermissionDenied(message.into())
    }

    /// A transient failure: the host retries with backoff.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// The target asked to slow down: the host retries after the delay.
    pub fn rate_limited(retry_after_ms: u64, message: impl Into<String>) -> Self {
        Error::RateLimited(RateLimit {
            retry_after_ms,
            message: message.into(),
        })
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// True for the cases the host retries.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::RateLimited(_))
    }
}
