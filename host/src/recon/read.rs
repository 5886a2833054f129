//! Reading a target for a run: one paged `search` (the next page read
//! while this one is classified and stored), each page classified against
//! what the run knows (the links, the correlation index), then the links
//! whose account was never seen.

use super::classify::Classifier;
use super::error::ReconError;
use super::index::{Correlation, Links};
use super::model::Summary;
use super::run::Reconciliations;
use crate::config::{Reaction, Situation};
use crate::engine::Engine;
use crate::identity::Identities;
use crate::model::{PageRequest, SearchRequest};
use crate::store::ReconRunRecord;
use std::collections::{BTreeMap, HashMap};

/// Accounts read per page.
const PAGE: u32 = 500;
/// Pages one run reads at most (5 million accounts).
const MAX_PAGES: u64 = 10_000;
/// Tries of one page before the run fails, the first pause between them
/// doubling.
const PAGE_ATTEMPTS: u32 = 3;
const PAGE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

impl Reconciliations {
    pub(super) async fn read(
        &self,
        record: &mut ReconRunRecord,
        summary: &mut Summary,
    ) -> Result<(), ReconError> {
        let engine = self.engine();
        let target = record.target.clone();
        let known = self.known(&target, &record.class).await?;
        summary.links = known.links.len() as u64;
        let reactions = summary.reactions_used.clone();
        let mut classifier =
            known.classifier(self.identities(), &target, &reactions, record.started_at);
        let (links, attributes) = (&known.links, &known.attributes);
        let mut seen_linked = links.none_seen();
        // The next page is read while this one is classified and stored.
        let class = record.class.clone();
        let fetch = |cookie: Option<String>| {
            let (engine, target) = (engine.clone(), target.clone());
            let request = SearchRequest {
                class: class.clone(),
                filter: None,
                page: PageRequest { size: PAGE, cookie },
                attributes: attributes.clone(),
            };
            tokio::spawn(async move { search_page(&engine, &target, request).await })
        };
        let mut next = Some(fetch(None));
        while let Some(reading) = next.take() {
            if self.stopping() {
                reading.abort();
                return Err(ReconError::Stopping);
            }
            let unreadable = |e: String, pages: u64| {
                ReconError::Unreadable(format!("target {target} failed at page {}: {e}", pages + 1))
            };
            let page = match reading.await {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => return Err(unreadable(e.to_string(), summary.pages)),
                Err(e) => return Err(unreadable(e.to_string(), summary.pages)),
            };
            let more = page.cookie.is_some();
            if more && summary.pages + 1 == MAX_PAGES {
                return Err(ReconError::Unreadable(format!(
                    "target {target} paged {MAX_PAGES} times ({} accounts) without reaching the end",
                    summary.seen + page.objects.len() as u64
                )));
            }
            next = page.cookie.clone().map(|cookie| fetch(Some(cookie)));
            classifier.prepare(&page.objects).await?;
            let mut items = Vec::with_capacity(page.objects.len());
            for account in page.objects {
                summary.seen += 1;
                links.see(&mut seen_linked, &account.uid);
                let protected = engine.protected_part(&target, &account)?;
                items.push(classifier.account(account, protected).await?);
            }
            summary.pages += 1;
            if let Err(e) = self.store_items(record, summary, items).await {
                if let Some(reading) = next {
                    reading.abort();
                }
                return Err(e);
            }
        }
        let mut deleted = Vec::new();
        for (identity, uid) in links.unseen(&seen_linked) {
            deleted.push(classifier.deleted(identity, uid).await?);
            if deleted.len() == PAGE as usize {
                self.store_items(record, summary, std::mem::take(&mut deleted))
                    .await?;
            }
        }
        self.store_items(record, summary, deleted).await?;
        Ok(())
    }

    /// What classifying on a target needs: its links, the correlation
    /// index and the attributes to read.
    pub(super) async fn known(&self, target: &str, class: &str) -> Result<Known, ReconError> {
        let engine = self.engine();
        let store = engine.store();
        let config = self.config(target)?;
        let links = Links::load(store.as_ref(), target, class).await?;
        let correlation = Correlation::build(store.as_ref(), &config.correlation).await?;
        let mut attributes = self.identities().mapped_attributes(target);
        attributes.extend(correlation.attributes());
        attributes.extend(engine.protected_attributes(target)?);
        attributes.sort();
        attributes.dedup();
        attributes.retain(|a| !a.eq_ignore_ascii_case(crate::model::names::NAME));
        Ok(Known {
            links,
            correlation,
            attributes,
        })
    }
}

/// One page, tried again after a pause when it fails: a pooled connection
/// a restarted server dropped fails once and then works; a target that is
/// down fails every time, and the run with it.
async fn search_page(
    engine: &Engine,
    target: &str,
    request: SearchRequest,
) -> Result<crate::model::Page, crate::engine::EngineError> {
    let mut pause = PAGE_RETRY_PAUSE;
    for _ in 1..PAGE_ATTEMPTS {
        match engine.search(target, request.clone()).await {
            Ok(page) => return Ok(page),
            Err(e) => tracing::debug!(%target, "a reconciliation page failed, trying again: {e}"),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    engine.search(target, request).await
}

/// What a run classifies against.
pub(super) struct Known {
    pub links: Links,
    pub correlation: Correlation,
    pub attributes: Vec<String>,
}

impl Known {
    pub fn classifier<'a>(
        &'a self,
        identities: &'a Identities,
        target: &'a str,
        reactions: &'a BTreeMap<Situation, Reaction>,
        now_ms: i64,
    ) -> Classifier<'a> {
        Classifier {
            identities,
            target,
            links: &self.links,
            correlation: &self.correlation,
            reactions,
            attributes: &self.attributes,
            claimed: HashMap::new(),
            expectations: None,
            now_ms,
        }
    }
}
