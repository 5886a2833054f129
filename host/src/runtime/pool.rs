//! A bounded pool of warm instances of one connector for one target.
//!
//! A component instance runs one call at a time, so concurrency comes from
//! several instances. The semaphore bounds how many exist; idle ones are
//! reused; an instance that trapped, timed out or blew its memory cap is
//! dropped (a trapped instance cannot be entered again) and the next call
//! instantiates a fresh one from the `InstancePre`, in microseconds.

use crate::runtime::bindings::{Bindings, BindingsPre, Outcome};
use crate::runtime::capabilities::wasi::panic_message;
use crate::runtime::error::CallErrorKind;
use crate::runtime::scrub::{Scrubber, Strings};
use crate::runtime::size::ApproxSize;
use crate::runtime::state::InstanceState;
use crate::runtime::target::TargetSettings;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use wasmtime::{Engine, PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

/// Extra wall time past the epoch deadline before the host gives up
/// waiting: epochs do not interrupt host functions, so a call blocked in one
/// is abandoned (and its instance dropped with the future).
const OUTER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest text of a connector's error the host keeps.
const MAX_ERROR_TEXT: usize = 8 * 1024;

fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push_str("… (cut)");
    }
}

/// Resources an idle instance may keep between calls (a connector's
/// database or directory handles); more, and it is recycled.
const MAX_HELD_ACROSS_CALLS: usize = 32;

/// One guest call in progress, borrowing its instance.
pub(crate) type GuestCall<'a, R> = Pin<Box<dyn Future<Output = Outcome<R>> + Send + 'a>>;

/// Counters of one pool, for tests, metrics and the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Instances created since the pool started.
    pub instantiated: u64,
    /// Instances dropped because a call trapped, timed out or overran a limit.
    pub discarded: u64,
    /// Instances idle right now.
    pub idle: usize,
}

struct Instance {
    store: Store<InstanceState>,
    bindings: Bindings,
}

pub(crate) struct InstancePool {
    engine: Engine,
    pre: BindingsPre,
    target: Arc<TargetSettings>,
    /// `name@version` of the connector serving the target.
    connector: Arc<str>,
    /// The target's secrets, kept out of what the connector says.
    scrubber: Arc<Scrubber>,
    idle: Mutex<Vec<Instance>>,
    permits: Arc<Semaphore>,
    instantiated: AtomicU64,
    discarded: AtomicU64,
}

impl InstancePool {
    pub fn new(
        engine: Engine,
        pre: BindingsPre,
        target: Arc<TargetSettings>,
        connector: Arc<str>,
        scrubber: Arc<Scrubber>,
    ) -> Self {
        InstancePool {
            engine,
            pre,
            permits: Arc::new(Semaphore::new(target.max_instances)),
            target,
            connector,
            scrubber,
            idle: Mutex::new(Vec::new()),
            instantiated: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
        }
    }

    pub fn target(&self) -> &TargetSettings {
        &self.target
    }

    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Waits for the right to run one call.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed")
    }

    /// The right to run one call, if one is free now.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::NoPermits) => None,
            Err(TryAcquireError::Closed) => unreachable!("the pool's semaphore is never closed"),
        }
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            instantiated: self.instantiated.load(Ordering::Relaxed),
            discarded: self.discarded.load(Ordering::Relaxed),
            idle: self.lock_idle().len(),
        }
    }

    /// Creates idle instances until `count` are idle (at most the pool's
    /// size), so the next calls skip instantiation. Returns how many exist.
    pub async fn prewarm(&self, count: usize) -> Result<usize, CallErrorKind> {
        let count = count.min(self.target.max_instances);
        loop {
            if self.lock_idle().len() >= count {
                return Ok(count);
            }
            let instance = self.bounded(self.instantiate()).await??;
            self.lock_idle().push(instance);
        }
    }

    /// `work` within the target's call timeout (and a grace): epochs stop a
    /// computing guest, not one waiting in a host function, so every wait
    /// on a guest has a wall-clock bound too. On expiry the future, and the
    /// instance it holds, is dropped.
    async fn bounded<T>(&self, work: impl Future<Output = T>) -> Result<T, CallErrorKind> {
        let timeout = self.target.limits.timeout;
        match tokio::time::timeout(timeout + OUTER_GRACE, work).await {
            Ok(done) => Ok(done),
            Err(_elapsed) => {
                self.note_abandoned();
                Err(CallErrorKind::Timeout(timeout))
            }
        }
    }

    /// Drops every idle instance (in-flight calls keep theirs). Returns how
    /// many were dropped.
    pub fn release_idle(&self) -> usize {
        let released: Vec<Instance> = std::mem::take(&mut *self.lock_idle());
        released.len()
    }

    /// Runs one call, within the target's timeout. The caller holds a
    /// permit. Dropping the future drops the instance with it: an instance
    /// left in the middle of a call is never reused.
    pub async fn call<R, F>(&self, f: F) -> Result<R, CallErrorKind>
    where
        R: ApproxSize + Strings,
        F: for<'a> FnOnce(&'a Bindings, &'a mut Store<InstanceState>) -> GuestCall<'a, R>,
    {
        self.bounded(self.call_unbounded(f)).await?
    }

    async fn call_unbounded<R, F>(&self, f: F) -> Result<R, CallErrorKind>
    where
        R: ApproxSize + Strings,
        F: for<'a> FnOnce(&'a Bindings, &'a mut Store<InstanceState>) -> GuestCall<'a, R>,
    {
        let idle = self.lock_idle().pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.instantiate().await?,
        };
        self.arm(&mut instance.store);
        let result = f(&instance.bindings, &mut instance.store).await;
        {
            use crate::runtime::capabilities::log::LogView;
            instance
                .store
                .data_mut()
                .log()
                .report_dropped(Instant::now(), true);
        }
        let printed = self.scrubber.scrubbed(&instance.store.data().output.take());
        match result {
            Ok(Ok(mut value)) => {
                value.scrub(&self.scrubber);
                self.log_printed(&printed);
                let size = value.approx_size();
                let limit = self.target.limits.max_output_bytes;
                if size > limit {
                    self.discard(instance);
                    return Err(CallErrorKind::OutputTooLarge { size, limit });
                }
                self.keep_or_recycle(instance);
                Ok(value)
            }
            Ok(Err(mut error)) => {
                error.scrub(&self.scrubber);
                // An error's text is logged, stored and answered: bounded.
                error.for_each_string(&mut |s| cut(s, MAX_ERROR_TEXT));
                self.log_printed(&printed);
                self.keep_or_recycle(instance);
                Err(CallErrorKind::Connector(error))
            }
            Err(error) => {
                let kind = self.classify(&error, instance.store.data(), &printed);
                self.discard(instance);
                Err(kind)
            }
        }
    }

    /// Counts an instance dropped with an abandoned call (the caller's
    /// outer deadline passed while the guest waited on the host).
    pub fn note_abandoned(&self) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
    }

    async fn instantiate(&self) -> Result<Instance, CallErrorKind> {
        let state = InstanceState::new(
            self.target.clone(),
            self.connector.clone(),
            self.scrubber.clone(),
        )
        .map_err(CallErrorKind::Instantiate)?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Each epoch tick past the deadline's start yields to the runtime,
        // so a guest computing for long shares its worker thread; past the
        // call's deadline the guest traps.
        store.epoch_deadline_callback(|store| {
            if Instant::now() >= store.data().deadline {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        self.arm(&mut store);
        match self.pre.instantiate(&mut store).await {
            Ok(bindings) => {
                self.instantiated.fetch_add(1, Ordering::Relaxed);
                Ok(Instance { store, bindings })
            }
            Err(e) if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() => {
                Err(CallErrorKind::Busy)
            }
            Err(e) => {
                let printed = self.scrubber.scrubbed(&store.data().output.take());
                Err(match self.classify(&e, store.data(), &printed) {
                    CallErrorKind::Trap { message } => CallErrorKind::Instantiate(message),
                    other => other,
                })
            }
        }
    }

    /// Sets the deadline and clears per-call state before entering the guest.
    fn arm(&self, store: &mut Store<InstanceState>) {
        store.data_mut().deadline = Instant::now() + self.target.limits.timeout;
        store.set_epoch_deadline(1);
        store.data_mut().limiter.reset();
        store.data_mut().host_budget.reset();
    }

    /// Names the cause of a failed call: the limiter, the epoch, a panic
    /// message on stderr, or the raw trap.
    fn classify(
        &self,
        error: &wasmtime::Error,
        state: &InstanceState,
        printed: &str,
    ) -> CallErrorKind {
        if let Some(requested) = state.limiter.refused() {
            return CallErrorKind::MemoryLimit {
                requested,
                limit: state.limiter.memory_limit(),
            };
        }
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return CallErrorKind::Timeout(self.target.limits.timeout);
        }
        if let Some(message) = panic_message(printed) {
            return CallErrorKind::Panic { message };
        }
        let trap = error
            .downcast_ref::<Trap>()
            .map(|t| t.to_string())
            .unwrap_or_else(|| {
                // A host function's error: its root cause says what failed;
                // the outer layers are wasmtime's backtrace context.
                error
                    .root_cause()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
        let last_line = printed.lines().rev().find(|l| !l.trim().is_empty());
        let message = match last_line {
            Some(line) => format!("{trap} (guest printed: {})", line.trim()),
            None => trap,
        };
        CallErrorKind::Trap {
            message: self.scrubber.scrubbed(&message),
        }
    }

    /// Puts an instance back to serve the next call, unless it holds more
    /// resources than may outlive a call (open files, requests, handles a
    /// connector forgot): then it is dropped, and everything it held with
    /// it, so a target cannot pile descriptors up across calls.
    fn keep_or_recycle(&self, mut instance: Instance) {
        let held = instance.store.data_mut().resources_held();
        if held > MAX_HELD_ACROSS_CALLS {
            tracing::warn!(target: "provisio::connector", target = %self.target.name,
                connector = %self.connector, held,
                "the instance kept {held} resources after its call (at most {MAX_HELD_ACROSS_CALLS} may outlive one); it was dropped with them");
            self.discard(instance);
            return;
        }
        self.lock_idle().push(instance);
    }

    fn discard(&self, instance: Instance) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
        drop(instance);
    }

    fn log_printed(&self, printed: &str) {
        if !printed.is_empty() {
            tracing::debug!(target: "provisio::connector", target = %self.target.name,
                connector = %self.connector, "connector printed: {}", printed.trim_end());
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
