//! Uniqueness rules: candidate values tried in order until one is free,
//! asked of the target through its connector's `search` and checked
//! against what is already planned (two Will Smiths planned together get
//! `smithw` and `smithw2`). Generic: any connector that can search works.

use super::error::IdentityError;
use super::plan::{Candidate, Observed, Read, Unique};
use super::policy::TargetMap;
use crate::engine::Engine;
use crate::expr::{Expressions, Form};
use crate::model::{PageRequest, SearchRequest, names};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a value chosen for a plan is kept from others: long enough
/// for its create to run (after which the target itself says it is
/// taken).
const CLAIM_TTL: Duration = Duration::from_secs(15 * 60);

/// A claimed value: (target, attribute, value in lower case).
type ClaimKey = (String, String, String);

/// Values chosen by plans: which identity has each, until when.
#[derive(Default)]
pub struct Claims {
    held: Mutex<HashMap<ClaimKey, (String, Instant)>>,
}

impl Claims {
    /// The other identity that has claimed `value`, if one has; else,
    /// with `claim`, claims it for `id` (one step, so two plans made at
    /// once cannot both take it).
    fn take(
        &self,
        (target, attribute, value): (&str, &str, &str),
        id: &str,
        claim: bool,
    ) -> Option<String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let key = (
            target.to_owned(),
            attribute.to_owned(),
            value.to_lowercase(),
        );
        if let Some((holder, until)) = held.get(&key)
            && *until > now
            && holder != id
        {
            return Some(holder.clone());
        }
        if claim {
            if held.len() > 100_000 {
                held.retain(|_, (_, until)| *until > now);
            }
            held.insert(key, (id.to_owned(), now + CLAIM_TTL));
        }
        None
    }
}

/// A SCIM filter matching `attribute` equal to `value` (`__name__` is
/// `name` in filters: SCIM attribute names start with a letter).
fn equals(attribute: &str, value: &str) -> String {
    let attribute = if attribute.eq_ignore_ascii_case(names::NAME) {
        "name"
    } else {
        attribute
    };
    format!(
        "{attribute} eq {}",
        serde_json::to_string(value).unwrap_or_default()
    )
}

/// Every value the rule's candidates give, in the order they are tried.
fn candidates(
    expressions: &Expressions,
    map: &TargetMap,
    attribute: &str,
    templates: &[String],
    max_counter: u32,
    context: &Json,
) -> Result<Vec<String>, IdentityError> {
    let mut values = Vec::new();
    for (i, template) in templates.iter().enumerate() {
        let counted = expressions
            .inputs(Form::Template, template)
            .iter()
            .any(|name| name == "n");
        let counters: Vec<Option<u32>> = if counted {
            (2..=max_counter).map(Some).collect()
        } else {
            vec![None]
        };
        for n in counters {
            let mut context = context.clone();
            if let (Some(n), Some(object)) = (n, context.as_object_mut()) {
                object.insert("n".into(), Json::from(n));
            }
            let value = expressions
                .evaluate(Form::Template, template, &context)
                .map_err(|error| super::plan::PlanError {
                    target: Some(map.target.clone()),
                    key: format!(
                        "targets.{}.accounts.attributes.{attribute}.unique[{i}]",
                        map.target
                    ),
                    error,
                })?;
            let value = value.as_str().unwrap_or_default().trim().to_owned();
            if !value.is_empty() && !values.contains(&value) {
                values.push(value);
            }
        }
    }
    Ok(values)
}

/// What each uniqueness rule of `map` gives the identity: the account's
/// own value while it is still a candidate, else the first candidate no
/// other account holds and no other plan claimed (`claim`: claim it).
pub async fn choose(
    engine: &Engine,
    expressions: &Expressions,
    claims: &Claims,
    (id, map, observed, context): (&str, &TargetMap, &Observed, &Json),
    claim: bool,
) -> Result<BTreeMap<String, Unique>, IdentityError> {
    let mut chosen = BTreeMap::new();
    for (attribute, mapping) in &map.accounts.attributes {
        let Some((templates, max_counter)) = mapping.unique() else {
            continue;
        };
        let values = candidates(expressions, map, attribute, templates, max_counter, context)?;
        let current = match &observed.read {
            Read::Account(object) => super::plan::held(object, attribute)
                .as_str()
                .map(str::to_owned),
            _ if observed.creating => observed
                .previous
                .as_ref()
                .and_then(|p| p.attributes.get(attribute))
                .and_then(|v| v.as_str().map(str::to_owned)),
            _ => None,
        };
        if let Some(current) = current
            && values.iter().any(|v| v.eq_ignore_ascii_case(&current))
        {
            chosen.insert(
                attribute.clone(),
                Unique {
                    value: Some(current.clone()),
                    candidates: vec![Candidate {
                        value: current,
                        refused: None,
                    }],
                    kept: true,
                },
            );
            continue;
        }
        let mut unique = Unique::default();
        for value in values {
            let page = engine
                .search(
                    &map.target,
                    SearchRequest {
                        class: map.class.clone(),
                        filter: Some(equals(attribute, &value)),
                        page: PageRequest {
                            size: 2,
                            cookie: None,
                        },
                        attributes: vec![names::NAME.to_owned()],
                    },
                )
                .await?;
            let other = page
                .objects
                .iter()
                .find(|o| Some(&o.uid) != observed.uid.as_ref());
            if let Some(other) = other {
                unique.candidates.push(Candidate {
                    value,
                    refused: Some(format!(
                        "taken on the target by {} (uid {})",
                        other.name, other.uid
                    )),
                });
                continue;
            }
            if let Some(holder) = claims.take((&map.target, attribute, &value), id, claim) {
                unique.candidates.push(Candidate {
                    value,
                    refused: Some(format!("planned for identity {holder}")),
                });
                continue;
            }
            unique.candidates.push(Candidate {
                value: value.clone(),
                refused: None,
            });
            unique.value = Some(value);
            break;
        }
        chosen.insert(attribute.clone(), unique);
    }
    Ok(chosen)
}
