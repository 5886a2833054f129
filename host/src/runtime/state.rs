//! The host-side state of one connector instance (its `Store` data).

use crate::runtime::capabilities::config::ConfigGrant;
use crate::runtime::capabilities::directory::DirectoryGrant;
use crate::runtime::capabilities::http::{HttpGrant, HttpHooks};
use crate::runtime::capabilities::ldap::LdapGrant;
use crate::runtime::capabilities::sql::SqlGrant;
use crate::runtime::limits::{CallLimits, GuestLimiter};
use crate::runtime::output::GuestOutput;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Host resources (streams, open files) one instance may hold at once.
const MAX_RESOURCES: usize = 1024;

/// What one target grants its connector, shared by all its instances.
#[derive(Debug, Clone)]
pub struct TargetContext {
    /// The target's name, for logs and errors.
    pub name: String,
    /// `name@version` of the connector serving it.
    pub connector: String,
    pub config: ConfigGrant,
    pub directory: Option<DirectoryGrant>,
    /// Databases, when the target grants any.
    pub sql: Option<Arc<SqlGrant>>,
    /// Outgoing HTTP, when the target grants any origin.
    pub http: Option<Arc<HttpGrant>>,
    /// Directories, when the target grants any.
    pub ldap: Option<Arc<LdapGrant>>,
    pub limits: CallLimits,
}

pub struct PluginState {
    pub(crate) target: Arc<TargetContext>,
    pub(crate) limiter: GuestLimiter,
    pub(crate) output: GuestOutput,
    /// When the call in progress must end; the epoch callback checks it.
    pub(crate) deadline: Instant,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    pub(crate) table: ResourceTable,
}

impl PluginState {
    /// State for a fresh instance: WASI with only the target's grants.
    pub fn new(target: Arc<TargetContext>) -> Result<Self, String> {
        let output = GuestOutput::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(output.clone())
            .stderr(output.clone())
            // A granted directory is local and its files small (CSV
            // tables): reading one in place costs less than a hop through
            // tokio's blocking pool per read.
            .allow_blocking_current_thread(true)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(directory) = &target.directory {
            directory.apply(&mut wasi)?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Ok(PluginState {
            limiter: GuestLimiter::new(target.limits.memory_bytes),
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(&target.name, target.http.clone()),
            target,
            output,
            deadline: Instant::now(),
            wasi: wasi.build(),
            table,
        })
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}
