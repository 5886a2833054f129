use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Text,
    Integer,
    Boolean,
    Binary,
    Reference,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeInfo {
    pub name: String,
    pub value_type: ValueType,
    pub multi_valued: bool,
    pub required: bool,
    pub readable: bool,
    pub creatable: bool,
    pub updatable: bool,
    pub returned_by_default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassInfo {
    pub name: String,
    pub attributes: Vec<AttributeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSchema {
    pub classes: Vec<ClassInfo>,
}

/// The operations a connector declares. The host refuses the others without
/// calling the connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub create: bool,
    pub get: bool,
    pub update: bool,
    pub delete: bool,
    pub search: bool,
    pub sync: bool,
    pub schema: bool,
    pub test: bool,
    /// Since contract 0.2.0.
    #[serde(default)]
    pub count: bool,
}

impl Capabilities {
    /// The declared operations by name, in contract order.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.create, "create"),
            (self.get, "get"),
            (self.update, "update"),
            (self.delete, "delete"),
            (self.search, "search"),
            (self.sync, "sync"),
            (self.schema, "schema"),
            (self.test, "test"),
            (self.count, "count"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub capabilities: Capabilities,
}

/// An error a connector returned: the target refused or failed the request.
/// `unavailable` and `rate-limited` are retryable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum ConnectorError {
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("already exists: {message}")]
    AlreadyExists { message: String },
    #[error("invalid{}: {message}", attribute_suffix(.attribute))]
    Invalid {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribute: Option<String>,
        message: String,
    },
    #[error("unsupported: {message}")]
    Unsupported { message: String },
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    #[error("unavailable: {message}")]
    Unavailable { message: String },
    #[error("rate limited, retry after {retry_after_ms} ms: {message}")]
    RateLimited {
        retry_after_ms: u64,
        message: String,
    },
    #[error("failed: {message}")]
    Failed { message: String },
}

fn attribute_suffix(attribute: &Option<String>) -> String {
    attribute
        .as_ref()
        .map(|a| format!(" attribute `{a}`"))
        .unwrap_or_default()
}

impl ConnectorError {
    /// True for the errors the engine retries.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Unavailable { .. } | ConnectorError::RateLimited { .. }
        )
    }

    /// The stable code of the case, as in the contract (`not-found`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::NotFound { .. } => "not-found",
            ConnectorError::AlreadyExists { .. } => "already-exists",
            ConnectorError::Invalid { .. } => "invalid",
            ConnectorError::Unsupported { .. } => "unsupported",
            ConnectorError::PermissionDenied { .. } => "permission-denied",
            ConnectorError::Unavailable { .. } => "unavailable",
            ConnectorError::RateLimited { .. } => "rate-limited",
            ConnectorError::Failed { .. } => "failed",
        }
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
