//! Runs of authoritative sources: read every record (the connector's paged
//! `search`), turn each into a desired state, tell joiners, movers,
//! leavers and rehires apart, count the leavers against the deletion
//! guard before anything is sent, then set each changed identity (which
//! plans and submits it). A run the guard stops keeps what it decided;
//! confirming it applies exactly that.

use super::error::IdentityError;
use super::inbound::Rejected;
use super::model::{DesiredState, Status};
use super::service::Identities;
use super::turns::Turns;
use crate::config::{Config, Missing, SourceConfig};
use crate::engine::{Actor, Engine};
use crate::store::{AuditEvent, IdentityWrite, SourceCursor, SourceRunRecord, now_ms};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

mod read;
pub use read::ReadBy;

/// Records read per page.
const PAGE: u32 = 500;
/// Pages one run reads at most (5 million records).
const MAX_PAGES: u32 = 10_000;
/// Rejected records a run's summary lists (all are counted).
const MAX_REJECTED_LISTED: usize = 200;
/// Identities a run sets at once.
const APPLY_CONCURRENCY: usize = 16;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    /// Stopped by the deletion guard before acting: an operator confirms
    /// or abandons it.
    NeedsConfirmation,
    /// A dry run that ended: what it would do is in its items.
    Planned,
    Succeeded,
    /// Reading or applying failed; what was applied stays applied.
    Failed,
    Abandoned,
    /// The host stopped while it ran; run the source again.
    Interrupted,
}

impl RunState {
    fn as_str(&self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::NeedsConfirmation => "needs-confirmation",
            RunState::Planned => "planned",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Abandoned => "abandoned",
            RunState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> RunState {
        [
            RunState::Running,
            RunState::NeedsConfirmation,
            RunState::Planned,
            RunState::Succeeded,
            RunState::Failed,
            RunState::Abandoned,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .unwrap_or(RunState::Interrupted)
    }
}

/// What kind of change a record brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Joiner,
    Mover,
    Leaver,
    Rehire,
}

/// One identity a run changes.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunItem {
    pub identity: String,
    pub change: ChangeKind,
    /// Why it is that kind of change.
    pub why: String,
    pub state: DesiredState,
    /// Once applied: the operations submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<usize>,
    /// Once applied: targets whose plan was held, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    /// Records read.
    pub read: u64,
    pub joiners: u64,
    pub movers: u64,
    pub leavers: u64,
    pub rehires: u64,
    pub unchanged: u64,
    /// Records reported and skipped.
    pub rejected: u64,
    /// Identities set so far.
    pub applied: u64,
    /// Operations submitted.
    pub operations: u64,
    /// Identities with a target plan held (a uniqueness rule, a target down).
    pub held: u64,
    /// Identities whose setting failed.
    pub failed: u64,
}

/// Why the deletion guard stopped a run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Guard {
    pub leavers: u64,
    /// Identities the source had before this run.
    pub known: u64,
    pub max_leavers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_leaver_share: Option<f64>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Summary {
    counts: Counts,
    /// Identities the source had before the run (the guard's share is of
    /// these).
    #[serde(default)]
    known: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guard: Option<Guard>,
    #[serde(default)]
    rejected: Vec<Rejected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirmed_by: Option<String>,
    #[serde(default)]
    read_by: ReadBy,
    /// What the run noticed on the way (a sync that fell back to reading
    /// everything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
    /// Where the source's next sync starts, once this run is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<SourceCursor>,
    /// A sync's records and the identities they set, written with the
    /// cursor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    records: Vec<(String, String)>,
}

/// A run, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: String,
    pub source: String,
    pub state: RunState,
    pub dry_run: bool,
    pub requested_by: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Records reported and skipped (the first 200).
    pub rejected: Vec<Rejected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// `search` (every record) or `sync` (what changed since the last
    /// applied run).
    #[schema(value_type = String)]
    pub read_by: ReadBy,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("there is no source `{0}`")]
    UnknownSource(String),
    #[error("source {name} has no run {id}")]
    UnknownRun { name: String, id: String },
    #[error("a run of source {name} is in progress ({id}); wait for it to end")]
    Busy { name: String, id: String },
    #[error("run {id} is {state}; only a run that needs confirmation can be {verb}")]
    WrongState {
        id: String,
        state: &'static str,
        verb: &'static str,
    },
    #[error("the source could not be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<crate::store::StoreError> for RunError {
    fn from(e: crate::store::StoreError) -> Self {
        RunError::Identity(e.into())
    }
}

struct Shared {
    identities: Identities,
    configs: BTreeMap<String, SourceConfig>,
    /// The run in progress per source.
    running: Mutex<HashMap<String, String>>,
    /// Live counts of runs in progress.
    progress: Mutex<HashMap<String, Counts>>,
}

/// Authoritative sources and their runs. Cheap to clone.
#[derive(Clone)]
pub struct Sources {
    shared: Arc<Shared>,
}

fn actor_of(source: &str) -> String {
    format!("source:{source}")
}

impl Sources {
    pub fn new(identities: Identities, config: &Config) -> Sources {
        Sources {
            shared: Arc::new(Shared {
                identities,
                configs: config.sources.clone(),
                running: Mutex::default(),
                progress: Mutex::default(),
            }),
        }
    }

    fn engine(&self) -> &Engine {
        self.shared.identities.engine()
    }

    fn config(&self, source: &str) -> Result<&SourceConfig, RunError> {
        self.shared
            .configs
            .get(source)
            .ok_or_else(|| RunError::UnknownSource(source.to_owned()))
    }

    pub fn names(&self) -> Vec<String> {
        self.shared.configs.keys().cloned().collect()
    }

    /// Marks runs a stopped host left running as interrupted, and starts
    /// each source's schedule.
    pub async fn start(&self, stop: tokio::sync::watch::Receiver<bool>) -> Result<(), RunError> {
        for source in self.shared.configs.keys() {
            for mut run in self.engine().store().source_runs(source, 20).await? {
                if run.state == RunState::Running.as_str() {
                    run.state = RunState::Interrupted.as_str().into();
                    run.finished_at = Some(now_ms());
                    self.engine()
                        .store()
                        .write_identity(
                            IdentityWrite::Run {
                                run,
                                items: None,
                                cursor: None,
                                records: Vec::new(),
                            },
                            Vec::new(),
                        )
                        .await?;
                }
            }
        }
        for (source, config) in &self.shared.configs {
            let Some(interval) = config.interval else {
                continue;
            };
            let (sources, source, mut stop) = (self.clone(), source.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = stop.changed() => return,
                    }
                    if *stop.borrow() {
                        return;
                    }
                    match sources.run(&source, false, "provisio:schedule").await {
                        Ok(_) | Err(RunError::Busy { .. }) => {}
                        Err(e) => {
                            tracing::warn!(%source, "a scheduled source run failed to start: {e}")
                        }
                    }
                }
            });
        }
        Ok(())
    }

    /// Starts a run of `source`; it goes on in the background. Answers the
    /// run as it starts.
    pub async fn run(
        &self,
        source: &str,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<RunView, RunError> {
        self.config(source)?;
        let id = uuid::Uuid::now_v7().to_string();
        self.claim(source, &id)?;
        let record = SourceRunRecord {
            id: id.clone(),
            source: source.to_owned(),
            state: RunState::Running.as_str().into(),
            dry_run,
            requested_by: actor.to_owned(),
            started_at: now_ms(),
            finished_at: None,
            summary: json!(Summary::default()),
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "source-run-started".into(),
            detail: json!({"source": source, "run": id, "dry_run": dry_run}),
        };
        if let Err(e) = self
            .engine()
            .store()
            .write_identity(
                IdentityWrite::Run {
                    run: record.clone(),
                    items: Some(Vec::new()),
                    cursor: None,
                    records: Vec::new(),
                },
                vec![audit],
            )
            .await
        {
            self.release(source);
            return Err(e.into());
        }
        let sources = self.clone();
        tokio::spawn(async move {
            let source = record.source.clone();
            sources.execute(record, None).await;
            sources.release(&source);
        });
        self.view(source, &id).await
    }

    fn claim(&self, source: &str, id: &str) -> Result<(), RunError> {
        let mut running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(current) = running.get(source) {
            return Err(RunError::Busy {
                name: source.to_owned(),
                id: current.clone(),
            });
        }
        running.insert(source.to_owned(), id.to_owned());
        Ok(())
    }

    fn release(&self, source: &str) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(source);
    }

    fn set_progress(&self, run: &str, counts: &Counts) {
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run.to_owned(), counts.clone());
    }

    async fn finish(
        &self,
        mut record: SourceRunRecord,
        state: RunState,
        summary: &Summary,
        items: Option<Vec<String>>,
    ) {
        record.state = state.as_str().into();
        if state != RunState::NeedsConfirmation {
            record.finished_at = Some(now_ms());
        }
        // The cursor moves only when what was read was applied.
        let (cursor, records) = match state {
            RunState::Succeeded => (summary.cursor.clone(), summary.records.clone()),
            _ => (None, Vec::new()),
        };
        let mut summary = summary.clone();
        summary.records = Vec::new();
        record.summary = json!(summary);
        let audit = AuditEvent {
            actor: record.requested_by.clone(),
            target: None,
            operation_id: None,
            event: "source-run-ended".into(),
            detail: json!({"source": record.source, "run": record.id, "state": state.as_str(),
                           "counts": summary.counts}),
        };
        let id = record.id.clone();
        if let Err(e) = self
            .engine()
            .store()
            .write_identity(
                IdentityWrite::Run {
                    run: record,
                    items,
                    cursor,
                    records,
                },
                vec![audit],
            )
            .await
        {
            tracing::error!(run = %id, "cannot record the end of a source run: {e}");
        }
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Reads, decides, guards and applies. `confirmed`: the items an
    /// operator confirmed (reading and the guard are skipped).
    async fn execute(&self, record: SourceRunRecord, confirmed: Option<(Vec<RunItem>, Summary)>) {
        let source = record.source.clone();
        let Ok(config) = self.config(&source).cloned() else {
            return;
        };
        let (items, mut summary) = match confirmed {
            Some(confirmed) => confirmed,
            None => match self.decide(&record, &config).await {
                Ok(decided) => decided,
                Err(e) => {
                    let summary = Summary {
                        error: Some(e.to_string()),
                        ..Summary::default()
                    };
                    self.finish(record, RunState::Failed, &summary, None).await;
                    return;
                }
            },
        };
        if record.dry_run {
            self.finish(record, RunState::Planned, &summary, stored(items))
                .await;
            return;
        }
        if summary.confirmed_by.is_none()
            && let Some(guard) = guard(&config, &summary.counts, summary.known)
        {
            summary.guard = Some(guard);
            self.finish(record, RunState::NeedsConfirmation, &summary, stored(items))
                .await;
            return;
        }
        let actor = actor_of(&source);
        let mut applied = Vec::with_capacity(items.len());
        // Joiners and rehires are planned one at a time in the file's order,
        // so that of two Will Smiths the first row gets `smithw` every time,
        // and submitted several at once; the others several at once (each
        // one's operations still run in order). The items keep the file's
        // order.
        let identities = &self.shared.identities;
        let (new, rest): (Vec<_>, Vec<_>) = items
            .into_iter()
            .enumerate()
            .partition(|(_, item)| matches!(item.change, ChangeKind::Joiner | ChangeKind::Rehire));
        let turns = Turns::default();
        let set = |turn: Option<usize>, (index, item): (usize, RunItem)| {
            let (source, actor, turns) = (&source, &actor, &turns);
            async move {
                let turn = match turn {
                    Some(n) => Some(turns.take(n).await),
                    None => None,
                };
                let outcome = identities
                    .put_from_source(&item.identity, item.state.clone(), source, actor, turn)
                    .await;
                (index, item, outcome)
            }
        };
        let mut outcomes = futures_util::stream::iter(new.into_iter().enumerate())
            .map(|(n, item)| set(Some(n), item))
            .buffered(APPLY_CONCURRENCY)
            .chain(
                futures_util::stream::iter(rest)
                    .map(|item| set(None, item))
                    .buffered(APPLY_CONCURRENCY),
            );
        while let Some((index, mut item, outcome)) = outcomes.next().await {
            match outcome {
                Ok(outcome) => {
                    summary.counts.applied += 1;
                    summary.counts.operations += outcome.operations.len() as u64;
                    item.operations = Some(outcome.operations.len());
                    item.held = outcome
                        .plan
                        .targets
                        .iter()
                        .filter(|t| t.action == super::plan::Action::Held)
                        .map(|t| format!("{}: {}", t.target, t.reason))
                        .chain(
                            outcome
                                .failures
                                .iter()
                                .map(|f| format!("{}: {}", f.target, f.error)),
                        )
                        .collect();
                    if !item.held.is_empty() {
                        summary.counts.held += 1;
                    }
                }
                Err(e) => {
                    summary.counts.failed += 1;
                    item.error = Some(e.to_string());
                }
            }
            applied.push((index, item));
            if applied.len() % 100 == 0 {
                self.set_progress(&record.id, &summary.counts);
            }
        }
        drop(outcomes);
        applied.sort_by_key(|(index, _)| *index);
        let applied: Vec<RunItem> = applied.into_iter().map(|(_, item)| item).collect();
        self.finish(record, RunState::Succeeded, &summary, stored(applied))
            .await;
    }

    /// Reads the source and decides what changes.
    async fn decide(
        &self,
        record: &SourceRunRecord,
        config: &SourceConfig,
    ) -> Result<(Vec<RunItem>, Summary), RunError> {
        let engine = self.engine();
        let store = engine.store();
        let class = engine
            .class_name(&config.target, config.class.as_deref())
            .map_err(IdentityError::from)?;
        let reader = read::Reader {
            engine,
            config,
            source: &record.source,
            expressions: &self.shared.identities.policies().expressions,
            class,
        };
        let mut summary = Summary::default();
        let progress = |summary: &Summary| self.set_progress(&record.id, &summary.counts);
        let reading = reader.read(&mut summary, &progress).await?;
        summary.read_by = reading.read_by;
        summary.cursor = reading.cursor.clone();
        let pairs = || {
            reading
                .records
                .iter()
                .map(|(id, record)| (record.clone(), id.clone()))
                .collect::<Vec<_>>()
        };
        match reading.read_by {
            // Which identity each record set, for the syncs that follow
            // (a delete names only the record). Written now, not with the
            // cursor: a full read repeats until a run is applied.
            ReadBy::Search if !record.dry_run => {
                store
                    .write_identity(
                        IdentityWrite::SourceRecords {
                            source: record.source.clone(),
                            records: pairs(),
                        },
                        Vec::new(),
                    )
                    .await?
            }
            ReadBy::Search => {}
            // Written with the cursor once the run is applied.
            ReadBy::Sync => summary.records = pairs(),
        }
        let read::Reading {
            desired,
            records: seen,
            rejected,
            vanished,
            ..
        } = reading;

        // What the source set before: to tell movers from joiners, and to
        // find who is missing now. A sync reads only who it names.
        let mut known: HashMap<String, DesiredState> = HashMap::new();
        let mut known_count = 0u64;
        let mut after: Option<String> = None;
        loop {
            let page = store
                .identities_of_source(&record.source, after.as_deref(), 1000)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            known_count += page.len() as u64;
            if vanished.is_none() {
                for identity in page {
                    let state = serde_json::from_value(identity.state).unwrap_or_default();
                    known.insert(identity.id, state);
                }
            }
        }
        let present = |id: &String| seen.contains_key(id) || rejected.contains(id);
        let gone: Vec<String> = match vanished {
            None => known.keys().filter(|id| !present(id)).cloned().collect(),
            Some(vanished) => {
                let mut gone = Vec::new();
                for id in vanished {
                    if present(&id) || known.contains_key(&id) {
                        continue;
                    }
                    if let Some(identity) = store.identity(&id).await?
                        && identity.source.as_deref() == Some(record.source.as_str())
                    {
                        let state = serde_json::from_value(identity.state).unwrap_or_default();
                        known.insert(id.clone(), state);
                        gone.push(id);
                    }
                }
                gone
            }
        };
        // Identities a record names that this source did not set (the API
        // or another source did), read a thousand at a time.
        let mut elsewhere: HashMap<String, DesiredState> = HashMap::new();
        let unknown: Vec<&String> = desired
            .iter()
            .map(|(id, _)| id)
            .filter(|id| !known.contains_key(*id))
            .collect();
        for chunk in unknown.chunks(1000) {
            let chunk = chunk.iter().map(|id| (*id).clone()).collect();
            for identity in store.identities_in(chunk).await? {
                let state = serde_json::from_value(identity.state).unwrap_or_default();
                elsewhere.insert(identity.id, state);
            }
        }
        let (now, _) = super::service::reference_at(now_ms());
        let roles = self.shared.identities.policies().role_names();
        let mut items = Vec::with_capacity(desired.len());
        for (id, state) in desired {
            let state = match state.checked(&roles) {
                Ok(state) => state,
                Err(invalid) => {
                    summary.counts.rejected += 1;
                    push_rejected(
                        &mut summary,
                        Rejected {
                            record: seen.get(&id).cloned().unwrap_or_default(),
                            identity: Some(id),
                            reason: invalid.to_string(),
                        },
                    );
                    continue;
                }
            };
            let before = known.get(&id).or_else(|| elsewhere.get(&id));
            let (change, why) = match before {
                None => (ChangeKind::Joiner, "new in the source".to_owned()),
                Some(before) if before == &state => {
                    summary.counts.unchanged += 1;
                    continue;
                }
                Some(before) => classify(before, &state, &now),
            };
            count(&mut summary.counts, change);
            items.push(RunItem {
                identity: id,
                change,
                why,
                state,
                operations: None,
                held: Vec::new(),
                error: None,
            });
        }
        let missing_status = match config.missing {
            Missing::Ignore => None,
            Missing::Suspend => Some(Status::Suspended),
            Missing::Terminate => Some(Status::Terminated),
        };
        if let Some(status) = missing_status {
            let mut gone: Vec<(&String, &DesiredState)> = gone
                .iter()
                .filter_map(|id| Some((id, known.get(id)?)))
                .collect();
            gone.sort_by(|a, b| a.0.cmp(b.0));
            for (id, before) in gone {
                if before.status == status || before.status == Status::Terminated {
                    continue;
                }
                let mut state = before.clone();
                state.status = status;
                summary.counts.leavers += 1;
                items.push(RunItem {
                    identity: id.clone(),
                    change: ChangeKind::Leaver,
                    why: format!("no longer in the source (missing = {})", status.as_str()),
                    state,
                    operations: None,
                    held: Vec::new(),
                    error: None,
                });
            }
        }
        summary.known = known_count;
        Ok((items, summary))
    }

    /// Applies a run the guard stopped, exactly as decided.
    pub async fn confirm(
        &self,
        source: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<RunView, RunError> {
        let (record, items, mut summary) = self.stopped(source, id, "confirmed").await?;
        self.claim(source, id)?;
        summary.confirmed_by = Some(actor.to_owned());
        let mut record = record;
        record.state = RunState::Running.as_str().into();
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "source-run-confirmed".into(),
            detail: json!({"source": source, "run": id, "leavers": summary.counts.leavers}),
        };
        record.summary = json!(summary);
        if let Err(e) = self
            .engine()
            .store()
            .write_identity(
                IdentityWrite::Run {
                    run: record.clone(),
                    items: None,
                    cursor: None,
                    records: Vec::new(),
                },
                vec![audit],
            )
            .await
        {
            self.release(source);
            return Err(e.into());
        }
        let sources = self.clone();
        let source_name = source.to_owned();
        tokio::spawn(async move {
            sources.execute(record, Some((items, summary))).await;
            sources.release(&source_name);
        });
        self.view(source, id).await
    }

    /// Ends a run the guard stopped without acting.
    pub async fn abandon(
        &self,
        source: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<RunView, RunError> {
        let (mut record, _, summary) = self.stopped(source, id, "abandoned").await?;
        record.requested_by = actor.to_owned();
        self.finish(record, RunState::Abandoned, &summary, None)
            .await;
        self.view(source, id).await
    }

    async fn stopped(
        &self,
        source: &str,
        id: &str,
        verb: &'static str,
    ) -> Result<(SourceRunRecord, Vec<RunItem>, Summary), RunError> {
        let record = self.record(source, id).await?;
        let state = RunState::parse(&record.state);
        if state != RunState::NeedsConfirmation {
            return Err(RunError::WrongState {
                id: id.to_owned(),
                state: state.as_str(),
                verb,
            });
        }
        let summary: Summary = serde_json::from_value(record.summary.clone()).unwrap_or_default();
        let items = self.items(source, id, 0, u32::MAX).await?;
        Ok((record, items.into_iter().map(|(_, i)| i).collect(), summary))
    }

    async fn record(&self, source: &str, id: &str) -> Result<SourceRunRecord, RunError> {
        self.config(source)?;
        self.engine()
            .store()
            .source_run(id)
            .await?
            .filter(|r| r.source == source)
            .ok_or_else(|| RunError::UnknownRun {
                name: source.to_owned(),
                id: id.to_owned(),
            })
    }

    pub async fn view(&self, source: &str, id: &str) -> Result<RunView, RunError> {
        let record = self.record(source, id).await?;
        let summary: Summary = serde_json::from_value(record.summary).unwrap_or_default();
        // Live counts only while it runs: the final record has its own.
        let live = (record.state == RunState::Running.as_str())
            .then(|| {
                self.shared
                    .progress
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(id)
                    .cloned()
            })
            .flatten();
        Ok(RunView {
            id: record.id,
            source: record.source,
            state: RunState::parse(&record.state),
            dry_run: record.dry_run,
            requested_by: record.requested_by,
            started_at: crate::expr::date_of_ms(record.started_at),
            finished_at: record.finished_at.map(crate::expr::date_of_ms),
            counts: live.unwrap_or(summary.counts),
            guard: summary.guard,
            rejected: summary.rejected,
            error: summary.error,
            confirmed_by: summary.confirmed_by,
            read_by: summary.read_by,
            notes: summary.notes,
        })
    }

    pub async fn runs(&self, source: &str, limit: u32) -> Result<Vec<RunView>, RunError> {
        self.config(source)?;
        let mut views = Vec::new();
        for record in self.engine().store().source_runs(source, limit).await? {
            views.push(self.view(source, &record.id).await?);
        }
        Ok(views)
    }

    pub async fn items(
        &self,
        source: &str,
        id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, RunItem)>, RunError> {
        self.record(source, id).await?;
        let mut items = Vec::new();
        let mut after = after;
        while (items.len() as u64) < u64::from(limit) {
            let want = (u64::from(limit) - items.len() as u64).min(1000) as u32;
            let page = self
                .engine()
                .store()
                .source_run_items(id, after, want)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            let full = page.len() as u32 == want;
            for (seq, item) in page {
                if let Ok(item) = serde_json::from_value(item) {
                    items.push((seq, item));
                }
            }
            if !full {
                break;
            }
        }
        Ok(items)
    }
}

/// A run's items as the store keeps them, each dropped once written out:
/// a run of 100,000 people never holds them twice.
fn stored(items: Vec<RunItem>) -> Option<Vec<String>> {
    Some(
        items
            .into_iter()
            .map(|item| serde_json::to_string(&item).expect("a run item serialises"))
            .collect(),
    )
}

fn push_rejected(summary: &mut Summary, rejected: Rejected) {
    if summary.rejected.len() < MAX_REJECTED_LISTED {
        summary.rejected.push(rejected);
    }
}

fn count(counts: &mut Counts, change: ChangeKind) {
    match change {
        ChangeKind::Joiner => counts.joiners += 1,
        ChangeKind::Mover => counts.movers += 1,
        ChangeKind::Leaver => counts.leavers += 1,
        ChangeKind::Rehire => counts.rehires += 1,
    }
}

/// A changed record's kind, and why.
fn classify(before: &DesiredState, after: &DesiredState, now: &str) -> (ChangeKind, String) {
    let (was, is) = (before.status_at(now), after.status_at(now));
    if was == Status::Terminated && is != Status::Terminated {
        return (ChangeKind::Rehire, "back after leaving".into());
    }
    if is != was && is != Status::Active {
        return (
            ChangeKind::Leaver,
            format!("status {} → {}", was.as_str(), is.as_str()),
        );
    }
    let mut changed: Vec<String> = Vec::new();
    for field in before.changed_fields(after) {
        let field = match field.strip_prefix("profile.") {
            Some(name) => name.to_owned(),
            None if field.ends_with("_date") => "dates".to_owned(),
            None => field,
        };
        if !changed.contains(&field) {
            changed.push(field);
        }
    }
    (
        ChangeKind::Mover,
        format!("changed: {}", changed.join(", ")),
    )
}

/// Why the run's leavers are over the source's guard, if they are.
fn guard(config: &SourceConfig, counts: &Counts, known: u64) -> Option<Guard> {
    let leavers = counts.leavers;
    let share = leavers as f64 / known.max(1) as f64;
    let reason = if leavers > config.max_leavers {
        format!(
            "{leavers} leavers is more than max_leavers ({})",
            config.max_leavers
        )
    } else if let Some(max) = config.max_leaver_share
        && share > max
    {
        format!(
            "{leavers} leavers of {known} identities ({:.0}%) is more than max_leaver_share ({:.0}%)",
            share * 100.0,
            max * 100.0
        )
    } else {
        return None;
    };
    Some(Guard {
        leavers,
        known,
        max_leavers: config.max_leavers,
        max_leaver_share: config.max_leaver_share,
        reason: format!("{reason}; nothing was sent: confirm the run to apply it, or abandon it"),
    })
}
