//! The host's own types for what crosses the connector boundary.
//!
//! Every contract version's generated bindings convert into these (see
//! `runtime::bindings`), so the engine, the API and the CLI deal with one
//! set of types whichever contract a connector was built against.

mod json;
mod object;
mod schema;

/// `#[serde(with)]` for a `Vec<Attribute>` as a JSON object of names to values.
pub use json::MAX_ATTRIBUTES;
pub use json::attributes as json_attributes;
pub use object::{
    Attribute, AttributeChange, ConnectorObject, CountRequest, DeltaKind, Page, PageRequest,
    SearchRequest, SyncBatch, SyncDelta, SyncRequest, Value, find_attribute,
};
pub use schema::{
    AttributeInfo, Capabilities, ClassInfo, ConnectorError, ConnectorInfo, ObjectSchema, ValueType,
};

/// Well-known attribute names shared by every connector (as in ConnId).
pub mod names {
    /// The naming attribute (DN, sAMAccountName, userName, key column).
    pub const NAME: &str = "__name__";
    /// Boolean: false when the account is disabled.
    pub const ENABLE: &str = "__enable__";
    /// Write-only password; its values are redacted everywhere in the host.
    pub const PASSWORD: &str = "__password__";
    /// References to the groups an account belongs to.
    pub const GROUPS: &str = "__groups__";
}
