//! One account's situation, and what its reaction would submit: a linked
//! account is compared with the identity's plan made against the account
//! as the page read it (no `get`); an unlinked one is correlated.

use super::index::{Correlation, Links, Matched, texts};
use super::model::{Diff, Item};
use crate::config::{Reaction, Situation};
use crate::identity::{Expectations, Identities, IdentityError, TargetPlan};
use crate::model::ConnectorObject;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};

/// Everything classifying needs for one run.
pub struct Classifier<'a> {
    pub identities: &'a Identities,
    pub target: &'a str,
    pub links: &'a Links,
    pub correlation: &'a Correlation,
    pub reactions: &'a BTreeMap<Situation, Reaction>,
    /// The attributes the run read (what applying compares).
    pub attributes: &'a [String],
    /// Identities an unlinked account of this run already matched.
    pub claimed: HashMap<String, String>,
    /// The linked identities of the page being classified, read at once.
    pub expectations: Option<Expectations>,
    /// The reference time of every plan the run makes: its start.
    pub now_ms: i64,
}

/// An orphan's stand-in identity: operations address accounts through a
/// link, so disabling or deleting an account nobody owns links it to this
/// first (the audit log shows who did it and why).
pub fn orphan_identity(uid: &str) -> String {
    format!("{}{uid}", crate::identity::ORPHAN_PREFIX)
}

impl Classifier<'_> {
    fn reaction(&self, situation: Situation) -> Reaction {
        self.reactions
            .get(&situation)
            .copied()
            .unwrap_or(Reaction::Report)
    }

    fn read(&self, account: &ConnectorObject) -> BTreeMap<String, Vec<String>> {
        let mut read: BTreeMap<String, Vec<String>> = self
            .attributes
            .iter()
            .map(|a| (a.clone(), texts(account, a)))
            .collect();
        read.insert(
            crate::model::names::NAME.to_owned(),
            vec![account.name.clone()],
        );
        read
    }

    fn item(&self, situation: Situation, account: &ConnectorObject, why: String) -> Item {
        Item {
            situation,
            uid: account.uid.clone(),
            name: Some(account.name.clone()),
            identity: None,
            candidates: Vec::new(),
            why,
            reaction: self.reaction(situation),
            diffs: Vec::new(),
            operations: Vec::new(),
            read: self.read(account),
            outcome: None,
        }
    }

    /// Reads at once what classifying `accounts` needs of their linked
    /// identities.
    pub async fn prepare(&mut self, accounts: &[ConnectorObject]) -> Result<(), IdentityError> {
        let ids: Vec<String> = accounts
            .iter()
            .filter_map(|a| self.links.identity_of(&a.uid).map(str::to_owned))
            .collect();
        self.expectations = Some(
            self.identities
                .expectations(self.target, ids, self.now_ms)
                .await?,
        );
        Ok(())
    }

    /// The situation of an account the target holds.
    pub async fn account(
        &mut self,
        account: ConnectorObject,
        protected: Option<String>,
    ) -> Result<Item, IdentityError> {
        if let Some(part) = protected {
            let mut item = self.item(
                Situation::Protected,
                &account,
                format!("it matches `{part}` of the target's protected filter"),
            );
            item.identity = self.links.identity_of(&account.uid).map(str::to_owned);
            return Ok(item);
        }
        if let Some(identity) = self.links.identity_of(&account.uid).map(str::to_owned) {
            return self.linked(identity, account).await;
        }
        let (situation, identity, candidates, why) = match self.correlation.find(&account) {
            Matched::None => (
                Situation::Unmatched,
                None,
                Vec::new(),
                "not linked, and no identity matches a correlation rule".to_owned(),
            ),
            Matched::Several(several) => (
                Situation::Disputed,
                None,
                several.clone(),
                format!(
                    "not linked, and {} identities match: {}",
                    several.len(),
                    several.join(", ")
                ),
            ),
            Matched::One(identity) => {
                let holder = self
                    .links
                    .uid_of(&identity)
                    .map(str::to_owned)
                    .or_else(|| self.claimed.get(&identity).cloned());
                match holder {
                    Some(other) => (
                        Situation::Collision,
                        Some(identity.clone()),
                        vec![other.clone()],
                        format!(
                            "it matches identity {identity}, which already has account {other} here"
                        ),
                    ),
                    None => {
                        self.claimed.insert(identity.clone(), account.uid.clone());
                        (
                            Situation::Unlinked,
                            Some(identity.clone()),
                            Vec::new(),
                            format!("not linked; it matches identity {identity}"),
                        )
                    }
                }
            }
        };
        let mut item = self.item(situation, &account, why);
        item.identity = identity;
        item.candidates = candidates;
        if let Some(kind) = match item.reaction {
            Reaction::Disable => Some("disable"),
            Reaction::Delete => Some("delete"),
            _ => None,
        } {
            item.operations = vec![json!({"kind": kind})];
        }
        Ok(item)
    }

    async fn linked(
        &self,
        identity: String,
        account: ConnectorObject,
    ) -> Result<Item, IdentityError> {
        let mut item = self.item(Situation::InSync, &account, String::new());
        item.identity = Some(identity.clone());
        let plan = match &self.expectations {
            Some(expectations) => {
                self.identities
                    .plan_against(expectations, &identity, self.target, Some(account))
                    .await?
            }
            None => {
                let expectations = self
                    .identities
                    .expectations(self.target, vec![identity.clone()], self.now_ms)
                    .await?;
                self.identities
                    .plan_against(&expectations, &identity, self.target, Some(account))
                    .await?
            }
        };
        let Some(plan) = plan else {
            item.why = format!(
                "linked to {identity}, for which no policy map says anything: nothing is expected"
            );
            item.reaction = Reaction::Report;
            return Ok(item);
        };
        if plan.operations.is_empty() {
            item.why = format!("linked to {identity}; {}", plan.reason);
            item.reaction = self.reaction(Situation::InSync);
            return Ok(item);
        }
        item.situation = Situation::Drifted;
        item.reaction = self.reaction(Situation::Drifted);
        let whys: Vec<&str> = plan.operations.iter().map(|o| o.why.as_str()).collect();
        item.why = format!("linked to {identity}; {}", whys.join("; "));
        item.diffs = diffs(&plan);
        item.operations = plan.operations.iter().map(|o| o.request.clone()).collect();
        Ok(item)
    }

    /// A link whose account the target no longer has.
    pub async fn deleted(&self, identity: &str, uid: &str) -> Result<Item, IdentityError> {
        let expectations = self
            .identities
            .expectations(self.target, vec![identity.to_owned()], self.now_ms)
            .await?;
        let plan = self
            .identities
            .plan_against(&expectations, identity, self.target, None)
            .await?;
        let mut item = Item {
            situation: Situation::Deleted,
            uid: uid.to_owned(),
            name: None,
            identity: Some(identity.to_owned()),
            candidates: Vec::new(),
            why: format!("linked to {identity}, but the target has no account {uid}"),
            reaction: self.reaction(Situation::Deleted),
            diffs: Vec::new(),
            operations: Vec::new(),
            read: BTreeMap::new(),
            outcome: None,
        };
        match plan {
            Some(plan)
                if plan
                    .operations
                    .first()
                    .is_some_and(|o| o.request["kind"] == "create") =>
            {
                item.why.push_str("; the policy map wants it");
                item.operations = plan.operations.iter().map(|o| o.request.clone()).collect();
            }
            Some(plan) => {
                item.why.push_str(&format!("; {}", plan.reason));
            }
            None => item.why.push_str("; no policy map says it should exist"),
        }
        Ok(item)
    }
}

/// What differs, from the plan's explanation: each value it replaces or
/// clears with what the account holds, an enable or disable, and each
/// group it adds or removes.
fn diffs(plan: &TargetPlan) -> Vec<Diff> {
    let mut diffs = Vec::new();
    if let Some(explain) = &plan.explain {
        for value in &explain.values {
            if value.decision.starts_with("replaced") || value.decision.starts_with("cleared") {
                diffs.push(Diff {
                    attribute: value.attribute.clone(),
                    expected: value.value.clone(),
                    actual: value.current.clone().unwrap_or(Json::Null),
                });
            }
        }
    }
    for operation in &plan.operations {
        let request = &operation.request;
        match request["kind"].as_str() {
            Some("enable") | Some("disable") => diffs.push(Diff {
                attribute: crate::model::names::ENABLE.to_owned(),
                expected: json!(request["kind"] == "enable"),
                actual: json!(request["kind"] != "enable"),
            }),
            Some("add-member") => diffs.push(Diff {
                attribute: crate::model::names::GROUPS.to_owned(),
                expected: request["group"].clone(),
                actual: Json::Null,
            }),
            Some("remove-member") => diffs.push(Diff {
                attribute: crate::model::names::GROUPS.to_owned(),
                expected: Json::Null,
                actual: request["group"].clone(),
            }),
            Some("delete") => diffs.push(Diff {
                attribute: "(account)".into(),
                expected: json!("deprovisioned"),
                actual: json!("exists"),
            }),
            _ => {}
        }
    }
    diffs
}
