//! The read side of a target: its schema, a connection test, accounts by
//! filter, counts, and linking an account that already exists.

use super::deployment::Purpose;
use super::error::EngineError;
use super::{Actor, Engine};
use crate::model::{
    ConnectorError, ConnectorObject, CountRequest, ObjectSchema, Page, PageRequest, SearchRequest,
    SyncBatch, SyncRequest,
};
use crate::runtime::{CallError, CallErrorKind};
use crate::store::{AuditEvent, Link, now_ms};
use serde_json::json;

/// Pages a count through `search` reads at most.
const MAX_COUNT_PAGES: u32 = 20_000;
/// Call timeouts a count through `search` may take in all.
const COUNT_TIMEOUTS: u32 = 20;

/// Objects per page when counting through `search`.
const COUNT_PAGE: u32 = 500;

/// How a count was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CountedBy {
    /// The connector's own `count` (contract 0.2.0).
    Connector,
    /// Paged through `search`, for connectors that cannot count.
    Search,
}

/// A count of objects on a target.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: u64,
    pub counted_by: CountedBy,
    /// `name@version` that counted.
    pub connector: String,
}

impl Engine {
    /// Calls the connector's `test`; the answer is the target's health.
    pub async fn test_target(&self, name: &str) -> Result<(), EngineError> {
        Ok(super::monitor::test(self.target(name)?).await?)
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
        let class = target.class_name(class.as_deref());
        let lease = target.lease_for(Purpose::Read);
        let account = match lease.connector.get(class.clone(), uid, vec![]).await {
            Ok(account) => account,
            Err(e) if matches!(e.connector_error(), Some(ConnectorError::NotFound { .. })) => {
                return Err(EngineError::UnknownAccount(format!(
                    "target {name} has no {class} with uid {uid}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
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

    /// The account `uid` as the target holds it, with `attributes` (the
    /// connector's defaults when empty); `None` when the target has no
    /// such account. What planning reads before deciding what to change.
    pub async fn read_account(
        &self,
        name: &str,
        class: &str,
        uid: &str,
        attributes: Vec<String>,
    ) -> Result<Option<ConnectorObject>, EngineError> {
        let target = self.target(name)?;
        let lease = target.lease_for(Purpose::Read);
        match lease.connector.get(class.to_owned(), uid, attributes).await {
            Ok(object) => Ok(Some(object)),
            Err(e) if matches!(e.connector_error(), Some(ConnectorError::NotFound { .. })) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The class `class` names on a target (its default when `None`), as
    /// the target spells it.
    pub fn class_name(&self, name: &str, class: Option<&str>) -> Result<String, EngineError> {
        Ok(self.target(name)?.class_name(class))
    }

    /// One page of a target's objects (what sources read).
    pub async fn search(&self, name: &str, request: SearchRequest) -> Result<Page, EngineError> {
        let target = self.target(name)?;
        let lease = target.lease_for(Purpose::Read);
        Ok(lease.connector.search(request).await?)
    }

    /// The attributes the target's protected filter reads (none without
    /// one): what a reconciliation asks `search` for besides its own.
    pub fn protected_attributes(&self, name: &str) -> Result<Vec<String>, EngineError> {
        let target = self.target(name)?;
        let policy = target.policy();
        Ok(policy
            .protection
            .as_ref()
            .map(|p| p.attributes())
            .unwrap_or_default())
    }

    /// The part of the target's protected filter `account` matches, if it
    /// matches.
    pub fn protected_part(
        &self,
        name: &str,
        account: &ConnectorObject,
    ) -> Result<Option<String>, EngineError> {
        let target = self.target(name)?;
        let policy = target.policy();
        Ok(policy
            .protection
            .as_ref()
            .and_then(|p| p.matched_part(account)))
    }

    /// Whether the active connector declares `sync`.
    pub fn can_sync(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self
            .target(name)?
            .active()
            .connector
            .info()
            .capabilities
            .sync)
    }

    /// One batch of changes after a token (what sources and live
    /// reconciliation read).
    pub async fn sync(&self, name: &str, request: SyncRequest) -> Result<SyncBatch, EngineError> {
        let target = self.target(name)?;
        let lease = target.lease_for(Purpose::Read);
        Ok(lease.connector.sync(request).await?)
    }

    /// The token that marks "now" for a class of a target.
    pub async fn latest_sync_token(&self, name: &str, class: &str) -> Result<String, EngineError> {
        let target = self.target(name)?;
        let lease = target.lease_for(Purpose::Read);
        Ok(lease.connector.latest_sync_token(class).await?)
    }

    /// Accounts on a target by name (for operators linking accounts).
    pub async fn find_accounts(
        &self,
        name: &str,
        filter: Option<String>,
        size: u32,
    ) -> Result<Page, EngineError> {
        let target = self.target(name)?;
        let request = SearchRequest {
            class: target.policy().config.class.clone(),
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
        let class = target.class_name(class.as_deref());
        let lease = target.lease_for(Purpose::Read);
        let connector = lease.label();
        let capabilities = lease.connector.info().capabilities;
        if capabilities.count {
            let request = CountRequest {
                class: class.clone(),
                filter: filter.clone(),
            };
            match lease.connector.count(request).await {
                Ok(count) => {
                    return Ok(Count {
                        count,
                        counted_by: CountedBy::Connector,
                        connector,
                    });
                }
                // Declared but not implemented (an SDK default): search.
                Err(CallError {
                    kind: CallErrorKind::Connector(ConnectorError::Unsupported { .. }),
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
        // Each page is a call under the target's timeout; the whole count
        // is bounded too, so a connector that never stops paging (or pages
        // slowly forever) cannot hold the request.
        let timeout = target.policy().config.timeout;
        let deadline = std::time::Instant::now() + timeout * COUNT_TIMEOUTS;
        for pages in 0.. {
            if pages == MAX_COUNT_PAGES || std::time::Instant::now() > deadline {
                return Err(EngineError::Refused(format!(
                    "{connector} paged {pages} times ({count} objects) without reaching the end; counting through search stops after {MAX_COUNT_PAGES} pages or {} ({COUNT_TIMEOUTS} call timeouts)",
                    humantime::format_duration(timeout * COUNT_TIMEOUTS)
                )));
            }
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
            counted_by: CountedBy::Search,
            connector,
        })
    }
}
