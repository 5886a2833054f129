//! The host-side state of one connector instance (its `Store` data): the
//! views each capability lends it, its limits, and its resource table.

use crate::runtime::capabilities::config::{ConfigCtxView, ConfigView};
use crate::runtime::capabilities::http::HttpHooks;
use crate::runtime::capabilities::ldap::{LdapCtxView, LdapView};
use crate::runtime::capabilities::log::{LogBudget, LogCtxView, LogView};
use crate::runtime::capabilities::sql::{SqlCtxView, SqlView};
use crate::runtime::capabilities::wasi::{self, GuestOutput};
use crate::runtime::limits::{GuestLimiter, HostBudget};
use crate::runtime::scrub::Scrubber;
use crate::runtime::target::TargetSettings;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Host resources (streams, open files, handles) one instance may hold at
/// once, within a call. A target holds at most `max_instances` times this.
pub const MAX_RESOURCES: usize = 256;

pub struct InstanceState {
    target: Arc<TargetSettings>,
    /// `name@version` of the connector, for its log lines.
    connector: Arc<str>,
    /// The target's secrets, scrubbed from its log lines.
    scrubber: Arc<Scrubber>,
    log_budget: LogBudget,
    pub(crate) limiter: GuestLimiter,
    /// What the call in progress has made the host hold.
    pub(crate) host_budget: HostBudget,
    pub(crate) output: GuestOutput,
    /// When the call in progress must end; the epoch callback checks it.
    pub(crate) deadline: Instant,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    table: ResourceTable,
}

impl InstanceState {
    /// State for a fresh instance: WASI with only the target's grants.
    pub fn new(
        target: Arc<TargetSettings>,
        connector: Arc<str>,
        scrubber: Arc<Scrubber>,
    ) -> Result<Self, String> {
        let output = GuestOutput::default();
        let wasi = wasi::context(
            &output,
            target.grants.directory.as_ref(),
            target.grants.tape.as_ref(),
        )?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Ok(InstanceState {
            log_budget: LogBudget::new(target.limits.log_lines_per_second, target.limits.log_burst),
            limiter: GuestLimiter::new(target.limits.memory_bytes),
            host_budget: HostBudget::new(target.limits.max_host_bytes),
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(
                &target.name,
                target.grants.http.clone(),
                target.grants.tape.clone(),
            ),
            target,
            connector,
            scrubber,
            output,
            deadline: Instant::now(),
            wasi,
            table,
        })
    }
}

impl InstanceState {
    /// Resources the guest holds in its table right now.
    pub(crate) fn resources_held(&mut self) -> usize {
        self.table.iter_mut().count()
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl SqlView for InstanceState {
    fn sql(&mut self) -> SqlCtxView<'_> {
        SqlCtxView {
            grant: self.target.grants.sql.as_ref(),
            table: &mut self.table,
            budget: &mut self.host_budget,
        }
    }
}

impl LdapView for InstanceState {
    fn ldap(&mut self) -> LdapCtxView<'_> {
        LdapCtxView {
            grant: self.target.grants.ldap.as_ref(),
            table: &mut self.table,
            budget: &mut self.host_budget,
        }
    }
}

impl ConfigView for InstanceState {
    fn config(&mut self) -> ConfigCtxView<'_> {
        ConfigCtxView {
            grant: &self.target.grants.config,
            target: &self.target.name,
        }
    }
}

impl LogView for InstanceState {
    fn log(&mut self) -> LogCtxView<'_> {
        LogCtxView {
            target: &self.target.name,
            connector: &self.connector,
            scrubber: &self.scrubber,
            budget: &mut self.log_budget,
        }
    }
}
