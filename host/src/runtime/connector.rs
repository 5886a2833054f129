//! A loaded connector component, and a connector started for one target.

use crate::model::{
    Attribute, AttributeChange, ConnectorInfo, ConnectorObject, CountRequest, ObjectSchema, Page,
    SearchRequest, SyncBatch, SyncRequest,
};
use crate::runtime::bindings::{Bindings, BindingsPre};
use crate::runtime::block::block_on;
use crate::runtime::cache::CompileSource;
use crate::runtime::capabilities::Grants;
use crate::runtime::error::{CallError, CallErrorKind, Operation};
use crate::runtime::inspect::ComponentFacts;
use crate::runtime::pool::{GuestCall, InstancePool, PoolStats};
use crate::runtime::scrub::{Scrubber, Strings};
use crate::runtime::size::ApproxSize;
use crate::runtime::state::InstanceState;
use crate::runtime::target::TargetSettings;
use std::sync::Arc;
use tracing::Instrument;
use wasmtime::{Engine, Store};

/// A validated, compiled connector: not yet bound to a target.
pub struct LoadedComponent {
    /// sha256 of the `.wasm`.
    pub hash: String,
    pub info: ConnectorInfo,
    pub facts: ComponentFacts,
    /// Whether this load compiled, read the disk cache, or reused memory.
    pub source: CompileSource,
    pub(crate) engine: Engine,
    pub(crate) pre: BindingsPre,
    pub(crate) max_memory_bytes: usize,
}

/// Settings a target cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "target {target}: memory limit of {requested} bytes is over the host's maximum of {max} bytes"
    )]
    MemoryLimit {
        target: String,
        requested: usize,
        max: usize,
    },
    #[error("target {target}: granted directory {path} is not a directory")]
    Directory { target: String, path: String },
    #[error("target {target}: max_instances must be at least 1")]
    NoInstances { target: String },
    #[error(
        "target {target}: connector {connector} imports {capability}, which the target does not grant (grant it under [targets.{target}.grants])"
    )]
    NotGranted {
        target: String,
        connector: String,
        capability: String,
    },
}

impl LoadedComponent {
    /// `name@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.info.name, self.info.version)
    }

    /// A capability the component imports that `grants` do not give.
    pub fn ungranted_import(&self, grants: &Grants) -> Option<&str> {
        grants.ungranted_import(&self.facts.imports)
    }

    /// Starts the connector for one target. Instances are created on demand.
    pub fn start(self: &Arc<Self>, settings: TargetSettings) -> Result<Connector, StartError> {
        if settings.limits.memory_bytes > self.max_memory_bytes {
            return Err(StartError::MemoryLimit {
                target: settings.name,
                requested: settings.limits.memory_bytes,
                max: self.max_memory_bytes,
            });
        }
        if settings.max_instances == 0 {
            return Err(StartError::NoInstances {
                target: settings.name,
            });
        }
        if let Some(dir) = &settings.grants.directory
            && !dir.host_path.is_dir()
        {
            return Err(StartError::Directory {
                target: settings.name,
                path: dir.host_path.display().to_string(),
            });
        }
        if let Some(capability) = self.ungranted_import(&settings.grants) {
            return Err(StartError::NotGranted {
                capability: capability.to_owned(),
                target: settings.name,
                connector: self.label(),
            });
        }
        let scrubber = Arc::new(Scrubber::new(settings.grants.secret_values()));
        let pool = InstancePool::new(
            self.engine.clone(),
            self.pre.clone(),
            Arc::new(settings),
            self.label().into(),
            scrubber,
        );
        Ok(Connector {
            inner: Arc::new(Inner {
                component: self.clone(),
                pool,
            }),
        })
    }
}

/// A connector serving one target: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    component: Arc<LoadedComponent>,
    pool: InstancePool,
}

/// The same connector: one loaded version with its instances, not two
/// loads of the same bytes.
impl PartialEq for Connector {
    fn eq(&self, other: &Connector) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Connector {
    pub fn info(&self) -> &ConnectorInfo {
        &self.inner.component.info
    }

    pub fn component(&self) -> &Arc<LoadedComponent> {
        &self.inner.component
    }

    pub fn target(&self) -> &str {
        &self.inner.pool.target().name
    }

    pub fn stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// Instantiates until `count` instances are idle (capped by
    /// `max_instances`), so that the next calls (for example right after a
    /// version switch) skip instantiation.
    pub async fn prewarm(&self, count: usize) -> Result<usize, CallError> {
        self.inner
            .pool
            .prewarm(count)
            .await
            .map_err(|kind| self.error(Operation::Instantiate, kind))
    }

    /// Drops the idle instances, freeing their memory; calls in flight keep
    /// theirs. Returns how many were dropped.
    pub fn release_idle(&self) -> usize {
        self.inner.pool.release_idle()
    }

    /// The same operations, blocking the calling thread until they end.
    /// For the CLI, benchmarks and callers that own their threads; not for
    /// use on an async runtime's worker.
    pub fn blocking(&self) -> Blocking<'_> {
        Blocking(self)
    }

    pub async fn schema(&self) -> Result<ObjectSchema, CallError> {
        self.run(Operation::Schema, |b, s| Box::pin(b.schema(s)))
            .await
    }

    pub async fn test(&self) -> Result<(), CallError> {
        self.run(Operation::Test, |b, s| Box::pin(b.test(s))).await
    }

    pub async fn create(
        &self,
        class: impl Into<String>,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, CallError> {
        let class = class.into();
        self.run(Operation::Create, move |b, s| {
            Box::pin(async move { b.create(s, &class, attributes).await })
        })
        .await
    }

    pub async fn get(
        &self,
        class: impl Into<String>,
        uid: impl Into<String>,
        attributes: Vec<String>,
    ) -> Result<ConnectorObject, CallError> {
        let (class, uid) = (class.into(), uid.into());
        self.run(Operation::Get, move |b, s| {
            Box::pin(async move { b.get(s, &class, &uid, &attributes).await })
        })
        .await
    }

    pub async fn update(
        &self,
        class: impl Into<String>,
        uid: impl Into<String>,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, CallError> {
        let (class, uid) = (class.into(), uid.into());
        self.run(Operation::Update, move |b, s| {
            Box::pin(async move { b.update(s, &class, &uid, changes).await })
        })
        .await
    }

    pub async fn delete(
        &self,
        class: impl Into<String>,
        uid: impl Into<String>,
    ) -> Result<(), CallError> {
        let (class, uid) = (class.into(), uid.into());
        self.run(Operation::Delete, move |b, s| {
            Box::pin(async move { b.delete(s, &class, &uid).await })
        })
        .await
    }

    pub async fn search(&self, request: SearchRequest) -> Result<Page, CallError> {
        self.run(Operation::Search, move |b, s| {
            Box::pin(b.search(s, request))
        })
        .await
    }

    pub async fn sync(&self, request: SyncRequest) -> Result<SyncBatch, CallError> {
        self.run(Operation::Sync, move |b, s| Box::pin(b.sync(s, request)))
            .await
    }

    pub async fn latest_sync_token(&self, class: impl Into<String>) -> Result<String, CallError> {
        let class = class.into();
        self.run(Operation::LatestSyncToken, move |b, s| {
            Box::pin(async move { b.latest_sync_token(s, &class).await })
        })
        .await
    }

    /// How many objects match (a connector of contract 0.2.0 or later that
    /// declares `count`).
    pub async fn count(&self, request: CountRequest) -> Result<u64, CallError> {
        self.run(Operation::Count, move |b, s| Box::pin(b.count(s, request)))
            .await
    }

    /// Runs a call under the target's limits, as a future on the caller's
    /// runtime: the guest runs on a fiber that suspends whenever it waits on
    /// the host, so a call blocks no thread.
    async fn run<R, F>(&self, operation: Operation, f: F) -> Result<R, CallError>
    where
        R: ApproxSize + Strings + Send,
        F: for<'a> FnOnce(&'a Bindings, &'a mut Store<InstanceState>) -> GuestCall<'a, R> + Send,
    {
        self.check_declared(operation)?;
        let span = self.span(operation);
        let pool = &self.inner.pool;
        let call = async {
            let _permit = pool.acquire().await;
            pool.call(f).await
        };
        call.instrument(span)
            .await
            .map_err(|kind| self.error(operation, kind))
    }

    fn run_blocking<R, F>(&self, operation: Operation, f: F) -> Result<R, CallError>
    where
        R: ApproxSize + Strings + Send,
        F: for<'a> FnOnce(&'a Bindings, &'a mut Store<InstanceState>) -> GuestCall<'a, R> + Send,
    {
        self.check_declared(operation)?;
        let span = self.span(operation);
        let _permit = self
            .inner
            .pool
            .try_acquire()
            .ok_or_else(|| self.error(operation, CallErrorKind::Busy))?;
        block_on(self.inner.pool.call(f).instrument(span))
            .map_err(|kind| self.error(operation, kind))
    }

    fn check_declared(&self, operation: Operation) -> Result<(), CallError> {
        let c = &self.info().capabilities;
        let declared = match operation {
            Operation::Instantiate | Operation::Info => true,
            Operation::Schema => c.schema,
            Operation::Test => c.test,
            Operation::Create => c.create,
            Operation::Get => c.get,
            Operation::Update => c.update,
            Operation::Delete => c.delete,
            Operation::Search => c.search,
            Operation::Sync | Operation::LatestSyncToken => c.sync,
            Operation::Count => c.count,
        };
        if declared {
            Ok(())
        } else {
            Err(self.error(operation, CallErrorKind::NotSupported))
        }
    }

    fn span(&self, operation: Operation) -> tracing::Span {
        let pool = &self.inner.pool;
        tracing::debug_span!("connector_call", target = %pool.target().name,
            connector = %pool.connector(), operation = operation.as_str())
    }

    fn error(&self, operation: Operation, kind: CallErrorKind) -> CallError {
        let pool = &self.inner.pool;
        CallError {
            connector: pool.connector().to_owned(),
            target: pool.target().name.clone(),
            operation,
            kind,
        }
    }
}

/// The operations of a [`Connector`] on the calling thread. A call fails
/// with `Busy` instead of waiting when every instance is in use.
pub struct Blocking<'a>(&'a Connector);

impl Blocking<'_> {
    /// See [`Connector::prewarm`].
    pub fn prewarm(&self, count: usize) -> Result<usize, CallError> {
        block_on(self.0.prewarm(count))
    }

    pub fn schema(&self) -> Result<ObjectSchema, CallError> {
        self.0
            .run_blocking(Operation::Schema, |b, s| Box::pin(b.schema(s)))
    }

    pub fn test(&self) -> Result<(), CallError> {
        self.0
            .run_blocking(Operation::Test, |b, s| Box::pin(b.test(s)))
    }

    pub fn create(
        &self,
        class: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, CallError> {
        self.0.run_blocking(Operation::Create, |b, s| {
            let class = class.to_owned();
            Box::pin(async move { b.create(s, &class, attributes).await })
        })
    }

    pub fn get(
        &self,
        class: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, CallError> {
        self.0.run_blocking(Operation::Get, |b, s| {
            let (class, uid, attributes) = (class.to_owned(), uid.to_owned(), attributes.to_vec());
            Box::pin(async move { b.get(s, &class, &uid, &attributes).await })
        })
    }

    pub fn update(
        &self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, CallError> {
        self.0.run_blocking(Operation::Update, |b, s| {
            let (class, uid) = (class.to_owned(), uid.to_owned());
            Box::pin(async move { b.update(s, &class, &uid, changes).await })
        })
    }

    pub fn delete(&self, class: &str, uid: &str) -> Result<(), CallError> {
        self.0.run_blocking(Operation::Delete, |b, s| {
            let (class, uid) = (class.to_owned(), uid.to_owned());
            Box::pin(async move { b.delete(s, &class, &uid).await })
        })
    }

    pub fn search(&self, request: SearchRequest) -> Result<Page, CallError> {
        self.0.run_blocking(Operation::Search, |b, s| {
            Box::pin(async move { b.search(s, request).await })
        })
    }

    pub fn sync(&self, request: SyncRequest) -> Result<SyncBatch, CallError> {
        self.0.run_blocking(Operation::Sync, |b, s| {
            Box::pin(async move { b.sync(s, request).await })
        })
    }

    pub fn latest_sync_token(&self, class: &str) -> Result<String, CallError> {
        self.0.run_blocking(Operation::LatestSyncToken, |b, s| {
            let class = class.to_owned();
            Box::pin(async move { b.latest_sync_token(s, &class).await })
        })
    }
}
