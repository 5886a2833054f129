//! Reconciliation runs: page once through a target's accounts, classify
//! each against the links and the policy map, store every item, count the
//! disables and deletes against the deletion budget, then (unless a dry
//! run, or the budget stops it) apply exactly the stored items.

use super::apply;
use super::error::ReconError;
use super::model::{Budget, Item, RunState, Summary};
use super::view::{ReconciliationView, view};
use crate::config::{Config, Reaction, ReconConfig, Situation};
use crate::engine::{Actor, Engine};
use crate::identity::Identities;
use crate::store::{AuditEvent, ReconItemRecord, ReconRunRecord, ReconWrite, now_ms};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

struct Shared {
    engine: Engine,
    identities: Identities,
    configs: BTreeMap<String, ReconConfig>,
    /// The run in progress per target.
    running: Mutex<HashMap<String, String>>,
    /// Set when the host stops: a run stops between pages and stays
    /// `running` (or `applying`), to resume when the host starts again.
    stopping: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>>,
}

/// Reconciliation of every target. Cheap to clone.
#[derive(Clone)]
pub struct Reconciliations {
    shared: Arc<Shared>,
}

impl Reconciliations {
    pub fn new(engine: Engine, identities: Identities, config: &Config) -> Self {
        let configs = config
            .targets
            .iter()
            .map(|(name, t)| (name.clone(), t.reconciliation.clone().unwrap_or_default()))
            .collect();
        Reconciliations {
            shared: Arc::new(Shared {
                engine,
                identities,
                configs,
                running: Mutex::default(),
                stopping: std::sync::OnceLock::new(),
            }),
        }
    }

    pub(super) fn config(&self, target: &str) -> Result<&ReconConfig, ReconError> {
        self.shared
            .configs
            .get(target)
            .ok_or_else(|| ReconError::UnknownTarget(target.to_owned()))
    }

    /// Resumes what a stopped host left: a run that was reading is read
    /// again from the start (connector page cookies do not outlive a
    /// process), one that was applying goes on with the items not yet
    /// applied. Then starts each target's schedule.
    pub async fn start(&self, stop: tokio::sync::watch::Receiver<bool>) -> Result<(), ReconError> {
        let _ = self.shared.stopping.set(stop.clone());
        for target in self.shared.configs.keys() {
            for record in self.shared.engine.store().recon_runs(target, 20).await? {
                let state = RunState::parse(&record.state);
                if matches!(state, RunState::Running | RunState::Applying) {
                    self.claim(target, &record.id)?;
                    let audit = AuditEvent {
                        actor: "host".into(),
                        target: Some(target.clone()),
                        operation_id: None,
                        event: "reconciliation-resumed".into(),
                        detail: json!({"run": record.id, "state": state.as_str()}),
                    };
                    self.shared.engine.store().append_audit(vec![audit]).await?;
                    let runs = self.clone();
                    tokio::spawn(async move {
                        let target = record.target.clone();
                        match state {
                            RunState::Running => runs.execute(record, true).await,
                            _ => runs.apply_stored(record).await,
                        }
                        runs.release(&target);
                    });
                }
            }
        }
        for (target, config) in &self.shared.configs {
            if let Some(live) = config.live {
                self.spawn_live(target.clone(), live, stop.clone());
            }
            let Some(interval) = config.interval else {
                continue;
            };
            let (runs, target, mut stop) = (self.clone(), target.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = stop.changed() => return,
                    }
                    if *stop.borrow() {
                        return;
                    }
                    match runs
                        .run(&target, None, false, BTreeMap::new(), "provisio:schedule")
                        .await
                    {
                        Ok(_) | Err(ReconError::Busy { .. }) => {}
                        Err(e) => {
                            tracing::warn!(%target, "a scheduled reconciliation failed to start: {e}")
                        }
                    }
                }
            });
        }
        Ok(())
    }

    /// Starts a run; it goes on in the background. `reactions` override the
    /// target's for this run.
    pub async fn run(
        &self,
        target: &str,
        class: Option<&str>,
        dry_run: bool,
        reactions: BTreeMap<Situation, Reaction>,
        actor: &Actor,
    ) -> Result<ReconciliationView, ReconError> {
        let config = self.config(target)?;
        let mut used: BTreeMap<Situation, Reaction> = config.reactions.clone();
        for (situation, reaction) in reactions {
            if !situation.allows().contains(&reaction) {
                return Err(ReconError::Invalid {
                    field: format!("reactions.{}", situation.as_str()),
                    message: format!(
                        "`{}` is not a reaction to {}",
                        reaction.as_str(),
                        situation.as_str()
                    ),
                });
            }
            used.insert(situation, reaction);
        }
        let class = self.shared.engine.class_name(target, class)?;
        let record = self.begin(target, &class, dry_run, used, actor).await?;
        let id = record.id.clone();
        let runs = self.clone();
        tokio::spawn(async move {
            let target = record.target.clone();
            runs.execute(record, false).await;
            runs.release(&target);
        });
        self.view(&id).await
    }

    /// Claims the target for a new run and records it as running.
    pub(super) async fn begin(
        &self,
        target: &str,
        class: &str,
        dry_run: bool,
        used: BTreeMap<Situation, Reaction>,
        actor: &Actor,
    ) -> Result<ReconRunRecord, ReconError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.claim(target, &id)?;
        let record = ReconRunRecord {
            id: id.clone(),
            target: target.to_owned(),
            class: class.to_owned(),
            state: RunState::Running.as_str().into(),
            dry_run,
            requested_by: actor.to_owned(),
            started_at: now_ms(),
            finished_at: None,
            summary: json!(Summary {
                reactions_used: used,
                ..Summary::default()
            }),
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(target.to_owned()),
            operation_id: None,
            event: "reconciliation-started".into(),
            detail: json!({"run": id, "class": class, "dry_run": dry_run}),
        };
        if let Err(e) = self.write_run(&record, false, vec![audit]).await {
            self.release(target);
            return Err(e);
        }
        Ok(record)
    }

    /// Records the run (forgetting its items first with `clear_items`).
    async fn write_run(
        &self,
        record: &ReconRunRecord,
        clear_items: bool,
        audit: Vec<AuditEvent>,
    ) -> Result<(), ReconError> {
        let run = record.clone();
        self.shared
            .engine
            .store()
            .write_recon(ReconWrite::Run { run, clear_items }, audit)
            .await?;
        Ok(())
    }

    pub(super) fn claim(&self, target: &str, id: &str) -> Result<(), ReconError> {
        let mut running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(current) = running.get(target) {
            return Err(ReconError::Busy {
                target: target.to_owned(),
                id: current.clone(),
            });
        }
        running.insert(target.to_owned(), id.to_owned());
        Ok(())
    }

    pub(super) fn release(&self, target: &str) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target);
    }

    pub(super) async fn save(
        &self,
        record: &mut ReconRunRecord,
        state: RunState,
        summary: &Summary,
        audit: Vec<AuditEvent>,
    ) {
        record.state = state.as_str().into();
        if matches!(
            state,
            RunState::Planned
                | RunState::Succeeded
                | RunState::Failed
                | RunState::Abandoned
                | RunState::NeedsConfirmation
        ) {
            record.finished_at = Some(now_ms());
        }
        record.summary = json!(summary);
        if let Err(e) = self.write_run(record, false, audit).await {
            tracing::error!(run = %record.id, "cannot record a reconciliation run: {e}");
        }
    }

    pub(super) fn ended(record: &ReconRunRecord, state: RunState, summary: &Summary) -> AuditEvent {
        AuditEvent {
            actor: record.requested_by.clone(),
            target: Some(record.target.clone()),
            operation_id: None,
            event: "reconciliation-ended".into(),
            detail: json!({"run": record.id, "state": state.as_str(),
                           "situations": summary.situations, "removals": summary.removals,
                           "applied": summary.applied}),
        }
    }

    /// Reads and classifies, checks the budget, and applies unless a dry
    /// run. `again`: the host stopped while it read; its items are
    /// forgotten and it reads from the start.
    async fn execute(&self, mut record: ReconRunRecord, again: bool) {
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        if again {
            let reactions_used = std::mem::take(&mut summary.reactions_used);
            summary = Summary {
                reactions_used,
                ..Summary::default()
            };
            record.summary = json!(summary);
            let _ = self.write_run(&record, true, Vec::new()).await;
        }
        let started = Instant::now();
        let read = self.read(&mut record, &mut summary).await;
        summary.read_ms = started.elapsed().as_millis() as u64;
        if matches!(read, Err(ReconError::Stopping)) {
            return;
        }
        if let Err(e) = read {
            summary.error = Some(e.to_string());
            let audit = Self::ended(&record, RunState::Failed, &summary);
            self.save(&mut record, RunState::Failed, &summary, vec![audit])
                .await;
            return;
        }
        record.summary = json!(summary);
        self.decide(record).await;
    }

    /// After reading: a dry run ends `planned`; over the budget the run
    /// waits for an operator; otherwise it applies.
    pub(super) async fn decide(&self, mut record: ReconRunRecord) {
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        if record.dry_run {
            let audit = Self::ended(&record, RunState::Planned, &summary);
            self.save(&mut record, RunState::Planned, &summary, vec![audit])
                .await;
            return;
        }
        let config = self.config(&record.target).cloned().unwrap_or_default();
        if let Some(budget) = budget(&config, &summary) {
            summary.budget = Some(budget);
            let audit = Self::ended(&record, RunState::NeedsConfirmation, &summary);
            self.save(
                &mut record,
                RunState::NeedsConfirmation,
                &summary,
                vec![audit],
            )
            .await;
            return;
        }
        self.save(&mut record, RunState::Applying, &summary, Vec::new())
            .await;
        self.apply_stored(record).await;
    }

    /// Whether the host is stopping.
    pub(super) fn stopping(&self) -> bool {
        self.shared
            .stopping
            .get()
            .is_some_and(|stop| *stop.borrow())
    }

    pub(super) fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub(super) fn identities(&self) -> &Identities {
        &self.shared.identities
    }

    /// Stores a page of items and the run's progress with them.
    pub(super) async fn store_items(
        &self,
        record: &mut ReconRunRecord,
        summary: &mut Summary,
        items: Vec<Item>,
    ) -> Result<(), ReconError> {
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            summary.items += 1;
            *summary.situations.entry(item.situation).or_default() += 1;
            if item.acts() {
                *summary.reactions.entry(item.reaction).or_default() += 1;
            }
            if item.removes() {
                summary.removals += 1;
            }
            rows.push(ReconItemRecord {
                seq: summary.items as i64,
                situation: item.situation.as_str().into(),
                item: json!(item),
            });
        }
        record.summary = json!(summary);
        let store = self.shared.engine.store();
        store
            .write_recon(
                ReconWrite::Items {
                    run: record.id.clone(),
                    items: rows,
                },
                Vec::new(),
            )
            .await?;
        self.write_run(record, false, Vec::new()).await
    }

    /// Applies the stored items not yet applied, then ends the run.
    pub(super) async fn apply_stored(&self, mut record: ReconRunRecord) {
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        let started = Instant::now();
        let stopping = self.shared.stopping.get().cloned();
        let outcome = apply::apply(
            &self.shared.engine,
            &record,
            &mut summary,
            &record.requested_by.clone(),
            stopping.as_ref(),
        )
        .await;
        summary.apply_ms += started.elapsed().as_millis() as u64;
        if matches!(outcome, Err(ReconError::Stopping)) {
            return;
        }
        let state = match outcome {
            Ok(()) => RunState::Succeeded,
            Err(e) => {
                summary.error = Some(e.to_string());
                RunState::Failed
            }
        };
        let audit = Self::ended(&record, state, &summary);
        self.save(&mut record, state, &summary, vec![audit]).await;
    }

    /// Executes a dry run's plan (`planned`), or a run the budget stopped
    /// (`needs-confirmation`, operators only: `confirmed`).
    pub async fn apply(
        &self,
        id: &str,
        actor: &Actor,
        confirmed: bool,
    ) -> Result<ReconciliationView, ReconError> {
        let mut record = self.record(id).await?;
        let state = RunState::parse(&record.state);
        let expected = if confirmed {
            RunState::NeedsConfirmation
        } else {
            RunState::Planned
        };
        if state != expected {
            return Err(ReconError::WrongState {
                id: id.to_owned(),
                state: state.as_str(),
                expected: expected.as_str(),
            });
        }
        let mut summary: Summary =
            serde_json::from_value(record.summary.clone()).unwrap_or_default();
        if !confirmed {
            let config = self.config(&record.target)?;
            if let Some(budget) = budget(config, &summary) {
                summary.budget = Some(budget);
                record.requested_by = actor.to_owned();
                let audit = Self::ended(&record, RunState::NeedsConfirmation, &summary);
                self.save(
                    &mut record,
                    RunState::NeedsConfirmation,
                    &summary,
                    vec![audit],
                )
                .await;
                return self.view(id).await;
            }
        } else {
            summary.confirmed_by = Some(actor.to_owned());
        }
        self.claim(&record.target, id)?;
        summary.applied_by = Some(actor.to_owned());
        record.requested_by = actor.to_owned();
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(record.target.clone()),
            operation_id: None,
            event: if confirmed {
                "reconciliation-confirmed".into()
            } else {
                "reconciliation-applied".into()
            },
            detail: json!({"run": id, "removals": summary.removals}),
        };
        record.finished_at = None;
        self.save(&mut record, RunState::Applying, &summary, vec![audit])
            .await;
        let runs = self.clone();
        tokio::spawn(async move {
            let target = record.target.clone();
            runs.apply_stored(record).await;
            runs.release(&target);
        });
        self.view(id).await
    }

    /// Ends a run the budget stopped, or a dry run, without acting.
    pub async fn abandon(&self, id: &str, actor: &Actor) -> Result<ReconciliationView, ReconError> {
        let mut record = self.record(id).await?;
        let state = RunState::parse(&record.state);
        if !matches!(state, RunState::NeedsConfirmation | RunState::Planned) {
            return Err(ReconError::WrongState {
                id: id.to_owned(),
                state: state.as_str(),
                expected: "needs-confirmation or planned",
            });
        }
        let summary: Summary = serde_json::from_value(record.summary.clone()).unwrap_or_default();
        record.requested_by = actor.to_owned();
        let audit = Self::ended(&record, RunState::Abandoned, &summary);
        self.save(&mut record, RunState::Abandoned, &summary, vec![audit])
            .await;
        self.view(id).await
    }

    async fn record(&self, id: &str) -> Result<ReconRunRecord, ReconError> {
        self.shared
            .engine
            .store()
            .recon_run(id)
            .await?
            .ok_or_else(|| ReconError::UnknownRun(id.to_owned()))
    }

    pub async fn view(&self, id: &str) -> Result<ReconciliationView, ReconError> {
        Ok(view(self.record(id).await?))
    }

    pub async fn runs(
        &self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<ReconciliationView>, ReconError> {
        self.config(target)?;
        Ok(self
            .shared
            .engine
            .store()
            .recon_runs(target, limit)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// A run's items after `after`, of one situation when given.
    pub async fn items(
        &self,
        id: &str,
        situation: Option<Situation>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Item)>, ReconError> {
        self.record(id).await?;
        let rows = self
            .shared
            .engine
            .store()
            .recon_items(id, situation.map(|s| s.as_str()), after, limit)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((row.seq, serde_json::from_value(row.item).ok()?)))
            .collect())
    }
}

/// Why the run's disables and deletes are over the target's budget, if
/// they are.
fn budget(config: &ReconConfig, summary: &Summary) -> Option<Budget> {
    let removals = summary.removals;
    let share = removals as f64 / summary.seen.max(1) as f64;
    let reason = if removals > config.max_deletes {
        format!(
            "{removals} disables and deletes is more than max_deletes ({})",
            config.max_deletes
        )
    } else if let Some(max) = config.max_delete_share
        && share > max
    {
        format!(
            "{removals} disables and deletes of {} accounts ({:.0}%) is more than max_delete_share ({:.0}%)",
            summary.seen,
            share * 100.0,
            max * 100.0
        )
    } else {
        return None;
    };
    Some(Budget {
        removals,
        seen: summary.seen,
        max_deletes: config.max_deletes,
        max_delete_share: config.max_delete_share,
        reason: format!(
            "{reason}; nothing was applied: confirm the run to apply it, or abandon it"
        ),
    })
}
