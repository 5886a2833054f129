//! # provisio-sdk: write Provisio connectors in plain Rust
//!
//! A connector is a WebAssembly component that Provisio loads into a
//! sandbox and calls to create, read, update, delete, search and sync
//! objects (accounts, groups) on one target system. With this crate you
//! implement the [`Connector`] trait on an ordinary Rust type, call
//! [`export_connector!`] once, and build with
//! `cargo build --target wasm32-wasip2 --release`: the output `.wasm` is
//! the connector. You never touch generated bindings.
//!
//! - Configuration set by the operator reaches you through [`Config`],
//!   with typed getters and [`Secret`]s that never print.
//! - [`info!`], [`warn!`] and friends log into the host's tracing.
//! - Search filters arrive parsed ([`Query::filter`], a SCIM filter AST);
//!   [`filter::matches`] evaluates one against an object.
//! - Errors are [`Error`] cases the host acts on: `unavailable` and
//!   `rate-limited` are retried, the others are final.
//!
//! ## A complete connector
//!
//! A read-only connector that serves the accounts listed in its
//! configuration (`accounts = "alice,bob"`):
//!
//! ```
//! use provisio_sdk::{
//!     Attribute, Capabilities, ClassInfo, AttributeInfo, Config, Connector,
//!     ConnectorInfo, ConnectorObject, Error, Page, Query, ObjectSchema, ValueType,
//!     export_connector, filter,
//! };
//!
//! struct StaticAccounts {
//!     names: Vec<String>,
//! }
//!
//! impl StaticAccounts {
//!     fn object(name: &str) -> ConnectorObject {
//!         ConnectorObject::new("account", name, name)
//!             .with(Attribute::single("userName", name))
//!     }
//! }
//!
//! impl Connector for StaticAccounts {
//!     fn info() -> ConnectorInfo {
//!         ConnectorInfo::new(
//!             "static",
//!             env!("CARGO_PKG_VERSION"),
//!             "Accounts listed in the configuration",
//!             Capabilities::GET | Capabilities::SEARCH | Capabilities::SCHEMA | Capabilities::TEST,
//!         )
//!     }
//!
//!     fn open(config: &Config) -> Result<Self, Error> {
//!         let names = config.list("accounts", ',');
//!         if names.is_empty() {
//!             return Err(Error::invalid("configuration key `accounts` lists no account"));
//!         }
//!         provisio_sdk::info!("serving {} accounts", names.len());
//!         Ok(StaticAccounts { names })
//!     }
//!
//!     fn schema(&mut self) -> Result<ObjectSchema, Error> {
//!         let user_name = AttributeInfo::new("userName", ValueType::Text).required();
//!         Ok(ObjectSchema { classes: vec![ClassInfo::new("account", vec![user_name])] })
//!     }
//!
//!     fn get(&mut self, _class: &str, uid: &str, _attributes: &[String]) -> Result<ConnectorObject, Error> {
//!         self.names
//!             .iter()
//!             .find(|n| *n == uid)
//!             .map(|n| Self::object(n))
//!             .ok_or_else(|| Error::not_found(format!("no account {uid}")))
//!     }
//!
//!     fn search(&mut self, query: Query) -> Result<Page, Error> {
//!         let objects = self
//!             .names
//!             .iter()
//!             .map(|n| Self::object(n))
//!             .filter(|o| query.filter.as_ref().is_none_or(|f| filter::matches(f, o)))
//!             .collect();
//!         Ok(Page { objects, cookie: None, remaining: None })
//!     }
//! }
//!
//! export_connector!(StaticAccounts);
//! # fn main() {}
//! ```
//!
//! The `Cargo.toml` of a connector needs `crate-type = ["cdylib"]` and a
//! dependency on `provisio-sdk`; nothing else.

// The export macro refers to `::provisio_sdk`, also from inside this crate.
extern crate self as provisio_sdk;

#[doc(hidden)]
pub mod bindings;
pub mod config;
mod export;
pub mod filter;
pub mod http;
pub mod ldap;
pub mod log;
pub mod names;
pub mod naming;
#[cfg(not(target_arch = "wasm32"))]
mod native;
pub mod sql;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod types;

pub use bindings::provisio::connector::types::{
    Attribute, AttributeChange, AttributeInfo, Capabilities, ClassInfo, ConnectorInfo,
    ConnectorObject, DeltaKind, Error, InvalidDetail, ObjectSchema, Page, PageRequest, RateLimit,
    SyncBatch, SyncDelta, SyncRequest, Value, ValueType,
};
pub use config::{Config, HostRun, Secret};
pub use filter::Filter;
pub use types::find_attribute;

/// The contract version this SDK builds connectors against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// A search request with its filter already parsed.
#[derive(Debug, Clone)]
pub struct Query {
    /// The object class to search.
    pub class: String,
    /// The filter, `None` for every object of the class.
    pub filter: Option<Filter>,
    /// Which page to return.
    pub page: PageRequest,
    /// Attributes to return; empty for the connector's defaults.
    pub attributes: Vec<String>,
}

/// What a connector implements. Only [`info`](Connector::info) and
/// [`open`](Connector::open) are required; every other operation answers
/// `unsupported` until you implement it (and declare it in
/// [`ConnectorInfo::capabilities`], so the host knows not to ask).
///
/// The host may run several instances of a connector at once, each serving
/// calls one at a time, and may discard an instance between any two calls.
/// An instance is opened on its first call.
pub trait Connector: Sized + 'static {
    /// Static facts: name, version, capabilities. Must not fail.
    fn info() -> ConnectorInfo;

    /// Builds the connector from the target's configuration. Return
    /// `Error::invalid` naming the key when a setting is wrong.
    fn open(config: &Config) -> Result<Self, Error>;

    /// The classes and attributes of the target.
    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        Err(Error::unsupported("schema"))
    }

    /// Checks the target is reachable with this configuration. The default
    /// succeeds once [`open`](Connector::open) has.
    fn test(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Creates an object and returns it as stored, with its uid.
    fn create(
        &mut self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        let _ = (class, attributes);
        Err(Error::unsupported("create"))
    }

    /// Reads one object by uid.
    fn get(
        &mut self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let _ = (class, uid, attributes);
        Err(Error::unsupported("get"))
    }

    /// Applies changes to an object and returns it as stored afterwards.
    fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let _ = (class, uid, changes);
        Err(Error::unsupported("update"))
    }

    /// Deletes an object.
    fn delete(&mut self, class: &str, uid: &str) -> Result<(), Error> {
        let _ = (class, uid);
        Err(Error::unsupported("delete"))
    }

    /// Returns one page of objects matching the query.
    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let _ = query;
        Err(Error::unsupported("search"))
    }

    /// Returns changes after a token, oldest first.
    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let _ = request;
        Err(Error::unsupported("sync"))
    }

    /// The token that marks "now" for a class.
    fn latest_sync_token(&mut self, class: &str) -> Result<String, Error> {
        let _ = class;
        Err(Error::unsupported("sync"))
    }

    /// How many objects of a class match the filter, without returning
    /// them (contract 0.2.0; declare [`Capabilities::COUNT`]). A host asks
    /// a connector that cannot count to page through `search` instead.
    fn count(&mut self, class: &str, filter: Option<&Filter>) -> Result<u64, Error> {
        let _ = (class, filter);
        Err(Error::unsupported("count"))
    }
}

/// Exports a [`Connector`] implementation as the component's
/// `provisio:connector/connector` interface. Call it once per crate.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        const _: () = {
            #[allow(dead_code)]
            struct ProvisioExport;

            impl $crate::__private::Guest for ProvisioExport {
                fn info() -> $crate::ConnectorInfo {
                    <$connector as $crate::Connector>::info()
                }
                fn schema() -> ::core::result::Result<$crate::ObjectSchema, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.schema())
                }
                fn test() -> ::core::result::Result<(), $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.test())
                }
                fn create(
                    class: ::std::string::String,
                    attributes: ::std::vec::Vec<$crate::Attribute>,
                ) -> ::core::result::Result<$crate::ConnectorObject, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.create(&class, attributes))
                }
                fn get(
                    class: ::std::string::String,
                    uid: ::std::string::String,
                    attributes: ::std::vec::Vec<::std::string::String>,
                ) -> ::core::result::Result<$crate::ConnectorObject, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.get(&class, &uid, &attributes))
                }
                fn update(
                    class: ::std::string::String,
                    uid: ::std::string::String,
                    changes: ::std::vec::Vec<$crate::AttributeChange>,
                ) -> ::core::result::Result<$crate::ConnectorObject, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.update(&class, &uid, changes))
                }
                fn delete(
                    class: ::std::string::String,
                    uid: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.delete(&class, &uid))
                }
                fn search(
                    request: $crate::__private::SearchRequest,
                ) -> ::core::result::Result<$crate::Page, $crate::Error> {
                    $crate::__private::search::<$connector>(request)
                }
                fn sync(
                    request: $crate::SyncRequest,
                ) -> ::core::result::Result<$crate::SyncBatch, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.sync(request))
                }
                fn latest_sync_token(
                    class: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, $crate::Error> {
                    $crate::__private::with::<$connector, _>(|c| c.latest_sync_token(&class))
                }
                fn count(
                    request: $crate::__private::CountRequest,
                ) -> ::core::result::Result<u64, $crate::Error> {
                    $crate::__private::count::<$connector>(request)
                }
            }

            // Component exports exist only in a wasm build; a native build
            // (unit tests, clippy) type-checks the glue above and links.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::bindings::__export_connector_plugin!(
                ProvisioExport with_types_in $crate::__private::bindings
            );
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::exports::provisio::connector::connector::Guest;
    pub use crate::bindings::provisio::connector::types::{CountRequest, SearchRequest};
    pub use crate::export::{count, search, with};
    pub use wit_bindgen;
}
