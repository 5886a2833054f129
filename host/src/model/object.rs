use serde::{Deserialize, Serialize};

/// One value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
    Boolean(bool),
    Binary(Vec<u8>),
    /// The uid of another object on the same target.
    Reference(String),
}

/// A named attribute with zero or more values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<Value>,
}

impl Attribute {
    pub fn new(name: impl Into<String>, values: Vec<Value>) -> Self {
        Attribute {
            name: name.into(),
            values,
        }
    }

    pub fn single(name: impl Into<String>, value: Value) -> Self {
        Self::new(name, vec![value])
    }

    /// True when `name` names this attribute (case-insensitively).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// True for `__password__`, whose values must never be shown.
    pub fn is_secret(&self) -> bool {
        self.is(super::names::PASSWORD)
    }
}

/// Finds an attribute by name (case-insensitively).
pub fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes.iter().find(|a| a.is(name))
}

/// An object on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorObject {
    pub uid: String,
    pub name: String,
    pub class: String,
    #[serde(with = "super::json::attributes")]
    pub attributes: Vec<Attribute>,
}

impl ConnectorObject {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attribute(&self.attributes, name)
    }
}

/// A change to one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeChange {
    /// Set exactly these values (none clears the attribute).
    Replace(Attribute),
    AddValues(Attribute),
    RemoveValues(Attribute),
}

impl AttributeChange {
    pub fn attribute(&self) -> &Attribute {
        match self {
            AttributeChange::Replace(a)
            | AttributeChange::AddValues(a)
            | AttributeChange::RemoveValues(a) => a,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            size: 100,
            cookie: None,
        }
    }
}

/// Which objects to count (contract 0.2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRequest {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default)]
    pub page: PageRequest,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub objects: Vec<ConnectorObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeltaKind {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDelta {
    pub kind: DeltaKind,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ConnectorObject>,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default = "default_max_deltas")]
    pub max_deltas: u32,
}

fn default_max_deltas() -> u32 {
    500
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBatch {
    pub deltas: Vec<SyncDelta>,
    pub token: String,
    pub has_more: bool,
}

/// Host-side filter evaluation (protected-account filters) uses the same
/// rules as connectors.
impl provisio_filter::FilterSubject for ConnectorObject {
    fn uid(&self) -> &str {
        &self.uid
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn values(&self, name: &str) -> Option<Vec<provisio_filter::ValueRef<'_>>> {
        use provisio_filter::ValueRef;
        self.attribute(name).map(|a| {
            a.values
                .iter()
                .map(|v| match v {
                    Value::Text(s) => ValueRef::Text(s),
                    Value::Integer(i) => ValueRef::Integer(*i),
                    Value::Boolean(b) => ValueRef::Boolean(*b),
                    Value::Binary(b) => ValueRef::Binary(b),
                    Value::Reference(r) => ValueRef::Reference(r),
                })
                .collect()
        })
    }
}
