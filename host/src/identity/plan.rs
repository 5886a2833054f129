//! Planning: from what should be true about a person (the desired state,
//! the roles held, the policy maps) and what a target holds, the
//! operations that make the target agree, each with why. Planning calls
//! no connector's write operations; it only reads (through `get`, done by
//! the caller and passed in as [`Observed`]).

use super::account::AccountState;
use super::model::{DesiredState, Status};
use super::policy::{HeldRole, Policies, TargetMap};
use crate::config::{LeaverAction, LeaverNamed, Mapping, Strength};
use crate::expr::{ExprError, Form};
use crate::model::{ConnectorObject, names};
use serde::Serialize;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};

/// What the target holds for the identity, as read before planning.
#[derive(Debug, Clone)]
pub enum Read {
    /// The linked account, read back through `get`.
    Account(ConnectorObject),
    /// The link names an account the target no longer has.
    Missing,
    /// Nothing to read: no link, or a create still open.
    Nothing,
    /// The read failed (the target is down, say): planning this target waits.
    Failed(String),
}

/// A candidate value of a uniqueness rule, and why it was refused.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What a uniqueness rule chose.
#[derive(Debug, Clone, Default)]
pub struct Unique {
    /// The first free candidate (or the account's own value, kept); none
    /// when every candidate is taken.
    pub value: Option<String>,
    /// The candidates tried, in order.
    pub candidates: Vec<Candidate>,
    /// The account's value is still one of the candidates: it stays.
    pub kept: bool,
}

/// What planning one target starts from.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The uid the identity is linked to on the target.
    pub uid: Option<String>,
    pub read: Read,
    /// What Provisio last asked the target for.
    pub previous: Option<AccountState>,
    /// A create from the last plan has not ended yet.
    pub creating: bool,
    /// What each uniqueness rule chose, by attribute.
    pub unique: BTreeMap<String, Unique>,
}

/// What a target's plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Deprovision,
    /// Nothing to do: the target agrees.
    None,
    /// Nothing is planned until the reason goes away.
    Held,
}

/// One operation of a plan: the request the engine gets (without the
/// identity and class, which are the plan's), and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedOperation {
    #[schema(value_type = Object)]
    pub request: Json,
    pub why: String,
}

/// Why a planned value is what it is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValueExplained {
    pub attribute: String,
    /// The value the mapping gives (`null`: no value).
    #[schema(value_type = Object)]
    pub value: Json,
    pub form: Form,
    /// The template or expression.
    pub source: String,
    /// What it read, with the values it saw.
    #[schema(value_type = Object)]
    pub inputs: BTreeMap<String, Json>,
    pub strength: Strength,
    pub create_only: bool,
    /// What the target holds (when it was read).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Json>,
    /// What planning does with it and why.
    pub decision: String,
    /// For a uniqueness rule: the candidates tried and why each was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// Why a group is in the plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupExplained {
    pub group: String,
    /// The roles that give it (none: only an earlier plan gave it).
    pub granted_by: Vec<String>,
    pub decision: String,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Why the identity has (or has no) account here.
    pub entitlement: Vec<String>,
    pub values: Vec<ValueExplained>,
    pub groups: Vec<GroupExplained>,
}

/// One target's part of a plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetPlan {
    pub target: String,
    pub class: String,
    pub action: Action,
    /// The plan in a sentence.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub operations: Vec<PlannedOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explanation>,
    /// Leaver steps still to come, with when.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scheduled: Vec<ScheduledStep>,
    /// The account record to store once the operations are submitted.
    #[serde(skip)]
    pub next: Option<AccountState>,
    /// When this target's plan changes by itself (a leaver step is due).
    #[serde(skip)]
    pub next_review_ms: Option<i64>,
}

/// A leaver step to come.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduledStep {
    /// Its place in the schedule, from 1.
    pub step: usize,
    pub action: String,
    pub at: String,
}

/// A plan that could not be made: an expression failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {error}")]
pub struct PlanError {
    pub target: Option<String>,
    /// The configuration key of the expression.
    pub key: String,
    pub error: ExprError,
}

/// A value as the texts it compares by: a list sorted, no value empty.
fn canonical(value: &Json) -> Vec<String> {
    let one = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Object(map) if map.len() == 1 => map
            .values()
            .next()
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    };
    let mut texts: Vec<String> = match value {
        Json::Null => Vec::new(),
        Json::Array(items) => items.iter().map(one).filter(|s| !s.is_empty()).collect(),
        other => Some(one(other))
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect(),
    };
    texts.sort();
    texts
}

/// `null` for what holds no value ("" and []), else the value.
fn present(value: Json) -> Json {
    if canonical(&value).is_empty() {
        Json::Null
    } else {
        value
    }
}

/// What the target holds for an attribute, as JSON (`__name__` is the
/// object's name).
pub(super) fn held(object: &ConnectorObject, attribute: &str) -> Json {
    if attribute.eq_ignore_ascii_case(names::NAME) {
        return Json::String(object.name.clone());
    }
    match object.attribute(attribute) {
        None => Json::Null,
        Some(a) => match a.values.as_slice() {
            [] => Json::Null,
            [one] => serde_json::to_value(one).unwrap_or_default(),
            many => serde_json::to_value(many).unwrap_or_default(),
        },
    }
}

fn path<'a>(context: &'a Json, dotted: &str) -> &'a Json {
    dotted
        .split('.')
        .try_fold(context, |at, part| at.get(part))
        .unwrap_or(&Json::Null)
}

/// Everything planning one identity needs besides the target reads.
pub struct Planning<'a> {
    pub policies: &'a Policies,
    pub state: &'a DesiredState,
    pub roles: &'a [HeldRole],
    pub context: &'a crate::expr::Context,
    pub now: &'a str,
    pub now_ms: i64,
    pub explain: bool,
}

impl Planning<'_> {
    fn fail(&self, map: &TargetMap, key: String, error: ExprError) -> PlanError {
        PlanError {
            target: Some(map.target.clone()),
            key,
            error,
        }
    }

    /// The plan for one target.
    pub fn target(&self, map: &TargetMap, observed: &Observed) -> Result<TargetPlan, PlanError> {
        let t = &map.target;
        let status = self.state.status_at(self.now);
        let mut entitlement = Vec::new();
        let in_scope = match &map.accounts.scope {
            None => true,
            Some(scope) => {
                let holds = self
                    .policies
                    .expressions
                    .holds_in(scope, self.context)
                    .map_err(|e| self.fail(map, format!("targets.{t}.accounts.scope"), e))?;
                entitlement.push(format!(
                    "the scope `{scope}` {}",
                    if holds { "holds" } else { "does not hold" }
                ));
                holds
            }
        };
        // The roles that give an account here, the default role first.
        let mut giving: Vec<String> = Vec::new();
        if let Some(default) = &map.accounts.default_role {
            giving.push(default.clone());
            entitlement.push(format!("`{default}` is the target's default role"));
        }
        for held in self.roles {
            let gives = self
                .policies
                .roles
                .get(&held.role)
                .is_some_and(|r| r.targets.contains_key(t));
            if gives && !giving.contains(&held.role) {
                giving.push(held.role.clone());
                entitlement.push(match &held.when {
                    Some(when) => format!(
                        "role `{}` (birthright: `{when}`) gives an account",
                        held.role
                    ),
                    None => format!("role `{}` gives an account", held.role),
                });
            }
        }
        if giving.is_empty() {
            entitlement.push("no role the identity holds gives an account here".into());
        }
        if status == Status::Terminated {
            entitlement.push(match &self.state.end_date {
                Some(end) if self.state.status != Status::Terminated => {
                    format!("the identity is terminated (its end date {end} has passed)")
                }
                _ => "the identity is terminated".into(),
            });
        }
        let entitled = status != Status::Terminated && in_scope && !giving.is_empty();
        let enabled = status == Status::Active && self.state.started_at(self.now);
        if entitled && !enabled {
            entitlement.push(if status == Status::Suspended {
                "the identity is suspended: its account is kept disabled".into()
            } else {
                format!(
                    "the identity starts on {}: its account is kept disabled until then",
                    self.state.start_date.as_deref().unwrap_or_default()
                )
            });
        }

        let previous = observed.previous.clone().unwrap_or_default();
        let exists = observed.uid.is_some() || observed.creating;
        let mut plan = TargetPlan {
            target: t.clone(),
            class: map.class.clone(),
            action: Action::None,
            reason: String::new(),
            uid: observed.uid.clone(),
            operations: Vec::new(),
            explain: None,
            scheduled: Vec::new(),
            next: None,
            next_review_ms: None,
        };
        let mut explanation = Explanation {
            entitlement,
            ..Explanation::default()
        };

        if let Read::Failed(why) = &observed.read {
            plan.action = Action::Held;
            plan.reason = format!("the account could not be read, so nothing is planned: {why}");
            plan.explain = self.explain.then_some(explanation);
            return Ok(plan);
        }
        if entitled && matches!(observed.read, Read::Missing) {
            plan.action = Action::Held;
            plan.reason = format!(
                "the linked account {} is no longer on the target; nothing is planned until it is relinked or the link is removed",
                observed.uid.as_deref().unwrap_or_default()
            );
            plan.explain = self.explain.then_some(explanation);
            return Ok(plan);
        }

        if !entitled && !map.accounts.leaver.is_empty() {
            let leaving = previous.provisioned
                || (observed.previous.is_none() && observed.uid.is_some())
                || (previous.deprovisioned_at.is_some()
                    && previous.leaver_done < map.accounts.leaver.len());
            if exists && leaving && !matches!(observed.read, Read::Missing) {
                self.leaver_steps(map, &previous, &mut plan, &mut explanation);
            } else {
                plan.reason = if exists {
                    "the leaver schedule is done".into()
                } else {
                    "no account, and none is wanted".into()
                };
            }
            plan.explain = self.explain.then_some(explanation);
            return Ok(plan);
        }

        if !entitled {
            let ours =
                previous.provisioned || (observed.previous.is_none() && observed.uid.is_some());
            if exists && ours && !matches!(observed.read, Read::Missing) {
                plan.action = Action::Deprovision;
                for group in &previous.groups {
                    plan.operations.push(PlannedOperation {
                        request: json!({"kind": "remove-member", "group": group}),
                        why: "the group was given by a role; the account is deprovisioned".into(),
                    });
                    explanation.groups.push(GroupExplained {
                        group: group.clone(),
                        granted_by: Vec::new(),
                        decision: "removed: the account is deprovisioned".into(),
                    });
                }
                plan.operations.push(PlannedOperation {
                    request: json!({"kind": "delete"}),
                    why: format!(
                        "deprovisioned per the target's on_delete ({})",
                        on_delete_name(map)
                    ),
                });
                plan.reason = format!(
                    "deprovision the account ({}): {}",
                    on_delete_name(map),
                    explanation.entitlement.last().cloned().unwrap_or_default()
                );
                plan.next = Some(AccountState {
                    provisioned: false,
                    enabled: false,
                    attributes: previous.attributes.clone(),
                    groups: BTreeSet::new(),
                    operations: Vec::new(),
                    generation: previous.generation + 1,
                    deprovisioned_at: Some(self.now_ms),
                    leaver_done: 0,
                });
            } else {
                plan.reason = if exists && !ours {
                    "the account was deprovisioned already".into()
                } else {
                    "no account, and none is wanted".into()
                };
            }
            plan.explain = self.explain.then_some(explanation);
            return Ok(plan);
        }

        // Entitled: the values and groups the account should have.
        let mut values: Vec<(String, &Mapping, Json)> = Vec::new();
        for (attribute, mapping) in &map.accounts.attributes {
            let key = format!("targets.{t}.accounts.attributes.{attribute}");
            let (form, text) = mapping
                .source()
                .map_err(|e| self.fail(map, key.clone(), ExprError::from_message(e)))?;
            if mapping.unique().is_some() {
                let chosen = observed.unique.get(attribute);
                match chosen.and_then(|u| u.value.clone()) {
                    Some(value) => values.push((attribute.clone(), mapping, Json::String(value))),
                    None => {
                        let tried: Vec<String> = chosen
                            .map(|u| {
                                u.candidates
                                    .iter()
                                    .map(|c| {
                                        format!(
                                            "{} ({})",
                                            c.value,
                                            c.refused.as_deref().unwrap_or("not tried")
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        plan.action = Action::Held;
                        plan.reason = format!(
                            "every candidate for {attribute} is taken, so the account waits: {}",
                            if tried.is_empty() {
                                "no candidate gives a value".to_owned()
                            } else {
                                tried.join(", ")
                            }
                        );
                        plan.explain = self.explain.then_some(explanation);
                        return Ok(plan);
                    }
                }
                continue;
            }
            let value = self
                .policies
                .expressions
                .evaluate_in(form, text, self.context)
                .map_err(|e| self.fail(map, key, e))?;
            values.push((attribute.clone(), mapping, present(value)));
        }
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for role in &giving {
            let Some(gives) = self.policies.roles.get(role).and_then(|r| r.targets.get(t)) else {
                continue;
            };
            for (i, template) in gives.groups.iter().enumerate() {
                let rendered = self
                    .policies
                    .expressions
                    .evaluate_in(Form::Template, template, self.context)
                    .map_err(|e| {
                        self.fail(map, format!("roles.{role}.targets.{t}.groups[{i}]"), e)
                    })?;
                let group = rendered.as_str().unwrap_or_default().trim().to_owned();
                if !group.is_empty() {
                    groups.entry(group).or_default().push(role.clone());
                }
            }
        }
        let explained = |attribute: &str,
                         mapping: &Mapping,
                         value: &Json,
                         current: Option<Json>,
                         decision: String| {
            let (form, text) = mapping.source().unwrap_or((Form::Template, ""));
            let inputs = self
                .policies
                .expressions
                .inputs(form, text)
                .into_iter()
                .map(|name| {
                    let seen = path(self.context.json(), &name).clone();
                    (name, seen)
                })
                .collect();
            ValueExplained {
                attribute: attribute.to_owned(),
                value: value.clone(),
                form,
                source: text.to_owned(),
                inputs,
                strength: mapping.strength(),
                create_only: mapping.create_only(),
                current,
                decision,
                candidates: observed
                    .unique
                    .get(attribute)
                    .map(|u| u.candidates.clone())
                    .unwrap_or_default(),
            }
        };

        let mut next = AccountState {
            provisioned: true,
            enabled,
            attributes: BTreeMap::new(),
            groups: groups.keys().cloned().collect(),
            operations: Vec::new(),
            generation: previous.generation + 1,
            deprovisioned_at: None,
            leaver_done: 0,
        };

        if !exists {
            plan.action = Action::Create;
            let mut attributes = serde_json::Map::new();
            for (attribute, mapping, value) in &values {
                let decision = if value.is_null() {
                    "not written: the mapping gives no value".to_owned()
                } else {
                    attributes.insert(attribute.clone(), value.clone());
                    next.attributes.insert(attribute.clone(), value.clone());
                    "written when the account is created".to_owned()
                };
                explanation
                    .values
                    .push(explained(attribute, mapping, value, None, decision));
            }
            // Created enabled or not in one step: a target that cannot
            // say whether an account is enabled cannot carry a status.
            attributes.insert(names::ENABLE.into(), Json::Bool(enabled));
            if map.accounts.initial_password == crate::config::InitialPassword::Random {
                explanation.values.push(ValueExplained {
                    attribute: names::PASSWORD.into(),
                    value: Json::String("***".into()),
                    form: Form::Template,
                    source: String::new(),
                    inputs: BTreeMap::new(),
                    strength: Strength::Strong,
                    create_only: true,
                    current: None,
                    decision: "a random initial password (initial_password = \"random\"), added when the create is submitted and never shown".into(),
                    candidates: Vec::new(),
                });
            }
            plan.operations.push(PlannedOperation {
                request: json!({"kind": "create", "attributes": attributes}),
                why: if enabled {
                    "the identity is entitled to an account and has none".into()
                } else {
                    format!(
                        "the identity is entitled to an account and has none; created disabled: {}",
                        explanation.entitlement.last().cloned().unwrap_or_default()
                    )
                },
            });
            for (group, by) in &groups {
                plan.operations.push(PlannedOperation {
                    request: json!({"kind": "add-member", "group": group}),
                    why: format!("given by {}", roles_list(by)),
                });
                explanation.groups.push(GroupExplained {
                    group: group.clone(),
                    granted_by: by.clone(),
                    decision: "added".into(),
                });
            }
            plan.reason = format!("create the account: {}", explanation.entitlement.join("; "));
            plan.next = Some(next);
            plan.explain = self.explain.then_some(explanation);
            return Ok(plan);
        }

        // The account exists (or is being created): bring it in line.
        let read = match &observed.read {
            Read::Account(object) => Some(object),
            _ => None,
        };
        let mut changes = Vec::new();
        for (attribute, mapping, value) in &values {
            let current = match read {
                Some(object) => held(object, attribute),
                None => previous
                    .attributes
                    .get(attribute)
                    .cloned()
                    .unwrap_or(Json::Null),
            };
            let differs = canonical(value) != canonical(&current);
            let kept = observed.unique.get(attribute).is_some_and(|u| u.kept);
            let decision = if kept {
                next.attributes.insert(attribute.clone(), current.clone());
                "unchanged: the account's value is still one of the rule's candidates".to_owned()
            } else if mapping.create_only() {
                if let Some(written) = previous.attributes.get(attribute) {
                    next.attributes.insert(attribute.clone(), written.clone());
                }
                "kept: create_only values are written once, when the account is created".to_owned()
            } else if !differs {
                if !value.is_null() {
                    next.attributes.insert(attribute.clone(), value.clone());
                }
                "unchanged: the target holds this value".to_owned()
            } else if mapping.strength() == Strength::Weak && !current.is_null() {
                "kept: a weak mapping writes only when the target has no value".to_owned()
            } else {
                if !value.is_null() {
                    next.attributes.insert(attribute.clone(), value.clone());
                }
                changes.push(json!({"op": "replace", "name": attribute, "values": value}));
                if value.is_null() {
                    "cleared: the mapping gives no value".to_owned()
                } else {
                    "replaced: the target holds another value".to_owned()
                }
            };
            let shown = read.map(|_| current);
            explanation
                .values
                .push(explained(attribute, mapping, value, shown, decision));
        }
        if !changes.is_empty() {
            let names: Vec<&str> = changes.iter().filter_map(|c| c["name"].as_str()).collect();
            plan.operations.push(PlannedOperation {
                why: format!("the policy map gives other values for {}", names.join(", ")),
                request: json!({"kind": "update", "changes": changes}),
            });
        }
        let enabled_now = match read.and_then(|o| o.attribute(names::ENABLE)) {
            Some(attribute) => attribute
                .values
                .first()
                .map(|v| matches!(v, crate::model::Value::Boolean(true))),
            None => None,
        }
        .unwrap_or(previous.enabled && previous.provisioned);
        if enabled != enabled_now {
            plan.operations.push(PlannedOperation {
                request: json!({"kind": if enabled { "enable" } else { "disable" }}),
                why: if enabled {
                    if previous.provisioned {
                        "the identity is active".into()
                    } else {
                        "the identity is active again: its deprovisioned account is restored".into()
                    }
                } else {
                    explanation.entitlement.last().cloned().unwrap_or_default()
                },
            });
        }
        let given: BTreeSet<String> = if previous.provisioned {
            previous.groups.clone()
        } else {
            BTreeSet::new()
        };
        for group in given.iter().filter(|g| !groups.contains_key(*g)) {
            plan.operations.push(PlannedOperation {
                request: json!({"kind": "remove-member", "group": group}),
                why: "no role the identity holds gives this group any more".into(),
            });
            explanation.groups.push(GroupExplained {
                group: group.clone(),
                granted_by: Vec::new(),
                decision: "removed: no role gives it any more".into(),
            });
        }
        for (group, by) in &groups {
            let decision = if given.contains(group) {
                "kept: already given".to_owned()
            } else {
                plan.operations.push(PlannedOperation {
                    request: json!({"kind": "add-member", "group": group}),
                    why: format!("given by {}", roles_list(by)),
                });
                "added".to_owned()
            };
            explanation.groups.push(GroupExplained {
                group: group.clone(),
                granted_by: by.clone(),
                decision,
            });
        }
        if plan.operations.is_empty() {
            plan.reason = "the account agrees with the policy map".into();
            // Nothing submitted: the record stays as it was.
            plan.next = (observed.previous.as_ref()
                != Some(&AccountState {
                    generation: previous.generation,
                    operations: previous.operations.clone(),
                    deprovisioned_at: previous.deprovisioned_at,
                    ..next.clone()
                }))
            .then(|| AccountState {
                generation: previous.generation,
                operations: previous.operations.clone(),
                deprovisioned_at: previous.deprovisioned_at,
                ..next
            });
        } else {
            plan.action = Action::Update;
            let kinds: Vec<&str> = plan
                .operations
                .iter()
                .filter_map(|o| o.request["kind"].as_str())
                .collect();
            plan.reason = format!("update the account: {}", kinds.join(", "));
            plan.next = Some(next);
        }
        plan.explain = self.explain.then_some(explanation);
        Ok(plan)
    }
}

impl Planning<'_> {
    /// A leaver's account under the target's leaver schedule: the steps
    /// whose time has come (counted from when the person left), and the
    /// rest scheduled.
    fn leaver_steps(
        &self,
        map: &TargetMap,
        previous: &AccountState,
        plan: &mut TargetPlan,
        explanation: &mut Explanation,
    ) {
        let schedule = &map.accounts.leaver;
        // Leaving now, or a schedule under way since it began.
        let (left_at, mut done) = match (previous.provisioned, previous.deprovisioned_at) {
            (false, Some(at)) => (at, previous.leaver_done),
            _ => (self.now_ms, 0),
        };
        let mut next = AccountState {
            provisioned: false,
            enabled: previous.enabled && previous.provisioned,
            attributes: previous.attributes.clone(),
            groups: previous.groups.clone(),
            operations: Vec::new(),
            generation: previous.generation + 1,
            deprovisioned_at: Some(left_at),
            leaver_done: done,
        };
        let at = |step: &crate::config::LeaverStep| {
            left_at.saturating_add(i64::try_from(step.after.as_millis()).unwrap_or(i64::MAX))
        };
        let mut ran = Vec::new();
        while let Some(step) = schedule.get(done) {
            if at(step) > self.now_ms {
                break;
            }
            let why = format!(
                "leaver step {} of {} ({}, {} after leaving)",
                done + 1,
                schedule.len(),
                step.action.name(),
                humantime::format_duration(step.after)
            );
            match &step.action {
                LeaverAction::Named(LeaverNamed::Disable) => {
                    if next.enabled || previous.provisioned {
                        plan.operations.push(PlannedOperation {
                            request: json!({"kind": "disable"}),
                            why,
                        });
                    }
                    next.enabled = false;
                }
                LeaverAction::Named(LeaverNamed::RemoveGroups) => {
                    for group in &next.groups {
                        plan.operations.push(PlannedOperation {
                            request: json!({"kind": "remove-member", "group": group}),
                            why: why.clone(),
                        });
                        explanation.groups.push(GroupExplained {
                            group: group.clone(),
                            granted_by: Vec::new(),
                            decision: format!("removed: {why}"),
                        });
                    }
                    next.groups.clear();
                }
                LeaverAction::Named(LeaverNamed::Delete) => {
                    plan.operations.push(PlannedOperation {
                        request: json!({"kind": "delete"}),
                        why: format!("{why}; the target's on_delete is {}", on_delete_name(map)),
                    });
                }
                LeaverAction::Update { update } => {
                    let changes: Vec<Json> = update
                        .iter()
                        .map(|(name, value)| {
                            json!({"op": "replace", "name": name,
                                   "values": serde_json::to_value(value).unwrap_or_default()})
                        })
                        .collect();
                    plan.operations.push(PlannedOperation {
                        request: json!({"kind": "update", "changes": changes}),
                        why,
                    });
                }
            }
            ran.push(step.action.name());
            done += 1;
        }
        next.leaver_done = done;
        plan.scheduled = schedule[done..]
            .iter()
            .enumerate()
            .map(|(i, step)| ScheduledStep {
                step: done + i + 1,
                action: step.action.name().to_owned(),
                at: crate::expr::date_of_ms(at(step)),
            })
            .collect();
        plan.next_review_ms = schedule.get(done).map(at);
        plan.action = if plan.operations.is_empty() {
            Action::None
        } else {
            Action::Deprovision
        };
        let left = crate::expr::date_of_ms(left_at);
        plan.reason = match (ran.is_empty(), plan.scheduled.first()) {
            (false, Some(next)) => format!(
                "leaver (left {left}): {} now; next {} at {}",
                ran.join(", "),
                next.action,
                next.at
            ),
            (false, None) => format!(
                "leaver (left {left}): {}; the schedule is done",
                ran.join(", ")
            ),
            (true, Some(next)) => {
                format!("leaver (left {left}): next {} at {}", next.action, next.at)
            }
            (true, None) => "the leaver schedule is done".into(),
        };
        plan.next = Some(next);
    }
}

fn roles_list(roles: &[String]) -> String {
    let quoted: Vec<String> = roles.iter().map(|r| format!("role `{r}`")).collect();
    quoted.join(" and ")
}

fn on_delete_name(map: &TargetMap) -> &'static str {
    match map.on_delete {
        crate::config::OnDelete::Delete => "delete",
        crate::config::OnDelete::Disable => "disable",
        crate::config::OnDelete::Update(_) => "update",
    }
}
