//! The provisioning engine: accepts operations durably, runs them through
//! each target's connector in order per account and in parallel across
//! accounts, retries what the target says is temporary, applies the
//! target's policies, and records every step in the audit log.

mod completion;
mod deployment;
mod dispatch;
mod execute;
mod policy;
mod queue;
mod request;
mod switch;
mod target;

use deployment::Purpose;
pub use deployment::{Role as VersionRole, VersionStatus};
pub use request::{OperationKind, OperationRequest, RequestError};
pub use switch::{SwitchError, SwitchReport};
pub use target::{CanaryStatus, TargetStatus};

use crate::config::Config;
use crate::keys::HostKey;
use crate::model::{ObjectSchema, PageRequest, SearchRequest};
use crate::registry::Registry;
use crate::runtime::{CallError, Runtime};
use crate::store::{
    AuditEvent, Change, Deployment, ErrorRecord, Link, NewOperation, OperationQuery,
    OperationRecord, Status, Store, StoreError, Submitted, now_ms,
};
use execute::CallLog;
use queue::Entry;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use target::{Target, lock};

/// The engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("target {target}: {reason}")]
    Target { target: String, reason: String },
    #[error("the connector registry cannot open: {0}")]
    Registry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request on an operation or a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no target named `{0}`")]
    UnknownTarget(String),
    #[error("no operation {0}")]
    UnknownOperation(String),
    #[error(transparent)]
    Invalid(#[from] RequestError),
    #[error("operation {id} is {current}: {reason}")]
    WrongState {
        id: String,
        current: Status,
        reason: String,
    },
    #[error("{0}")]
    Connector(#[from] CallError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Switch(#[from] SwitchError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => EngineError::UnknownOperation(id),
            e => EngineError::Store(e),
        }
    }
}

/// Objects per page when counting through `search`.
const COUNT_PAGE: u32 = 500;

/// A count of objects on a target.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: u64,
    /// `connector` (its own `count`, contract 0.2.0) or `search` (paged
    /// through, for connectors that cannot count).
    pub counted_by: &'static str,
    /// `name@version` that counted.
    pub connector: String,
}

/// Who asks: a token's name, for the audit log.
pub type Actor = str;

/// State shared by the engine's tasks.
pub(crate) struct Shared {
    store: Arc<dyn Store>,
    registry: Registry,
    key: HostKey,
    shutting_down: AtomicBool,
    completions: completion::Completions,
}

impl Shared {
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Feeds call outcomes to the target's failure window; quarantines the
    /// target when the window trips.
    async fn note_calls(&self, target: &Target, calls: &[CallLog]) {
        let mut tripped = None;
        {
            let mut window = lock(&target.failures);
            for call in calls {
                if let Some(rate) = window.record(call.target_fault) {
                    tripped = Some(rate);
                }
            }
        }
        let Some(rate) = tripped else { return };
        let reason = format!(
            "{:.0}% of the last calls failed (threshold {:.0}%)",
            rate * 100.0,
            target.config.quarantine.failure_rate * 100.0
        );
        {
            let mut quarantine = lock(&target.quarantine);
            if quarantine.is_some() {
                return;
            }
            *quarantine = Some(reason.clone());
        }
        tracing::warn!(target = %target.name, "target quarantined: {reason}");
        metrics::gauge!("provisio_quarantined", "target" => target.name.clone()).set(1.0);
        let audit = AuditEvent {
            actor: "engine".into(),
            target: Some(target.name.clone()),
            operation_id: None,
            event: "quarantined".into(),
            detail: json!({"reason": reason}),
        };
        if let Err(e) = self
            .store
            .set_quarantine(&target.name, Some(reason), audit)
            .await
        {
            tracing::error!("cannot record the quarantine: {e}");
        }
    }
}

/// The running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    targets: Arc<BTreeMap<String, Arc<Target>>>,
}

impl Engine {
    /// Loads every target's connector, restores open operations and
    /// quarantines from the store, and starts dispatching.
    pub async fn start(
        config: &Config,
        runtime: &Runtime,
        store: Arc<dyn Store>,
        key: HostKey,
    ) -> Result<Engine, StartError> {
        let registry = Registry::open(
            runtime.clone(),
            store.clone(),
            config.resolve(&config.server.registry_dir),
        )
        .map_err(|e| StartError::Registry(e.to_string()))?;
        let mut deployments: BTreeMap<String, Deployment> = store
            .deployments()
            .await?
            .into_iter()
            .map(|d| (d.target.clone(), d))
            .collect();
        let mut targets = BTreeMap::new();
        for (name, target_config) in &config.targets {
            let fail = |reason: String| StartError::Target {
                target: name.clone(),
                reason,
            };
            let settings = target_config
                .settings(name, &config.base_dir)
                .map_err(|e| fail(e.to_string()))?;
            let versions = switch::versions_at_start(
                &registry,
                store.as_ref(),
                name,
                target_config,
                &config.base_dir,
                &settings,
                deployments.remove(name),
            )
            .await
            .map_err(fail)?;
            let target = Arc::new(Target::new(
                name.clone(),
                target_config.clone(),
                settings,
                versions,
            ));
            let lease = target.lease();
            if lease.connector.info().capabilities.schema {
                match lease.connector.schema().await {
                    Ok(schema) => target.set_schema(schema),
                    Err(e) => {
                        tracing::warn!(target = %name, "cannot read the schema; attributes are not checked at submission: {e}")
                    }
                }
            }
            drop(lease);
            targets.insert(name.clone(), target);
        }

        for (name, reason) in store.quarantines().await? {
            if let Some(target) = targets.get(&name) {
                tracing::warn!(target = %name, "target is quarantined: {reason}");
                *lock(&target.quarantine) = Some(reason);
            }
        }
        let mut orphans = 0;
        for record in store.open_operations().await? {
            match targets.get(&record.target) {
                Some(target) => target.queue().push(
                    (record.class.clone(), record.identity.clone()),
                    Entry {
                        id: record.id.clone(),
                        status: record.status,
                        due_at: record.next_attempt_at,
                    },
                ),
                None => orphans += 1,
            }
        }
        if orphans > 0 {
            tracing::warn!(
                "{orphans} open operations belong to targets no longer configured; they wait"
            );
        }

        let shared = Arc::new(Shared {
            store,
            registry,
            key,
            shutting_down: AtomicBool::new(false),
            completions: completion::Completions::default(),
        });
        for target in targets.values() {
            tokio::spawn(dispatch::dispatch(target.clone(), shared.clone()));
        }
        Ok(Engine {
            shared,
            targets: Arc::new(targets),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    fn target(&self, name: &str) -> Result<&Arc<Target>, EngineError> {
        self.targets
            .get(name)
            .ok_or_else(|| EngineError::UnknownTarget(name.to_owned()))
    }

    pub fn target_names(&self) -> Vec<String> {
        self.targets.keys().cloned().collect()
    }

    pub fn targets(&self) -> Vec<TargetStatus> {
        self.targets.values().map(|t| t.status()).collect()
    }

    pub fn target_status(&self, name: &str) -> Result<TargetStatus, EngineError> {
        Ok(self.target(name)?.status())
    }

    /// Validates and durably records an operation; it runs later. The bool
    /// is true when an earlier operation with the same idempotency key was
    /// returned instead.
    /// Stores an operation and starts or queues it. With `wait`, answers
    /// when the operation ends or `wait` passes, whichever is first; the
    /// operation is durable either way before anything runs. The flag says
    /// the idempotency key returned an earlier operation.
    pub async fn submit(
        &self,
        target_name: &str,
        request: OperationRequest,
        actor: &Actor,
        wait: Option<std::time::Duration>,
    ) -> Result<(OperationRecord, bool), EngineError> {
        let (record, replayed, finished) = self
            .submit_inner(target_name, request, actor, wait.is_some())
            .await?;
        let (Some(wait), Some(finished)) = (wait, finished) else {
            return Ok((record, replayed));
        };
        if record.status.is_final() {
            self.shared.completions.forget_abandoned(&record.id);
            return Ok((record, replayed));
        }
        let ended = tokio::time::timeout(wait, finished).await;
        self.shared.completions.forget_abandoned(&record.id);
        match ended {
            Ok(Ok(record)) => Ok((record, replayed)),
            _ => Ok((self.operation(&record.id).await?, replayed)),
        }
    }

    async fn submit_inner(
        &self,
        target_name: &str,
        request: OperationRequest,
        actor: &Actor,
        wait: bool,
    ) -> Result<
        (
            OperationRecord,
            bool,
            Option<tokio::sync::oneshot::Receiver<OperationRecord>>,
        ),
        EngineError,
    > {
        let target = self.target(target_name)?;
        let validated = request.validate(&target.config.class, target.schema().as_ref())?;
        let active = target.active();
        let capabilities = active.connector.info().capabilities;
        let needed = match validated.kind {
            OperationKind::Create => ("create", capabilities.create),
            OperationKind::Delete if target.config.on_delete == crate::config::OnDelete::Delete => {
                ("delete", capabilities.delete)
            }
            _ => ("update", capabilities.update),
        };
        if !needed.1 {
            return Err(EngineError::Invalid(RequestError {
                field: "kind".into(),
                message: format!(
                    "{} needs the connector's {} operation, which {} does not support",
                    validated.kind,
                    needed.0,
                    active.label()
                ),
            }));
        }
        let id = uuid::Uuid::now_v7().to_string();
        // Registered before the operation can start, so its end is not missed.
        let finished = wait.then(|| self.shared.completions.register(&id));
        let account = (validated.class.clone(), validated.identity.clone());
        // When the operation can start right away, it is recorded already
        // running: one commit instead of two, and no hop through the
        // dispatcher. The record is still durable before the connector is
        // called, so a crash cannot hide an attempt.
        let permit = self
            .start_now(target, &account, &id)
            .map(|permit| (permit, target.lease_for(Purpose::Operation)));
        let status = match (&permit, target.config.approval) {
            (Some(_), _) => Status::Running,
            (None, true) => Status::PendingApproval,
            (None, false) => Status::Queued,
        };
        let connector = match &permit {
            Some((_, lease)) => lease.label(),
            None => active.label(),
        };
        let sealed_secret = validated
            .secret
            .as_ref()
            .map(|p| self.shared.key.seal(p.as_bytes()));
        let event = |event: &str, detail| AuditEvent {
            actor: actor.to_owned(),
            target: Some(target_name.to_owned()),
            operation_id: Some(id.clone()),
            event: event.into(),
            detail,
        };
        let mut audit = vec![event(
            "submitted",
            json!({
                "kind": validated.kind.as_str(),
                "class": validated.class,
                "identity": validated.identity,
                "status": if permit.is_some() { Status::Queued } else { status },
                "payload": validated.redacted,
            }),
        )];
        if permit.is_some() {
            let sha256 = permit
                .as_ref()
                .map(|(_, lease)| lease.version.sha256.clone());
            audit.push(AuditEvent {
                actor: "engine".into(),
                ..event(
                    "status:running",
                    json!({"connector": connector, "sha256": sha256}),
                )
            });
        }
        let operation = NewOperation {
            id: id.clone(),
            target: target_name.to_owned(),
            class: validated.class,
            identity: validated.identity,
            kind: validated.kind.as_str().to_owned(),
            payload: validated.redacted,
            sealed_secret,
            status,
            max_attempts: target.config.retry.max_attempts,
            idempotency_key: validated.idempotency_key,
            submitted_by: actor.to_owned(),
            created_at: now_ms(),
            started_by: permit.is_some().then_some(connector),
        };
        let submitted = self.shared.store.submit(operation, audit).await;
        let undo_claim = |target: &Target| {
            target.queue().finish(&id, Status::Cancelled, None);
            target.wake.notify_one();
        };
        match submitted {
            Ok(Submitted::Created(record)) => {
                metrics::counter!("provisio_operations_submitted_total", "target" => target_name.to_owned()).increment(1);
                match permit {
                    Some((permit, lease)) => {
                        tokio::spawn(dispatch::run_started(
                            target.clone(),
                            self.shared.clone(),
                            record.clone(),
                            permit,
                            lease,
                        ));
                    }
                    None => {
                        target.queue().push(
                            account,
                            Entry {
                                id: record.id.clone(),
                                status: record.status,
                                due_at: None,
                            },
                        );
                        target.wake.notify_one();
                    }
                }
                Ok((record, false, finished))
            }
            Ok(Submitted::Existing(record)) => {
                if permit.is_some() {
                    undo_claim(target);
                }
                drop(finished);
                self.shared.completions.forget_abandoned(&id);
                let finished = wait.then(|| self.shared.completions.register(&record.id));
                // The earlier operation may have ended before the waiter was
                // registered: read it again.
                let record = match finished {
                    Some(_) => self.operation(&record.id).await?,
                    None => record,
                };
                Ok((record, true, finished))
            }
            Err(e) => {
                if permit.is_some() {
                    undo_claim(target);
                }
                drop(finished);
                self.shared.completions.forget_abandoned(&id);
                Err(e.into())
            }
        }
    }

    /// A slot to run the operation at once, if nothing stands in its way:
    /// no approval, no quarantine, an idle account, a free instance and a
    /// token of the rate limit.
    fn start_now(
        &self,
        target: &Target,
        account: &queue::AccountKey,
        id: &str,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if target.config.approval
            || target.quarantine_reason().is_some()
            || self.shared.is_shutting_down()
        {
            return None;
        }
        let permit = target.permits.clone().try_acquire_owned().ok()?;
        if !target.queue().claim_idle(account.clone(), id, now_ms()) {
            return None;
        }
        if let Some(bucket) = &target.bucket
            && lock(bucket).try_take(std::time::Instant::now()).is_err()
        {
            target.queue().finish(id, Status::Cancelled, None);
            return None;
        }
        Some(permit)
    }

    pub async fn operation(&self, id: &str) -> Result<OperationRecord, EngineError> {
        self.shared
            .store
            .operation(id)
            .await?
            .ok_or_else(|| EngineError::UnknownOperation(id.to_owned()))
    }

    /// The operation once it is final, or as it is when `timeout` ends.
    pub async fn wait_final(
        &self,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<OperationRecord, EngineError> {
        let finished = self.shared.completions.register(id);
        let record = self.operation(id).await?;
        if record.status.is_final() {
            self.shared.completions.forget_abandoned(id);
            return Ok(record);
        }
        let ended = tokio::time::timeout(timeout, finished).await;
        self.shared.completions.forget_abandoned(id);
        match ended {
            Ok(Ok(record)) => Ok(record),
            _ => self.operation(id).await,
        }
    }

    pub async fn operations(
        &self,
        query: &OperationQuery,
    ) -> Result<Vec<OperationRecord>, EngineError> {
        Ok(self.shared.store.operations(query).await?)
    }

    /// Moves an operation between states on an operator's decision.
    async fn decide(
        &self,
        id: &str,
        actor: &Actor,
        expected: &[Status],
        change: Change,
        verb: &str,
    ) -> Result<OperationRecord, EngineError> {
        let current = self.operation(id).await?;
        let target = self.target(&current.target)?;
        let change = Change {
            id: id.to_owned(),
            expected: expected.to_vec(),
            decided_by: Some(actor.to_owned()),
            audit: vec![AuditEvent {
                actor: actor.to_owned(),
                target: Some(current.target.clone()),
                operation_id: Some(id.to_owned()),
                event: verb.to_owned(),
                detail: json!({"from": current.status}),
            }],
            ..change
        };
        match self.shared.store.apply(change).await {
            Ok(record) => {
                target.wake.notify_one();
                Ok(record)
            }
            Err(StoreError::Conflict {
                current, expected, ..
            }) => Err(EngineError::WrongState {
                id: id.to_owned(),
                current,
                reason: format!("only a {expected} operation can be {verb}"),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn approve(&self, id: &str, actor: &Actor) -> Result<OperationRecord, EngineError> {
        let record = self
            .decide(
                id,
                actor,
                &[Status::PendingApproval],
                Change {
                    status: Some(Status::Queued),
                    ..Change::default()
                },
                "approved",
            )
            .await?;
        let target = self.target(&record.target)?;
        target.queue().set_status(id, Status::Queued);
        target.wake.notify_one();
        Ok(record)
    }

    pub async fn reject(&self, id: &str, actor: &Actor) -> Result<OperationRecord, EngineError> {
        let change = Change {
            status: Some(Status::Cancelled),
            error: Some(Some(ErrorRecord {
                code: "rejected".into(),
                message: format!("rejected by {actor}"),
                retryable: false,
            })),
            erase_secret: true,
            ..Change::default()
        };
        let record = self
            .decide(id, actor, &[Status::PendingApproval], change, "rejected")
            .await?;
        self.target(&record.target)?.queue().remove(id);
        self.shared.completions.finished(&record);
        Ok(record)
    }

    pub async fn cancel(&self, id: &str, actor: &Actor) -> Result<OperationRecord, EngineError> {
        let change = Change {
            status: Some(Status::Cancelled),
            error: Some(Some(ErrorRecord {
                code: "cancelled".into(),
                message: format!("cancelled by {actor}"),
                retryable: false,
            })),
            next_attempt_at: Some(None),
            erase_secret: true,
            ..Change::default()
        };
        let expected = [Status::PendingApproval, Status::Queued, Status::Retrying];
        let record = self
            .decide(id, actor, &expected, change, "cancelled")
            .await?;
        self.target(&record.target)?.queue().remove(id);
        self.shared.completions.finished(&record);
        Ok(record)
    }

    /// Queues a failed operation again, with fresh attempts.
    pub async fn retry(&self, id: &str, actor: &Actor) -> Result<OperationRecord, EngineError> {
        let current = self.operation(id).await?;
        if current.kind == OperationKind::SetPassword.as_str()
            || current
                .payload
                .to_string()
                .contains(crate::model::names::PASSWORD)
        {
            return Err(EngineError::Refused(format!(
                "operation {id} set a password, which was erased when it ended; submit it again"
            )));
        }
        let change = Change {
            status: Some(Status::Queued),
            attempts: Some(0),
            error: Some(None),
            next_attempt_at: Some(None),
            ..Change::default()
        };
        let record = self
            .decide(id, actor, &[Status::Failed], change, "retried")
            .await?;
        let target = self.target(&record.target)?;
        target.queue().push(
            (record.class.clone(), record.identity.clone()),
            Entry {
                id: record.id.clone(),
                status: Status::Queued,
                due_at: None,
            },
        );
        target.wake.notify_one();
        Ok(record)
    }

    /// Calls the connector's `test`.
    pub async fn test_target(&self, name: &str) -> Result<(), EngineError> {
        let lease = self.target(name)?.lease();
        Ok(lease.connector.test().await?)
    }

    /// Reads the schema from the target (and refreshes the one submissions
    /// are checked against).
    pub async fn schema(&self, name: &str) -> Result<ObjectSchema, EngineError> {
        let target = self.target(name)?;
        let lease = target.lease();
        let schema = lease.connector.schema().await?;
        target.set_schema(schema.clone());
        Ok(schema)
    }

    pub async fn lift_quarantine(&self, name: &str, actor: &Actor) -> Result<(), EngineError> {
        let target = self.target(name)?;
        let Some(reason) = target.quarantine_reason() else {
            return Err(EngineError::Refused(format!(
                "target {name} is not quarantined"
            )));
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(name.to_owned()),
            operation_id: None,
            event: "quarantine-lifted".into(),
            detail: json!({"reason": reason}),
        };
        self.shared.store.set_quarantine(name, None, audit).await?;
        lock(&target.failures).clear();
        *lock(&target.quarantine) = None;
        metrics::gauge!("provisio_quarantined", "target" => name.to_owned()).set(0.0);
        target.wake.notify_one();
        Ok(())
    }

    /// Links an account that exists on the target to an identity, so that
    /// Provisio may manage it. The account is read first to prove it exists.
    pub async fn link(
        &self,
        name: &str,
        class: Option<String>,
        identity: &str,
        uid: &str,
        actor: &Actor,
    ) -> Result<Link, EngineError> {
        let target = self.target(name)?;
        let class = class.unwrap_or_else(|| target.config.class.clone());
        let lease = target.lease_for(Purpose::Read);
        let account = lease.connector.get(class.clone(), uid, vec![]).await?;
        let link = Link {
            target: name.to_owned(),
            class,
            identity: identity.to_owned(),
            uid: account.uid.clone(),
            created_by_provisio: false,
            operation_id: None,
            linked_at: now_ms(),
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(name.to_owned()),
            operation_id: None,
            event: "linked".into(),
            detail: json!({"class": link.class, "identity": identity, "uid": link.uid, "name": account.name}),
        };
        self.shared.store.put_link(link.clone(), audit).await?;
        Ok(link)
    }

    /// Accounts on a target by name (for operators linking accounts).
    pub async fn find_accounts(
        &self,
        name: &str,
        filter: Option<String>,
        size: u32,
    ) -> Result<crate::model::Page, EngineError> {
        let target = self.target(name)?;
        let request = SearchRequest {
            class: target.config.class.clone(),
            filter,
            page: PageRequest { size, cookie: None },
            attributes: vec![],
        };
        let lease = target.lease_for(Purpose::Read);
        Ok(lease.connector.search(request).await?)
    }

    /// How many objects of a class match a filter on the target: counted by
    /// the connector when its contract (0.2.0 and later) and its
    /// capabilities allow, otherwise by paging through `search`.
    pub async fn count(
        &self,
        name: &str,
        class: Option<String>,
        filter: Option<String>,
    ) -> Result<Count, EngineError> {
        let target = self.target(name)?;
        let class = class.unwrap_or_else(|| target.config.class.clone());
        let lease = target.lease_for(Purpose::Read);
        let connector = lease.label();
        let capabilities = lease.connector.info().capabilities;
        if capabilities.count {
            let request = crate::model::CountRequest {
                class: class.clone(),
                filter: filter.clone(),
            };
            match lease.connector.count(request).await {
                Ok(count) => {
                    return Ok(Count {
                        count,
                        counted_by: "connector",
                        connector,
                    });
                }
                // Declared but not implemented (an SDK default): search.
                Err(CallError {
                    kind:
                        crate::runtime::CallErrorKind::Connector(
                            crate::model::ConnectorError::Unsupported { .. },
                        ),
                    ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !capabilities.search {
            return Err(EngineError::Refused(format!(
                "{connector} can neither count nor search"
            )));
        }
        let mut count = 0u64;
        let mut cookie = None;
        loop {
            let page = lease
                .connector
                .search(SearchRequest {
                    class: class.clone(),
                    filter: filter.clone(),
                    page: PageRequest {
                        size: COUNT_PAGE,
                        cookie,
                    },
                    attributes: vec![],
                })
                .await?;
            count += page.objects.len() as u64;
            match page.cookie {
                Some(next) => cookie = Some(next),
                None => break,
            }
        }
        Ok(Count {
            count,
            counted_by: "search",
            connector,
        })
    }

    /// Stops taking new attempts; running ones finish.
    pub fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        for target in self.targets.values() {
            target.wake.notify_waiters();
        }
    }
}
