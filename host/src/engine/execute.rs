//! One attempt of one operation: the connector calls it takes, under the
//! target's policies.
//!
//! - Safe entitlements: only an identity's linked account (created or
//!   linked by Provisio) is ever changed or deleted; a create for an
//!   identity that already has one is refused.
//! - Protected accounts: when the target has a protected filter, the account
//!   is read first and left alone if it matches.
//! - `on_delete`: a delete deletes, disables or updates, as configured.
//! - Recovery: a create that finds its account already there after an
//!   earlier attempt had started (the host may have died after the target
//!   created it) looks it up by name and links it, but only when the
//!   account is provably the one this operation made: no identity holds
//!   it, it is not protected, and it has every value the create wrote.
//!   Anything else fails `conflict` naming the account, which is left
//!   alone (for reconciliation).

use super::batch;
use super::request::Work;
use super::sync::lock;
use super::target::Target;
use crate::config::{MembershipMode, OnDelete};
use crate::model::{
    Attribute, AttributeChange, ConnectorError, ConnectorObject, PageRequest, SearchRequest, Value,
    names,
};
use crate::runtime::{CallError, CallErrorKind, Connector, Scrubber};
use crate::store::{ErrorRecord, Link, LinkChange, OperationRecord, Store, now_ms};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

/// How an attempt ended.
pub enum Outcome {
    Succeeded {
        result: Json,
        link: Option<LinkChange>,
    },
    Failed(Failure),
}

pub struct Failure {
    pub error: ErrorRecord,
    /// The delay the target asked for (rate-limited).
    pub retry_after: Option<Duration>,
    /// Whose failure it was.
    pub fault: Fault,
}

/// Whose failure a failed call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request's: invalid, not found, already exists, unsupported, or
    /// refused by the host's own policies.
    Request,
    /// The target could not be reached or did not answer in time. Only
    /// these count toward quarantine: a healthy directory that refuses
    /// what a caller asked (permission-denied on an attribute the bind may
    /// not write) must not stop serving everyone else.
    Availability,
    /// The target answered with an error that is not the request's
    /// (permission-denied, failed), or the connector broke (trap, panic,
    /// memory): counted against the connector version, not toward
    /// quarantine.
    Target,
}

impl Fault {
    /// Counts against the version that made the call (canary error rates).
    pub fn counts_against_version(self) -> bool {
        self != Fault::Request
    }
}

impl Failure {
    /// A final failure that is nobody's fault but the request's.
    pub fn refusal(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            error: ErrorRecord {
                code: code.into(),
                message: message.into(),
                retryable: false,
            },
            retry_after: None,
            fault: Fault::Request,
        }
    }

    /// The store could not be read or written: retried, and not the
    /// target's fault (it does not count towards a quarantine).
    pub fn store(e: crate::store::StoreError) -> Failure {
        Failure {
            error: ErrorRecord {
                code: "store".into(),
                message: e.to_string(),
                retryable: true,
            },
            retry_after: None,
            fault: Fault::Request,
        }
    }
}

/// One connector call, for the audit log and quarantine.
pub struct CallLog {
    pub operation: &'static str,
    pub uid: Option<String>,
    /// The object's name as the connector answered it (a DN, a login).
    pub name: Option<String>,
    /// The attributes a write sent, by name (never their values).
    pub attributes: Vec<String>,
    pub duration: Duration,
    pub error: Option<ErrorRecord>,
    pub fault: Option<Fault>,
    /// Operations whose changes the call carried together, when more
    /// than this one (a membership batch).
    pub shared_by: Option<usize>,
}

/// What a call answers, as far as its audit row names it.
pub trait Answer {
    /// The name of the object the call answered with, if one.
    fn object_name(&self) -> Option<String> {
        None
    }
}

impl Answer for ConnectorObject {
    fn object_name(&self) -> Option<String> {
        Some(self.name.clone())
    }
}
impl Answer for () {}
impl Answer for crate::model::Page {}

pub struct Attempt<'a> {
    pub target: &'a Target,
    /// The password this attempt sends, kept out of the errors it records.
    scrubber: Scrubber,
    /// The version this attempt runs on, whatever is switched meanwhile.
    pub connector: Connector,
    pub store: &'a dyn Store,
    pub record: &'a OperationRecord,
    pub calls: Vec<CallLog>,
}

fn failure(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Failed(Failure::refusal(code, message))
}

/// Maps a call error to what the engine records and does.
pub fn classify(error: &CallError) -> Failure {
    let message = error.kind.to_string();
    let (code, retryable, fault, retry_after) = match &error.kind {
        CallErrorKind::Connector(e) => {
            let fault = match e {
                ConnectorError::Unavailable { .. } => Fault::Availability,
                // A target that throttles is working; the retry waits.
                ConnectorError::RateLimited { .. }
                | ConnectorError::PermissionDenied { .. }
                | ConnectorError::Failed { .. } => Fault::Target,
                _ => Fault::Request,
            };
            let after = match e {
                ConnectorError::RateLimited { retry_after_ms, .. } => {
                    Some(Duration::from_millis(*retry_after_ms))
                }
                _ => None,
            };
            (e.code(), e.is_retryable(), fault, after)
        }
        // A slow target may answer next time; a looping connector will
        // exhaust its attempts.
        CallErrorKind::Timeout(_) => ("timeout", true, Fault::Availability, None),
        CallErrorKind::Busy => ("busy", true, Fault::Request, None),
        CallErrorKind::NotSupported => ("unsupported", false, Fault::Request, None),
        CallErrorKind::MemoryLimit { .. } => ("memory-limit", false, Fault::Target, None),
        CallErrorKind::Panic { .. } => ("panic", false, Fault::Target, None),
        CallErrorKind::Trap { .. } => ("trap", false, Fault::Target, None),
        CallErrorKind::OutputTooLarge { .. } => ("output-too-large", false, Fault::Target, None),
        CallErrorKind::Instantiate(_) => ("instantiate", false, Fault::Target, None),
        CallErrorKind::Host(_) => ("host", false, Fault::Request, None),
    };
    Failure {
        error: ErrorRecord {
            code: code.into(),
            message,
            retryable,
        },
        retry_after,
        fault,
    }
}

impl<'a> Attempt<'a> {
    pub fn new(
        target: &'a Target,
        connector: Connector,
        store: &'a dyn Store,
        record: &'a OperationRecord,
    ) -> Self {
        Attempt {
            target,
            scrubber: Scrubber::default(),
            connector,
            store,
            record,
            calls: Vec::new(),
        }
    }

    /// Runs a connector call and logs it.
    async fn call<T: Answer>(
        &mut self,
        operation: &'static str,
        uid: Option<&str>,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = call.await.map_err(|e| {
            let mut failure = classify(&e);
            self.scrubber.scrub(&mut failure.error.message);
            failure
        });
        self.calls.push(CallLog {
            operation,
            uid: uid.map(str::to_owned),
            name: result.as_ref().ok().and_then(Answer::object_name),
            attributes: Vec::new(),
            duration: started.elapsed(),
            error: result.as_ref().err().map(|f| f.error.clone()),
            fault: result.as_ref().err().map(|f| f.fault),
            shared_by: None,
        });
        result
    }

    /// Names, in the last call's audit row, the attributes it wrote.
    fn wrote(&mut self, names: Vec<String>) {
        if let Some(last) = self.calls.last_mut() {
            last.attributes = names;
        }
    }

    pub async fn run(&mut self, work: Work) -> Outcome {
        self.scrubber = Scrubber::new(work.password());
        match self.run_inner(work).await {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Failed(failure),
        }
    }

    async fn run_inner(&mut self, work: Work) -> Result<Outcome, Failure> {
        let record = self.record;
        let (target, class, identity) = (
            record.target.as_str(),
            record.class.as_str(),
            record.identity.as_str(),
        );
        let link = self
            .store
            .link(target, class, identity)
            .await
            .map_err(Failure::store)?;
        if let Work::Create(attributes) = work {
            if let Some(link) = link {
                return Ok(failure(
                    "already-linked",
                    format!(
                        "identity {identity} already has account {} on target {target}; update it instead",
                        link.uid
                    ),
                ));
            }
            return self.create(attributes).await;
        }
        let Some(link) = link else {
            return Ok(failure(
                "not-linked",
                format!(
                    "identity {identity} has no account on target {target} that Provisio created or linked; \
                     Provisio changes no other account"
                ),
            ));
        };
        let uid = link.uid.as_str();
        if let Some(protection) = &self.target.policy().protection {
            let connector = self.connector.clone();
            match self
                .call(
                    "get",
                    Some(uid),
                    connector.get(class, uid, protection.attributes()),
                )
                .await
            {
                Ok(account) => {
                    if let Some(part) = protection.matched_part(&account) {
                        return Ok(failure(
                            "protected",
                            format!(
                                "account {uid} ({}) is protected on target {target}: it matches `{part}` of the protected filter; it is never changed",
                                account.name
                            ),
                        ));
                    }
                }
                Err(f) if f.error.code == "not-found" && matches!(work, Work::Delete) => {
                    return Ok(self.deleted(uid, true));
                }
                Err(f) => return Err(f),
            }
        }
        let (class, uid) = (class.to_owned(), uid.to_owned());
        match work {
            Work::Create(_) => unreachable!("handled above"),
            Work::Update(changes) if changes.iter().any(|c| c.attribute().is_secret()) => {
                self.update_keeping_enabled(&class, &uid, changes).await
            }
            Work::Update(changes) => self.update(&class, &uid, changes).await,
            Work::Enable => self.update(&class, &uid, vec![enable(true)]).await,
            Work::Disable => self.update(&class, &uid, vec![enable(false)]).await,
            Work::SetPassword(password) => {
                let change = AttributeChange::Replace(Attribute::single(
                    names::PASSWORD,
                    Value::Text(password),
                ));
                self.update_keeping_enabled(&class, &uid, vec![change])
                    .await
            }
            Work::AddMember(group) => self.membership(&class, &uid, group, true).await,
            Work::RemoveMember(group) => self.membership(&class, &uid, group, false).await,
            Work::Delete => self.delete(&class, &uid).await,
        }
    }

    async fn create(&mut self, attributes: Vec<Attribute>) -> Result<Outcome, Failure> {
        let record = self.record;
        let name = attributes
            .iter()
            .find(|a| a.is(names::NAME))
            .and_then(|a| a.values.first())
            .and_then(|v| match v {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            });
        let connector = self.connector.clone();
        // Only a later attempt may adopt what an earlier one made.
        let written = (record.attempts > 1).then(|| attributes.clone());
        let names = attribute_names(attributes.iter());
        let created = self
            .call(
                "create",
                None,
                connector.create(record.class.clone(), attributes),
            )
            .await;
        self.wrote(names);
        match created {
            Ok(object) => Ok(self.created(&object, false)),
            Err(f) if f.error.code == "already-exists" && written.is_some() => {
                // An earlier attempt started: it may have created the account
                // before the host died. Find it by name, and take it only if
                // it is provably that account.
                let Some(name) = name else { return Err(f) };
                let Some(object) = self.find_by_name(&name).await? else {
                    return Err(f);
                };
                match self.not_ours(&object, &written.unwrap_or_default()).await? {
                    None => Ok(self.created(&object, true)),
                    Some(reason) => Ok(failure(
                        "conflict",
                        format!(
                            "account {} ({}) already exists on target {} and is not provably the one this operation created: {reason}; it was left alone",
                            object.uid, object.name, record.target
                        ),
                    )),
                }
            }
            Err(f) => Err(f),
        }
    }

    /// Why `found` may not be the account this create made, if it may not.
    async fn not_ours(
        &mut self,
        found: &ConnectorObject,
        written: &[Attribute],
    ) -> Result<Option<String>, Failure> {
        let record = self.record;
        let held = self
            .store
            .link_by_uid(&record.target, &record.class, &found.uid)
            .await
            .map_err(Failure::store)?;
        if let Some(link) = held {
            return Ok(Some(format!("identity {} holds it", link.identity)));
        }
        let mut wanted: Vec<String> = written
            .iter()
            .filter(|a| !a.is_secret() && !a.is(names::NAME))
            .map(|a| a.name.clone())
            .collect();
        let protection = self.target.policy().protection.clone();
        if let Some(protection) = &protection {
            wanted.extend(protection.attributes());
        }
        let connector = self.connector.clone();
        let account = self
            .call(
                "get",
                Some(&found.uid),
                connector.get(record.class.clone(), found.uid.clone(), wanted),
            )
            .await?;
        if let Some(part) = protection.as_ref().and_then(|p| p.matched_part(&account)) {
            return Ok(Some(format!("it matches `{part}` of the protected filter")));
        }
        for attribute in written.iter().filter(|a| !a.is_secret()) {
            let expected = &attribute.values;
            let held = if attribute.is(names::NAME) {
                vec![Value::Text(account.name.clone())]
            } else {
                account
                    .attributes
                    .iter()
                    .find(|a| a.is(&attribute.name))
                    .map(|a| a.values.clone())
                    .unwrap_or_default()
            };
            if !same_values(expected, &held) {
                return Ok(Some(format!("its {} differs", attribute.name)));
            }
        }
        Ok(None)
    }

    async fn find_by_name(&mut self, name: &str) -> Result<Option<ConnectorObject>, Failure> {
        let literal = serde_json::to_string(name).expect("a string serialises");
        let request = SearchRequest {
            class: self.record.class.clone(),
            filter: Some(format!("name eq {literal}")),
            page: PageRequest {
                size: 2,
                cookie: None,
            },
            attributes: vec![],
        };
        let connector = self.connector.clone();
        let page = self.call("search", None, connector.search(request)).await?;
        Ok(match page.objects.len() {
            1 => page.objects.into_iter().next(),
            _ => None,
        })
    }

    fn created(&self, object: &ConnectorObject, recovered: bool) -> Outcome {
        let record = self.record;
        Outcome::Succeeded {
            result: json!({"uid": object.uid, "name": object.name, "recovered": recovered}),
            link: Some(LinkChange::Put(Link {
                target: record.target.clone(),
                class: record.class.clone(),
                identity: record.identity.clone(),
                uid: object.uid.clone(),
                created_by_provisio: true,
                operation_id: Some(record.id.clone()),
                linked_at: now_ms(),
            })),
        }
    }

    async fn update(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<Outcome, Failure> {
        let connector = self.connector.clone();
        let names = attribute_names(changes.iter().map(AttributeChange::attribute));
        let object = self
            .call("update", Some(uid), connector.update(class, uid, changes))
            .await;
        self.wrote(names);
        Ok(updated(&object?, None))
    }

    /// Writes a password and keeps the account enabled or disabled as it
    /// was: some targets re-enable an account when an administrator sets
    /// its password (OpenLDAP's ppolicy drops `pwdAccountLockedTime`),
    /// which would let a disabled user back in while Provisio shows the
    /// account disabled. A state the write changed is written back, and the
    /// result says so (`enable_restored`).
    async fn update_keeping_enabled(
        &mut self,
        class: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<Outcome, Failure> {
        let connector = self.connector.clone();
        let wanted = vec![names::ENABLE.to_owned()];
        let before = self
            .call("get", Some(uid), connector.get(class, uid, wanted.clone()))
            .await
            .ok()
            .and_then(|o| enabled(&o));
        let names = attribute_names(changes.iter().map(AttributeChange::attribute));
        let object = self
            .call("update", Some(uid), connector.update(class, uid, changes))
            .await;
        self.wrote(names);
        let object = object?;
        let Some(before) = before else {
            return Ok(updated(&object, None));
        };
        let after = match enabled(&object) {
            Some(after) => Some(after),
            None => self
                .call("get", Some(uid), connector.get(class, uid, wanted))
                .await
                .ok()
                .and_then(|o| enabled(&o)),
        };
        if after.is_none_or(|after| after == before) {
            return Ok(updated(&object, None));
        }
        tracing::warn!(
            target = %self.target.name,
            uid,
            "the password change {} the account; writing back __enable__ = {before}",
            if before { "disabled" } else { "re-enabled" }
        );
        let object = self
            .call(
                "update",
                Some(uid),
                connector.update(class, uid, vec![enable(before)]),
            )
            .await;
        self.wrote(vec![names::ENABLE.to_owned()]);
        Ok(updated(&object?, Some(before)))
    }

    async fn delete(&mut self, class: &str, uid: &str) -> Result<Outcome, Failure> {
        match self.target.policy().config.on_delete.clone() {
            OnDelete::Delete => {
                let connector = self.connector.clone();
                match self
                    .call("delete", Some(uid), connector.delete(class, uid))
                    .await
                {
                    Ok(()) => Ok(self.deleted(uid, false)),
                    Err(f) if f.error.code == "not-found" => Ok(self.deleted(uid, true)),
                    Err(f) => Err(f),
                }
            }
            OnDelete::Disable => self.update(class, uid, vec![enable(false)]).await,
            OnDelete::Update(values) => {
                let changes = values
                    .into_iter()
                    .map(|(name, value)| {
                        let value = match value {
                            toml::Value::Integer(i) => Value::Integer(i),
                            toml::Value::Boolean(b) => Value::Boolean(b),
                            toml::Value::String(s) => Value::Text(s),
                            other => Value::Text(other.to_string()),
                        };
                        AttributeChange::Replace(Attribute::single(name, value))
                    })
                    .collect();
                self.update(class, uid, changes).await
            }
        }
    }

    fn deleted(&self, uid: &str, already_absent: bool) -> Outcome {
        let record = self.record;
        Outcome::Succeeded {
            result: json!({"uid": uid, "deleted": true, "already_absent": already_absent}),
            link: Some(LinkChange::Remove {
                target: record.target.clone(),
                class: record.class.clone(),
                identity: record.identity.clone(),
            }),
        }
    }

    async fn membership(
        &mut self,
        class: &str,
        uid: &str,
        group: String,
        add: bool,
    ) -> Result<Outcome, Failure> {
        let name = group;
        let group = match self.group_uid(&name).await? {
            Ok(uid) => uid,
            Err(outcome) => return Ok(outcome),
        };
        let outcome = self.change_membership(class, uid, group, add).await;
        // A remembered name whose group is gone is asked for again next time.
        if let Err(f) = &outcome
            && matches!(f.error.code.as_str(), "not-found" | "invalid")
        {
            let class = match &self.target.policy().config.membership {
                MembershipMode::GroupAttribute { group_class, .. } => group_class.clone(),
                MembershipMode::AccountGroups => "group".to_owned(),
            };
            lock(&self.target.group_names).forget(&class, &name);
        }
        outcome
    }

    async fn change_membership(
        &mut self,
        class: &str,
        uid: &str,
        group: String,
        add: bool,
    ) -> Result<Outcome, Failure> {
        let change = |attribute: Attribute| {
            if add {
                AttributeChange::AddValues(attribute)
            } else {
                AttributeChange::RemoveValues(attribute)
            }
        };
        match self.target.policy().config.membership.clone() {
            MembershipMode::AccountGroups => {
                let groups = Attribute::single(names::GROUPS, Value::Reference(group));
                self.update(class, uid, vec![change(groups)]).await
            }
            MembershipMode::GroupAttribute {
                group_class,
                attribute,
            } => {
                let key = batch::Key {
                    class: group_class,
                    group,
                    attribute,
                    add,
                };
                self.batched_membership(key, uid).await
            }
        }
    }
}

impl Attempt<'_> {
    /// A change of a group's member attribute, made in one call with the
    /// same change of other members waiting for the group (see
    /// [`super::batch`]).
    async fn batched_membership(&mut self, key: batch::Key, uid: &str) -> Result<Outcome, Failure> {
        let target = self.target;
        let changed = |group: &str| Outcome::Succeeded {
            result: json!({"uid": uid, "group": group}),
            link: None,
        };
        let leadership = match target.batches.join(&key, &self.connector, uid) {
            batch::Joined::Lead(leadership) => Some(leadership),
            batch::Joined::Alone => None,
            batch::Joined::Wait(answer) => match answer.await {
                Ok(batch::Turn::Done { members, took }) => {
                    self.calls.push(CallLog {
                        operation: "update",
                        uid: Some(key.group.clone()),
                        name: None,
                        attributes: vec![key.attribute.clone()],
                        duration: took,
                        error: None,
                        fault: None,
                        shared_by: Some(members),
                    });
                    return Ok(changed(&key.group));
                }
                Ok(batch::Turn::Lead) => Some(target.batches.lead(&key)),
                Ok(batch::Turn::Alone) | Err(_) => None,
            },
        };
        let others = leadership
            .as_ref()
            .map(batch::Leadership::take)
            .unwrap_or_default();
        let members: Vec<&str> = std::iter::once(uid)
            .chain(others.iter().map(|w| w.member.as_str()))
            .collect();
        let started = Instant::now();
        let object = self.change_members(&key, &members).await;
        let took = started.elapsed();
        // The next call may start while the others hear how this one went.
        drop(leadership);
        let shared_by = members.len();
        match object {
            Ok(object) => {
                if shared_by > 1
                    && let Some(last) = self.calls.last_mut()
                {
                    last.shared_by = Some(shared_by);
                }
                for waiter in others {
                    waiter.tell(batch::Turn::Done {
                        members: shared_by,
                        took,
                    });
                }
                Ok(changed(&object.uid))
            }
            Err(f) if others.is_empty() => Err(f),
            Err(_) => {
                for waiter in others {
                    waiter.tell(batch::Turn::Alone);
                }
                let object = self.change_members(&key, &[uid]).await?;
                Ok(changed(&object.uid))
            }
        }
    }

    /// One call changing `members` in the group's member attribute.
    async fn change_members(
        &mut self,
        key: &batch::Key,
        members: &[&str],
    ) -> Result<ConnectorObject, Failure> {
        let member = Attribute {
            name: key.attribute.clone(),
            values: members
                .iter()
                .map(|m| Value::Reference((*m).to_owned()))
                .collect(),
        };
        let change = if key.add {
            AttributeChange::AddValues(member)
        } else {
            AttributeChange::RemoveValues(member)
        };
        let connector = self.connector.clone();
        let object = self
            .call(
                "update",
                Some(&key.group),
                connector.update(key.class.clone(), key.group.clone(), vec![change]),
            )
            .await;
        self.wrote(vec![key.attribute.clone()]);
        object
    }

    /// The uid of the group `group` names: a uid as it is, or else a name
    /// (`engineering`) the connector finds. An `Err` is the outcome to
    /// answer: no such group, or several of that name.
    async fn group_uid(&mut self, group: &str) -> Result<Result<String, Outcome>, Failure> {
        let capabilities = self.connector.info().capabilities;
        if !capabilities.get || !capabilities.search {
            return Ok(Ok(group.to_owned()));
        }
        let class = match &self.target.policy().config.membership {
            MembershipMode::GroupAttribute { group_class, .. } => group_class.clone(),
            MembershipMode::AccountGroups => "group".to_owned(),
        };
        if let Some(uid) = lock(&self.target.group_names).get(&class, group) {
            return Ok(Ok(uid));
        }
        let connector = self.connector.clone();
        // Only the name: a group's default attributes include its members,
        // which a large group makes expensive to read for every add.
        let only_name = || vec![names::NAME.to_owned()];
        match self
            .call(
                "get",
                Some(group),
                connector.get(&class, group, only_name()),
            )
            .await
        {
            Ok(found) => {
                lock(&self.target.group_names).put(&class, group, &found.uid);
                return Ok(Ok(found.uid));
            }
            Err(f) if f.error.code == "not-found" => {}
            Err(f) => return Err(f),
        }
        let literal = serde_json::to_string(group).expect("a string serialises");
        let request = SearchRequest {
            class: class.clone(),
            filter: Some(format!("name eq {literal}")),
            page: PageRequest {
                size: 2,
                cookie: None,
            },
            attributes: only_name(),
        };
        let page = self.call("search", None, connector.search(request)).await?;
        let target = &self.target.name;
        Ok(match page.objects.as_slice() {
            [one] => {
                lock(&self.target.group_names).put(&class, group, &one.uid);
                Ok(one.uid.clone())
            }
            [] => Err(failure(
                "not-found",
                format!("no {class} on target {target} has uid or name {group:?}"),
            )),
            several => Err(failure(
                "ambiguous",
                format!(
                    "{} {class}s on target {target} are named {group:?}; name the group by its uid ({})",
                    several.len(),
                    several
                        .iter()
                        .map(|g| g.uid.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        })
    }
}

/// Whether two value lists hold the same values, in any order.
fn same_values(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().all(|v| b.contains(v))
}

/// The names of what a write sends, for its audit row.
fn attribute_names<'a>(attributes: impl Iterator<Item = &'a Attribute>) -> Vec<String> {
    attributes.map(|a| a.name.clone()).collect()
}

/// The account's `__enable__`, when the connector reports it.
fn enabled(object: &ConnectorObject) -> Option<bool> {
    match object.attribute(names::ENABLE)?.values.first()? {
        Value::Boolean(on) => Some(*on),
        _ => None,
    }
}

/// What an update answers: the account, and the enabled state written
/// back when a password change had flipped it.
fn updated(object: &ConnectorObject, restored: Option<bool>) -> Outcome {
    let mut result = json!({"uid": object.uid, "name": object.name});
    if let Some(on) = restored {
        result["enable_restored"] = json!(on);
    }
    Outcome::Succeeded { result, link: None }
}

fn enable(on: bool) -> AttributeChange {
    AttributeChange::Replace(Attribute::single(names::ENABLE, Value::Boolean(on)))
}
