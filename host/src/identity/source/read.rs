//! Reading a source: every record through the connector's paged `search`,
//! or, once a run was applied and the connector has `sync`, only what
//! changed since that run.

use super::{MAX_PAGES, PAGE, RunError, Summary, push_rejected};
use crate::config::SourceConfig;
use crate::engine::Engine;
use crate::expr::Expressions;
use crate::identity::error::IdentityError;
use crate::identity::inbound::{self, Rejected};
use crate::identity::model::DesiredState;
use crate::model::{ConnectorObject, DeltaKind, PageRequest, SearchRequest, SyncRequest};
use crate::store::SourceCursor;
use std::collections::{HashMap, HashSet};

/// How a run read its source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadBy {
    /// Every record, through `search`.
    #[default]
    Search,
    /// Only the changes since the last applied run, through `sync`.
    Sync,
}

/// What a run read.
pub(super) struct Reading {
    /// Each record's identity and desired state, in the source's order.
    pub desired: Vec<(String, DesiredState)>,
    /// The record each identity came from.
    pub records: HashMap<String, String>,
    /// Identities whose records were read but rejected: never leavers
    /// because of it.
    pub rejected: HashSet<String>,
    /// Who left the source: for a full read, everyone it set before who
    /// was not read (`None`); for a sync, the identities whose records
    /// were deleted or now carry another key.
    pub vanished: Option<Vec<String>>,
    /// Where the next sync starts once this run is applied.
    pub cursor: Option<SourceCursor>,
    pub read_by: ReadBy,
}

pub(super) struct Reader<'a> {
    pub engine: &'a Engine,
    pub config: &'a SourceConfig,
    pub source: &'a str,
    pub expressions: &'a Expressions,
    pub class: String,
}

impl Reader<'_> {
    /// Reads by sync when the source has a cursor and the connector can,
    /// otherwise everything. A sync the connector refuses (its token too
    /// old, say) falls back to reading everything.
    pub async fn read(
        &self,
        summary: &mut Summary,
        progress: &(dyn Fn(&Summary) + Sync),
    ) -> Result<Reading, RunError> {
        let can_sync = self.engine.can_sync(&self.config.target).unwrap_or(false);
        let cursor = match can_sync {
            true => self.engine.store().source_cursor(self.source).await?,
            false => None,
        };
        if let Some(cursor) = cursor.filter(|c| c.class == self.class) {
            let mut attempt = Summary::default();
            match self.changes(&cursor, &mut attempt, progress).await {
                Ok(reading) => {
                    *summary = attempt;
                    return Ok(reading);
                }
                Err(e) => {
                    tracing::warn!(source = %self.source, "sync from the last run failed, reading everything: {e}");
                    summary.notes.push(format!(
                        "sync from the last run's token failed ({e}); every record was read"
                    ));
                }
            }
        }
        // The token is taken before reading, so that what changes while the
        // records are read is synced again next time rather than missed.
        let token = match can_sync {
            true => self
                .engine
                .latest_sync_token(&self.config.target, &self.class)
                .await
                .ok(),
            false => None,
        };
        let mut reading = self.everything(summary, progress).await?;
        reading.cursor = token.map(|token| SourceCursor {
            class: self.class.clone(),
            token,
        });
        Ok(reading)
    }

    async fn everything(
        &self,
        summary: &mut Summary,
        progress: &(dyn Fn(&Summary) + Sync),
    ) -> Result<Reading, RunError> {
        let mut taker = Taker::new(self);
        let mut cookie = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .engine
                .search(
                    &self.config.target,
                    SearchRequest {
                        class: self.class.clone(),
                        filter: None,
                        page: PageRequest { size: PAGE, cookie },
                        attributes: Vec::new(),
                    },
                )
                .await
                .map_err(IdentityError::from)?;
            for object in &page.objects {
                taker.take(object, summary);
            }
            progress(summary);
            match page.cookie {
                Some(next) => cookie = Some(next),
                None => return Ok(taker.reading(None, ReadBy::Search)),
            }
        }
        // Never decide on part of a source: whoever was not read would
        // count as missing, and leave.
        Err(RunError::Unreadable(format!(
            "target {} paged {MAX_PAGES} times ({} records) without reaching the end; a source run reads at most {} records",
            self.config.target,
            summary.counts.read,
            u64::from(MAX_PAGES) * u64::from(PAGE)
        )))
    }

    async fn changes(
        &self,
        cursor: &SourceCursor,
        summary: &mut Summary,
        progress: &(dyn Fn(&Summary) + Sync),
    ) -> Result<Reading, RunError> {
        // The last delta of each record wins; records keep the order of
        // their first change.
        let mut order: Vec<String> = Vec::new();
        let mut latest: HashMap<String, Option<ConnectorObject>> = HashMap::new();
        let mut token = cursor.token.clone();
        let mut reached_end = false;
        for _ in 0..MAX_PAGES {
            let batch = self
                .engine
                .sync(
                    &self.config.target,
                    SyncRequest {
                        class: self.class.clone(),
                        token: Some(token.clone()),
                        max_deltas: PAGE,
                    },
                )
                .await
                .map_err(IdentityError::from)?;
            for delta in batch.deltas {
                let object = match delta.kind {
                    DeltaKind::Delete => None,
                    DeltaKind::Create | DeltaKind::Update => delta.object,
                };
                if latest.insert(delta.uid.clone(), object).is_none() {
                    order.push(delta.uid);
                }
            }
            token = batch.token;
            if !batch.has_more {
                reached_end = true;
                break;
            }
        }
        if !reached_end {
            return Err(RunError::Unreadable(format!(
                "target {} reported changes {MAX_PAGES} times without reaching the end",
                self.config.target
            )));
        }
        let before: HashMap<String, String> = self
            .engine
            .store()
            .source_record_identities(self.source, order.clone())
            .await?
            .into_iter()
            .collect();
        let mut taker = Taker::new(self);
        let mut vanished = Vec::new();
        for record in &order {
            match latest.get(record).and_then(Option::as_ref) {
                Some(object) => {
                    let id = taker.take(object, summary);
                    if let Some(old) = before.get(record)
                        && id.as_deref().is_some_and(|id| id != old)
                    {
                        vanished.push(old.clone());
                    }
                }
                None => vanished.extend(before.get(record).cloned()),
            }
        }
        progress(summary);
        let next = SourceCursor {
            class: self.class.clone(),
            token,
        };
        Ok(taker
            .reading(Some(vanished), ReadBy::Sync)
            .with_cursor(next))
    }
}

/// Turns records into desired states, rejecting what it must.
struct Taker<'a> {
    config: &'a SourceConfig,
    expressions: &'a Expressions,
    desired: Vec<(String, DesiredState)>,
    records: HashMap<String, String>,
    rejected: HashSet<String>,
}

impl<'a> Taker<'a> {
    fn new(reader: &'a Reader<'_>) -> Self {
        Taker {
            config: reader.config,
            expressions: reader.expressions,
            desired: Vec::new(),
            records: HashMap::new(),
            rejected: HashSet::new(),
        }
    }

    /// Takes one record; answers the identity it names, if it names one.
    fn take(&mut self, object: &ConnectorObject, summary: &mut Summary) -> Option<String> {
        summary.counts.read += 1;
        match inbound::desired(self.config, self.expressions, object) {
            Ok((id, state)) => {
                if let Some(first) = self.records.get(&id) {
                    summary.counts.rejected += 1;
                    push_rejected(
                        summary,
                        Rejected {
                            record: object.uid.clone(),
                            identity: Some(id.clone()),
                            reason: format!(
                                "its key {id} is also on record {first}; the first is kept"
                            ),
                        },
                    );
                    return Some(id);
                }
                self.records.insert(id.clone(), object.uid.clone());
                self.desired.push((id.clone(), state));
                Some(id)
            }
            Err(rejected) => {
                summary.counts.rejected += 1;
                let id = rejected.identity.clone();
                self.rejected.extend(id.clone());
                push_rejected(summary, rejected);
                id
            }
        }
    }

    fn reading(self, vanished: Option<Vec<String>>, read_by: ReadBy) -> Reading {
        Reading {
            desired: self.desired,
            records: self.records,
            rejected: self.rejected,
            vanished,
            cursor: None,
            read_by,
        }
    }
}

impl Reading {
    fn with_cursor(mut self, cursor: SourceCursor) -> Self {
        self.cursor = Some(cursor);
        self
    }
}
