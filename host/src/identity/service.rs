//! The identity service: reads what each target holds, plans, submits the
//! plan's operations to the engine and records what it asked for.

use super::account::AccountState;
pub use super::error::IdentityError;
use super::model::{DesiredState, InvalidIdentity, check_id};
use super::plan::{Observed, PlanError, Planning, Read, TargetPlan};
use super::policy::{HeldRole, Policies, TargetMap};
use super::turns::Turn;
use crate::config::InitialPassword;
use crate::engine::{Actor, Engine, OperationRequest};
use crate::expr::Context;
use crate::model::{ConnectorObject, names};
use crate::store::{AccountRecord, AuditEvent, IdentityRecord, IdentityWrite, now_ms};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Identities planned at once are serialised per identity through one of
/// these locks (by a hash of the id), so two requests for one person
/// never plan from the same starting point.
const LOCK_STRIPES: usize = 64;

/// How long the time to provision is waited for (operations waiting for
/// an approval may take longer; they are not measured).
const MEASURE_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Identities and what Provisio last asked one target for on their
/// behalf, read at once, with the reference time their plans share.
pub struct Expectations {
    records: HashMap<String, IdentityRecord>,
    previous: HashMap<String, AccountState>,
    now: String,
    now_ms: i64,
}

/// A plan for one identity at one reference time.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub identity: String,
    /// The moment every expression saw as `now`.
    pub reference_time: String,
    /// The status at the reference time.
    pub status: super::model::Status,
    pub roles: Vec<HeldRole>,
    pub targets: Vec<TargetPlan>,
    /// When the plan will be made again by itself (a date in the identity
    /// passes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_review: Option<String>,
}

/// An operation a plan submitted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubmittedOperation {
    pub target: String,
    pub id: String,
    pub kind: String,
    pub status: String,
}

/// A target whose operations were not (all) accepted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetFailure {
    pub target: String,
    pub error: String,
}

/// What setting or provisioning an identity did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub identity: String,
    pub revision: i64,
    /// The identity did not exist before.
    pub created: bool,
    /// Nothing was stored or submitted.
    pub dry_run: bool,
    pub plan: Plan,
    pub operations: Vec<SubmittedOperation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<TargetFailure>,
}

/// An operation of an account's last plan, with its status now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperationStatusView {
    pub id: String,
    pub kind: String,
    pub status: String,
}

/// An identity's account on one target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub target: String,
    pub class: String,
    /// The account's uid on the target, once it is linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub provisioned: bool,
    pub enabled: bool,
    pub groups: Vec<String>,
    /// The last plan's operations.
    pub operations: Vec<OperationStatusView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    pub id: String,
    pub revision: i64,
    #[serde(flatten)]
    pub state: DesiredState,
    pub updated_at: String,
    pub updated_by: String,
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentitySummary {
    pub id: String,
    pub revision: i64,
    pub status: super::model::Status,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityList {
    pub identities: Vec<IdentitySummary>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

struct Shared {
    engine: Engine,
    policies: Policies,
    locks: Vec<tokio::sync::Mutex<()>>,
    /// Unique values planned but perhaps not yet on the target.
    claims: super::unique::Claims,
}

/// The identity layer. Cheap to clone.
#[derive(Clone)]
pub struct Identities {
    shared: Arc<Shared>,
}

/// The reference time of a plan: now, to the second.
fn reference_now() -> (String, i64) {
    reference_at(now_ms())
}

/// The reference time of a moment: whole seconds, so that a plan shown
/// and the plan applied see the same `now`.
pub(super) fn reference_at(ms: i64) -> (String, i64) {
    let ms = ms / 1000 * 1000;
    (crate::expr::date_of_ms(ms), ms)
}

fn stored_state(record: &IdentityRecord) -> DesiredState {
    use serde::Deserialize as _;
    DesiredState::deserialize(&record.state).unwrap_or_default()
}

impl Identities {
    pub fn new(engine: Engine, policies: Policies) -> Identities {
        Identities {
            shared: Arc::new(Shared {
                engine,
                policies,
                locks: (0..LOCK_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                claims: super::unique::Claims::default(),
            }),
        }
    }

    pub(super) fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn policies(&self) -> &Policies {
        &self.shared.policies
    }

    pub(super) async fn lock(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let digest = Sha256::digest(id.as_bytes());
        let stripe = usize::from(digest[0]) % LOCK_STRIPES;
        self.shared.locks[stripe].lock().await
    }

    /// Sets an identity's desired state and submits the plan it causes
    /// (with `dry_run`, only answers the plan).
    pub async fn put(
        &self,
        id: &str,
        state: DesiredState,
        actor: &Actor,
        dry_run: bool,
        explain: bool,
    ) -> Result<Outcome, IdentityError> {
        check_id(id)?;
        let state = state.checked(&self.shared.policies.role_names())?;
        let _guard = self.lock(id).await;
        let stored = self.shared.engine.store().identity(id).await?;
        self.converge(id, stored, Some(state), None, actor, dry_run, explain, None)
            .await
    }

    /// Sets an identity's state as an authoritative source read it, and
    /// submits its plan. With `turn`, the plan is made in that turn, which
    /// ends before the plan is submitted.
    pub async fn put_from_source(
        &self,
        id: &str,
        state: DesiredState,
        source: &str,
        actor: &Actor,
        turn: Option<Turn<'_>>,
    ) -> Result<Outcome, IdentityError> {
        check_id(id)?;
        let state = state.checked(&self.shared.policies.role_names())?;
        let _guard = self.lock(id).await;
        let stored = self.shared.engine.store().identity(id).await?;
        self.converge(
            id,
            stored,
            Some(state),
            Some(source),
            actor,
            false,
            false,
            turn,
        )
        .await
    }

    /// Plans the stored identity again and submits the plan now
    /// (provisioning on demand).
    pub async fn provision(
        &self,
        id: &str,
        actor: &Actor,
        explain: bool,
    ) -> Result<Outcome, IdentityError> {
        let _guard = self.lock(id).await;
        let stored = self.stored(id).await?;
        self.converge(id, Some(stored), None, None, actor, false, explain, None)
            .await
    }

    /// Terminates an identity, deprovisions its accounts everywhere, and
    /// forgets it (its account records stay).
    pub async fn remove(
        &self,
        id: &str,
        actor: &Actor,
        dry_run: bool,
    ) -> Result<Outcome, IdentityError> {
        let _guard = self.lock(id).await;
        let stored = self.stored(id).await?;
        let mut state = stored_state(&stored);
        state.status = super::model::Status::Terminated;
        let outcome = self
            .converge(
                id,
                Some(stored),
                Some(state),
                None,
                actor,
                dry_run,
                false,
                None,
            )
            .await?;
        if !dry_run && outcome.failures.is_empty() {
            let audit = AuditEvent {
                actor: actor.to_owned(),
                target: None,
                operation_id: None,
                event: "identity-removed".into(),
                detail: json!({"identity": id, "revision": outcome.revision}),
            };
            self.shared
                .engine
                .store()
                .write_identity(IdentityWrite::Remove { id: id.to_owned() }, vec![audit])
                .await?;
        }
        Ok(outcome)
    }

    pub(super) async fn stored(&self, id: &str) -> Result<IdentityRecord, IdentityError> {
        self.shared
            .engine
            .store()
            .identity(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(id.to_owned()))
    }

    /// What would change now (or at `at`), without changing anything.
    pub async fn plan(
        &self,
        id: &str,
        at: Option<String>,
        explain: bool,
    ) -> Result<Plan, IdentityError> {
        let stored = self.stored(id).await?;
        let (now, now_ms) = match at {
            Some(at) => {
                let canonical =
                    crate::expr::canonical_date(&at).map_err(|reason| InvalidIdentity {
                        field: "at".into(),
                        message: reason,
                    })?;
                let ms = crate::expr::ms_of_date(&canonical).unwrap_or_default();
                (canonical, ms)
            }
            None => reference_now(),
        };
        let state = stored_state(&stored);
        let accounts = self.account_states(id).await?;
        self.make_plan(id, &state, &accounts, &now, now_ms, explain, false)
            .await
    }

    /// The desired state of `id` becomes `state` (or stays as stored; set
    /// by `source` when a source read it), then its plan is made and,
    /// unless `dry_run`, submitted.
    #[allow(clippy::too_many_arguments)]
    async fn converge(
        &self,
        id: &str,
        stored: Option<IdentityRecord>,
        state: Option<DesiredState>,
        source: Option<&str>,
        actor: &Actor,
        dry_run: bool,
        explain: bool,
        turn: Option<Turn<'_>>,
    ) -> Result<Outcome, IdentityError> {
        let created = stored.is_none();
        let before = stored.as_ref().map(stored_state);
        let state = state
            .or_else(|| before.clone())
            .ok_or_else(|| IdentityError::NotFound(id.to_owned()))?;
        let changed = before.as_ref() != Some(&state);
        let revision = stored.as_ref().map_or(0, |r| r.revision) + i64::from(changed);
        let (now, now_ms) = reference_now();
        let accounts = self.account_states(id).await?;
        let plan = self
            .make_plan(id, &state, &accounts, &now, now_ms, explain, !dry_run)
            .await?;
        drop(turn);
        let mut outcome = Outcome {
            identity: id.to_owned(),
            revision,
            created,
            dry_run,
            plan,
            operations: Vec::new(),
            failures: Vec::new(),
        };
        if dry_run {
            return Ok(outcome);
        }

        let mut records = Vec::new();
        for target_plan in &outcome.plan.targets {
            let Some(mut next) = target_plan.next.clone() else {
                continue;
            };
            match self.submit(id, target_plan, &next, actor).await {
                Ok(submitted) => {
                    if !submitted.is_empty() {
                        next.operations = submitted.iter().map(|s| s.id.clone()).collect();
                        self.measure(target_plan, &next.operations, now_ms);
                    }
                    outcome.operations.extend(submitted);
                    records.push(AccountRecord {
                        identity: id.to_owned(),
                        target: target_plan.target.clone(),
                        class: target_plan.class.clone(),
                        state: next.to_json(),
                        updated_at: now_ms,
                    });
                }
                Err((submitted, error)) => {
                    outcome.operations.extend(submitted);
                    outcome.failures.push(TargetFailure {
                        target: target_plan.target.clone(),
                        error,
                    });
                }
            }
        }
        let review_at = state
            .next_date_after(&now)
            .and_then(|d| crate::expr::ms_of_date(&d))
            .into_iter()
            .chain(outcome.plan.targets.iter().filter_map(|t| t.next_review_ms))
            .min();
        let identity = IdentityRecord {
            id: id.to_owned(),
            state: serde_json::to_value(&state).unwrap_or_default(),
            revision,
            created_at: stored.as_ref().map_or(now_ms, |r| r.created_at),
            updated_at: if changed {
                now_ms
            } else {
                stored.as_ref().map_or(now_ms, |r| r.updated_at)
            },
            updated_by: if changed {
                actor.to_owned()
            } else {
                stored
                    .as_ref()
                    .map_or_else(|| actor.to_owned(), |r| r.updated_by.clone())
            },
            review_at,
            source: source
                .map(str::to_owned)
                .or_else(|| stored.as_ref().and_then(|r| r.source.clone())),
        };
        let write_identity = changed
            || stored.as_ref().map(|r| (r.review_at, r.source.clone()))
                != Some((review_at, identity.source.clone()));
        let mut audit = Vec::new();
        if changed || !outcome.operations.is_empty() {
            audit.push(AuditEvent {
                actor: actor.to_owned(),
                target: None,
                operation_id: None,
                event: if changed {
                    "identity-set".into()
                } else {
                    "identity-provisioned".into()
                },
                detail: json!({
                    "identity": id,
                    "revision": revision,
                    "changed": before.as_ref().map_or_else(|| vec!["(new)".to_owned()], |b| b.changed_fields(&state)),
                    "targets": outcome.plan.targets.iter()
                        .map(|t| (t.target.clone(), json!(t.action)))
                        .collect::<serde_json::Map<_, _>>(),
                    "operations": outcome.operations.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
                }),
            });
        }
        if write_identity || !records.is_empty() || !audit.is_empty() {
            self.shared
                .engine
                .store()
                .write_identity(
                    IdentityWrite::Put {
                        identity: write_identity.then_some(identity),
                        accounts: records,
                    },
                    audit,
                )
                .await?;
        }
        Ok(outcome)
    }

    async fn account_states(
        &self,
        id: &str,
    ) -> Result<BTreeMap<(String, String), AccountState>, IdentityError> {
        Ok(self
            .shared
            .engine
            .store()
            .identity_accounts(id)
            .await?
            .into_iter()
            .map(|r| ((r.target, r.class), AccountState::from_json(&r.state)))
            .collect())
    }

    /// The plan of `state` at `now`, reading each target; with `claim`,
    /// the unique values it chooses are claimed for the identity.
    #[allow(clippy::too_many_arguments)]
    async fn make_plan(
        &self,
        id: &str,
        state: &DesiredState,
        accounts: &BTreeMap<(String, String), AccountState>,
        now: &str,
        now_ms: i64,
        explain: bool,
        claim: bool,
    ) -> Result<Plan, IdentityError> {
        let policies = &self.shared.policies;
        let (roles, context) = self.roles_and_context(id, state, now)?;
        let planning = Planning {
            policies,
            state,
            roles: &roles,
            context: &context,
            now,
            now_ms,
            explain,
        };
        let mut targets = Vec::new();
        for map in policies.maps.values() {
            let previous = accounts
                .get(&(map.target.clone(), map.class.clone()))
                .cloned();
            let mut observed = self.observe(id, map, previous).await?;
            if state.status_at(now) != super::model::Status::Terminated {
                observed.unique = super::unique::choose(
                    &self.shared.engine,
                    &policies.expressions,
                    &self.shared.claims,
                    (id, map, &observed, context.json()),
                    claim,
                )
                .await?;
            }
            targets.push(planning.target(map, &observed)?);
        }
        Ok(Plan {
            identity: id.to_owned(),
            reference_time: now.to_owned(),
            status: state.status_at(now),
            roles,
            targets,
            next_review: state.next_date_after(now),
        })
    }

    /// The roles `state` holds at `now` (assigned and birthright) and the
    /// context expressions see.
    fn roles_and_context(
        &self,
        id: &str,
        state: &DesiredState,
        now: &str,
    ) -> Result<(Vec<HeldRole>, Context), IdentityError> {
        let assigned = state.roles_at(now);
        let assigned_names: Vec<String> = assigned.iter().map(|g| g.role.clone()).collect();
        let context = Context::new(state.context(id, now, &assigned_names));
        let roles = self
            .shared
            .policies
            .held_roles(&assigned, &context)
            .map_err(|(key, error)| PlanError {
                target: None,
                key,
                error,
            })?;
        let names: Vec<String> = roles.iter().map(|r| r.role.clone()).collect();
        // Birthright roles change what expressions see; most identities
        // hold none, and keep the context they were read with.
        if names == assigned_names {
            return Ok((roles, context));
        }
        Ok((roles, Context::new(state.context(id, now, &names))))
    }

    /// What planning these identities against one target needs, read at
    /// once (a reconciliation reads a page of accounts, then plans each),
    /// with `at_ms` as the reference time: a run's start, so every page of
    /// it sees the same `now`.
    pub async fn expectations(
        &self,
        target: &str,
        ids: Vec<String>,
        at_ms: i64,
    ) -> Result<Expectations, IdentityError> {
        let (now, now_ms) = reference_at(at_ms);
        let mut expectations = Expectations {
            records: HashMap::new(),
            previous: HashMap::new(),
            now,
            now_ms,
        };
        let Some(map) = self.shared.policies.maps.get(target) else {
            return Ok(expectations);
        };
        if ids.is_empty() {
            return Ok(expectations);
        }
        let store = self.shared.engine.store();
        for record in store.identities_in(ids.clone()).await? {
            expectations.records.insert(record.id.clone(), record);
        }
        for record in store.accounts_in(&map.target, &map.class, ids).await? {
            expectations.previous.insert(
                record.identity.clone(),
                AccountState::from_json(&record.state),
            );
        }
        Ok(expectations)
    }

    /// The plan of `id` on one target against an account as a
    /// reconciliation read it (no `get`), or, with `None`, against no
    /// account (what re-creating it would submit). `None` when there is no
    /// such identity or the target has no policy map. Nothing is claimed;
    /// values are explained only when the plan changes something.
    pub async fn plan_against(
        &self,
        expectations: &Expectations,
        id: &str,
        target: &str,
        account: Option<ConnectorObject>,
    ) -> Result<Option<TargetPlan>, IdentityError> {
        let Some(map) = self.shared.policies.maps.get(target) else {
            return Ok(None);
        };
        let Some(stored) = expectations.records.get(id) else {
            return Ok(None);
        };
        let state = stored_state(stored);
        let (now, now_ms) = (&expectations.now, expectations.now_ms);
        let (roles, context) = self.roles_and_context(id, &state, now)?;
        let mut observed = Observed {
            uid: account.as_ref().map(|a| a.uid.clone()),
            read: account.map_or(Read::Nothing, Read::Account),
            previous: expectations.previous.get(id).cloned(),
            creating: false,
            unique: BTreeMap::new(),
        };
        if state.status_at(now) != super::model::Status::Terminated {
            observed.unique = super::unique::choose(
                &self.shared.engine,
                &self.shared.policies.expressions,
                &self.shared.claims,
                (id, map, &observed, context.json()),
                false,
            )
            .await?;
        }
        let mut planning = Planning {
            policies: &self.shared.policies,
            state: &state,
            roles: &roles,
            context: &context,
            now,
            now_ms,
            explain: false,
        };
        let plan = planning.target(map, &observed)?;
        if plan.operations.is_empty() {
            return Ok(Some(plan));
        }
        planning.explain = true;
        Ok(Some(planning.target(map, &observed)?))
    }

    /// The attributes a reconciliation reads to compare an account with
    /// the target's policy map (none without one).
    pub fn mapped_attributes(&self, target: &str) -> Vec<String> {
        let Some(map) = self.shared.policies.maps.get(target) else {
            return Vec::new();
        };
        let mut attributes: Vec<String> = map
            .accounts
            .attributes
            .keys()
            .filter(|a| !a.eq_ignore_ascii_case(names::NAME))
            .cloned()
            .collect();
        attributes.push(names::ENABLE.to_owned());
        attributes
    }

    /// What a target holds for the identity: its link, and the account
    /// read back through `get` when there is one.
    async fn observe(
        &self,
        id: &str,
        map: &TargetMap,
        previous: Option<AccountState>,
    ) -> Result<Observed, IdentityError> {
        let engine = &self.shared.engine;
        let link = engine.store().link(&map.target, &map.class, id).await?;
        let creating = match (&link, &previous) {
            (None, Some(p)) if p.provisioned => self.any_open(&p.operations).await?,
            _ => false,
        };
        let read = match &link {
            None => Read::Nothing,
            Some(link) => {
                let mut attributes: Vec<String> = map
                    .accounts
                    .attributes
                    .keys()
                    .filter(|a| !a.eq_ignore_ascii_case(names::NAME))
                    .cloned()
                    .collect();
                attributes.push(names::ENABLE.to_owned());
                match engine
                    .read_account(&map.target, &map.class, &link.uid, attributes)
                    .await
                {
                    Ok(Some(object)) => Read::Account(object),
                    Ok(None) => Read::Missing,
                    Err(e) => Read::Failed(e.to_string()),
                }
            }
        };
        Ok(Observed {
            uid: link.map(|l| l.uid),
            read,
            previous,
            creating,
            unique: BTreeMap::new(),
        })
    }

    async fn any_open(&self, operations: &[String]) -> Result<bool, IdentityError> {
        for id in operations {
            if let Some(record) = self.shared.engine.store().operation(id).await?
                && !record.status.is_final()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Submits one target's operations in order; stops at the first the
    /// engine refuses, answering what was submitted and why it stopped.
    async fn submit(
        &self,
        id: &str,
        plan: &TargetPlan,
        next: &AccountState,
        actor: &Actor,
    ) -> Result<Vec<SubmittedOperation>, (Vec<SubmittedOperation>, String)> {
        let mut submitted = Vec::new();
        for (i, operation) in plan.operations.iter().enumerate() {
            let mut request = operation.request.clone();
            let key = idempotency_key(id, plan, next.generation, i, &request);
            let random_password = self
                .shared
                .policies
                .maps
                .get(&plan.target)
                .is_some_and(|m| m.accounts.initial_password == InitialPassword::Random);
            if random_password
                && request["kind"] == "create"
                && let Some(attributes) = request["attributes"].as_object_mut()
            {
                // Added here, never in the plan: plans are shown.
                attributes.insert(
                    names::PASSWORD.into(),
                    json!(self.shared.engine.initial_password(&key)),
                );
            }
            if let Some(body) = request.as_object_mut() {
                body.insert("identity".into(), json!(id));
                body.insert("class".into(), json!(plan.class));
                body.insert("idempotency_key".into(), json!(key));
            }
            let request: OperationRequest = match serde_json::from_value(request) {
                Ok(request) => request,
                Err(e) => {
                    return Err((
                        submitted,
                        format!("the planned operation is not valid: {e}"),
                    ));
                }
            };
            match self
                .shared
                .engine
                .submit(&plan.target, request, actor, None)
                .await
            {
                Ok((record, _)) => submitted.push(SubmittedOperation {
                    target: plan.target.clone(),
                    id: record.id,
                    kind: record.kind.as_str().to_owned(),
                    status: record.status.as_str().to_owned(),
                }),
                Err(e) => return Err((submitted, e.to_string())),
            }
        }
        Ok(submitted)
    }

    /// The identity as stored, with its accounts.
    pub async fn get(&self, id: &str) -> Result<IdentityView, IdentityError> {
        let stored = self.stored(id).await?;
        let store = self.shared.engine.store();
        let mut accounts = Vec::new();
        for ((target, class), state) in self.account_states(id).await? {
            let link = store.link(&target, &class, id).await?;
            let mut operations = Vec::new();
            for op in &state.operations {
                if let Some(record) = store.operation(op).await? {
                    operations.push(OperationStatusView {
                        id: record.id,
                        kind: record.kind.as_str().to_owned(),
                        status: record.status.as_str().to_owned(),
                    });
                }
            }
            accounts.push(AccountView {
                target,
                class,
                uid: link.map(|l| l.uid),
                provisioned: state.provisioned,
                enabled: state.enabled,
                groups: state.groups.into_iter().collect(),
                operations,
            });
        }
        Ok(IdentityView {
            id: stored.id.clone(),
            revision: stored.revision,
            state: stored_state(&stored),
            updated_at: crate::expr::date_of_ms(stored.updated_at),
            updated_by: stored.updated_by,
            accounts,
        })
    }

    /// A page of identities by id.
    pub async fn list(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<IdentityList, IdentityError> {
        let records = self
            .shared
            .engine
            .store()
            .identities(after, limit + 1)
            .await?;
        let more = records.len() > limit as usize;
        let identities: Vec<IdentitySummary> = records
            .into_iter()
            .take(limit as usize)
            .map(|r| {
                let state = stored_state(&r);
                IdentitySummary {
                    status: state.status,
                    id: r.id,
                    revision: r.revision,
                    updated_at: crate::expr::date_of_ms(r.updated_at),
                }
            })
            .collect();
        let next = more
            .then(|| identities.last().map(|i| i.id.clone()))
            .flatten();
        Ok(IdentityList { identities, next })
    }

    /// Plans again, and submits, every identity whose review time has come.
    /// Answers how many were planned.
    pub async fn review_due(&self, actor: &Actor) -> Result<usize, IdentityError> {
        let due = self
            .shared
            .engine
            .store()
            .identities_due(now_ms(), 100)
            .await?;
        let mut planned = 0;
        for record in due {
            let _guard = self.lock(&record.id).await;
            let current = self.shared.engine.store().identity(&record.id).await?;
            match self
                .converge(&record.id, current, None, None, actor, false, false, None)
                .await
            {
                Ok(_) => planned += 1,
                Err(e) => {
                    tracing::warn!(identity = %record.id, "planning at its review time failed: {e}")
                }
            }
        }
        Ok(planned)
    }

    /// Observes how long the identity's change took to reach the target:
    /// from the plan's reference time to the end of its last operation,
    /// once they all succeeded (for SLA monitoring).
    fn measure(&self, plan: &TargetPlan, operations: &[String], changed_ms: i64) {
        let metric = match plan.action {
            super::plan::Action::Create | super::plan::Action::Update => {
                "provisio_time_to_provision_seconds"
            }
            super::plan::Action::Deprovision => "provisio_time_to_deprovision_seconds",
            _ => return,
        };
        let (engine, target, operations) = (
            self.shared.engine.clone(),
            plan.target.clone(),
            operations.to_vec(),
        );
        tokio::spawn(async move {
            let mut last = changed_ms;
            for id in &operations {
                match engine.ended(id, MEASURE_FOR).await {
                    Some(record) if record.status == crate::store::Status::Succeeded => {
                        last = last.max(record.finished_at.unwrap_or(last));
                    }
                    _ => return,
                }
            }
            metrics::histogram!(metric, "target" => target)
                .record((last - changed_ms).max(0) as f64 / 1000.0);
        });
    }

    /// Whether any policy map is configured.
    pub fn is_configured(&self) -> bool {
        !self.shared.policies.maps.is_empty()
    }
}

/// The key an operation of a plan is submitted with: the same plan
/// submitted again (after a crash before its record was written) replays
/// the operations instead of repeating them.
fn idempotency_key(
    id: &str,
    plan: &TargetPlan,
    generation: u64,
    index: usize,
    request: &Json,
) -> String {
    let mut hash = Sha256::new();
    for part in [id, &plan.target, &plan.class] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(generation.to_be_bytes());
    hash.update(index.to_be_bytes());
    hash.update(request.to_string().as_bytes());
    format!("identity-plan:{}", &hex::encode(hash.finalize())[..40])
}
