//! One binding per supported contract version, side by side (the model is
//! Zed's extension host). Each converts its generated types into the host's
//! `model`, so nothing above the runtime knows which version a connector
//! was built against.
//!
//! Adding a version: freeze its WIT under `wit/<version>/`, add a module
//! here generated from it, a variant to [`BindingsPre`] and [`Bindings`],
//! and its entry in [`SUPPORTED`].

mod common;
mod v0_1_0;
mod v0_2_0;

use crate::model::{
    Attribute, AttributeChange, ConnectorError, ConnectorInfo, ConnectorObject, CountRequest,
    ObjectSchema, Page, SearchRequest, SyncBatch, SyncRequest,
};
use crate::runtime::capabilities::config::ConfigView;
use crate::runtime::capabilities::log::LogView;
use crate::runtime::state::InstanceState;
use semver::Version;
use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

/// The contract versions this host binds, oldest first.
pub const SUPPORTED: &[&str] = &[v0_1_0::VERSION, v0_2_0::VERSION];

/// The bound version a connector built against `found` runs on: the same
/// major (and, before 1.0, the same minor) version, as semver defines
/// compatibility.
pub fn binding_for(found: &Version) -> Option<&'static str> {
    SUPPORTED.iter().copied().find(|supported| {
        let bound = Version::parse(supported).expect("SUPPORTED holds semver");
        bound.major == found.major && (bound.major > 0 || bound.minor == found.minor)
    })
}

/// "provisio:connector@0.1.x, 0.2.x": each supported version line.
pub fn supported_description() -> String {
    let lines: Vec<String> = SUPPORTED
        .iter()
        .map(|v| {
            let v = Version::parse(v).expect("SUPPORTED holds semver");
            if v.major == 0 {
                format!("0.{}.x", v.minor)
            } else {
                format!("{}.x", v.major)
            }
        })
        .collect();
    format!("provisio:connector@{}", lines.join(", "))
}

/// Links the contract's own imports (`log`, `config`) of every supported
/// version. The capabilities, versioned on their own, link themselves
/// (`runtime/capabilities`).
pub fn add_to_linker<T: LogView + ConfigView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    v0_1_0::add_to_linker(linker)?;
    v0_2_0::add_to_linker(linker)
}

/// A connector prepared for instantiation, by contract version.
#[derive(Clone)]
pub enum BindingsPre {
    V0_1(v0_1_0::Pre),
    V0_2(v0_2_0::Pre),
}

impl BindingsPre {
    pub fn new(binding: &str, pre: InstancePre<InstanceState>) -> wasmtime::Result<Self> {
        match binding {
            v0_1_0::VERSION => Ok(BindingsPre::V0_1(v0_1_0::Pre::new(pre)?)),
            v0_2_0::VERSION => Ok(BindingsPre::V0_2(v0_2_0::Pre::new(pre)?)),
            other => unreachable!("no binding for supported version {other}"),
        }
    }

    pub async fn instantiate(
        &self,
        store: &mut Store<InstanceState>,
    ) -> wasmtime::Result<Bindings> {
        match self {
            BindingsPre::V0_1(pre) => Ok(Bindings::V0_1(pre.instantiate_async(store).await?)),
            BindingsPre::V0_2(pre) => Ok(Bindings::V0_2(pre.instantiate_async(store).await?)),
        }
    }
}

/// The exports of one instance.
pub enum Bindings {
    V0_1(v0_1_0::Plugin),
    V0_2(v0_2_0::Plugin),
}

/// A call's outcome: the outer error is the guest misbehaving (trap,
/// timeout), the inner one the connector's own answer.
pub type Outcome<T> = wasmtime::Result<Result<T, ConnectorError>>;

type S<'a> = &'a mut Store<InstanceState>;

impl Bindings {
    pub async fn info(&self, store: S<'_>) -> wasmtime::Result<ConnectorInfo> {
        match self {
            Bindings::V0_1(b) => v0_1_0::info(b, store).await,
            Bindings::V0_2(b) => v0_2_0::info(b, store).await,
        }
    }

    pub async fn schema(&self, store: S<'_>) -> Outcome<ObjectSchema> {
        match self {
            Bindings::V0_1(b) => v0_1_0::schema(b, store).await,
            Bindings::V0_2(b) => v0_2_0::schema(b, store).await,
        }
    }

    pub async fn test(&self, store: S<'_>) -> Outcome<()> {
        match self {
            Bindings::V0_1(b) => v0_1_0::test(b, store).await,
            Bindings::V0_2(b) => v0_2_0::test(b, store).await,
        }
    }

    pub async fn create(
        &self,
        store: S<'_>,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Outcome<ConnectorObject> {
        match self {
            Bindings::V0_1(b) => v0_1_0::create(b, store, class, attributes).await,
            Bindings::V0_2(b) => v0_2_0::create(b, store, class, attributes).await,
        }
    }

    pub async fn get(
        &self,
        store: S<'_>,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Outcome<ConnectorObject> {
        match self {
            Bindings::V0_1(b) => v0_1_0::get(b, store, class, uid, attributes).await,
            Bindings::V0_2(b) => v0_2_0::get(b, store, class, uid, attributes).await,
        }
    }

    pub async fn update(
        &self,
        store: S<'_>,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Outcome<ConnectorObject> {
        match self {
            Bindings::V0_1(b) => v0_1_0::update(b, store, class, uid, changes).await,
            Bindings::V0_2(b) => v0_2_0::update(b, store, class, uid, changes).await,
        }
    }

    pub async fn delete(&self, store: S<'_>, class: &str, uid: &str) -> Outcome<()> {
        match self {
            Bindings::V0_1(b) => v0_1_0::delete(b, store, class, uid).await,
            Bindings::V0_2(b) => v0_2_0::delete(b, store, class, uid).await,
        }
    }

    pub async fn search(&self, store: S<'_>, request: SearchRequest) -> Outcome<Page> {
        match self {
            Bindings::V0_1(b) => v0_1_0::search(b, store, request).await,
            Bindings::V0_2(b) => v0_2_0::search(b, store, request).await,
        }
    }

    pub async fn sync(&self, store: S<'_>, request: SyncRequest) -> Outcome<SyncBatch> {
        match self {
            Bindings::V0_1(b) => v0_1_0::sync(b, store, request).await,
            Bindings::V0_2(b) => v0_2_0::sync(b, store, request).await,
        }
    }

    /// Since 0.2.0; a 0.1.0 connector cannot count.
    pub async fn count(&self, store: S<'_>, request: CountRequest) -> Outcome<u64> {
        match self {
            Bindings::V0_1(_) => Ok(Err(ConnectorError::Unsupported {
                message: "count came with provisio:connector@0.2.0".into(),
            })),
            Bindings::V0_2(b) => v0_2_0::count(b, store, request).await,
        }
    }

    pub async fn latest_sync_token(&self, store: S<'_>, class: &str) -> Outcome<String> {
        match self {
            Bindings::V0_1(b) => v0_1_0::latest_sync_token(b, store, class).await,
            Bindings::V0_2(b) => v0_2_0::latest_sync_token(b, store, class).await,
        }
    }
}
