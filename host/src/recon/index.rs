//! What a run holds while it pages through a target: the links of the
//! class (by uid and by identity) and, for correlation, each rule's
//! identities by their normalised values. Nothing else is kept beside one
//! page, so memory follows the number of links and identities, not the
//! target's size.

use crate::config::{CorrelationRule, Normalize};
use crate::identity::DesiredState;
use crate::model::{ConnectorObject, Value};
use crate::store::{Store, StoreError};
use std::collections::{HashMap, HashSet};

/// Links read per store page.
const LINK_PAGE: u32 = 1000;

/// An account's values of one attribute, as text.
pub fn texts(object: &ConnectorObject, attribute: &str) -> Vec<String> {
    if attribute.eq_ignore_ascii_case(crate::model::names::NAME) {
        return vec![object.name.clone()];
    }
    let mut texts: Vec<String> = object
        .attribute(attribute)
        .map(|a| a.values.iter().map(text).collect())
        .unwrap_or_default();
    texts.sort();
    texts
}

fn text(value: &Value) -> String {
    match value {
        Value::Text(s) | Value::Reference(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Binary(bytes) => format!("{} bytes", bytes.len()),
    }
}

/// The links of one class of a target.
#[derive(Default)]
pub struct Links {
    by_uid: HashMap<String, String>,
    by_identity: HashMap<String, String>,
}

impl Links {
    pub async fn load(store: &dyn Store, target: &str, class: &str) -> Result<Links, StoreError> {
        let mut links = Links::default();
        let mut after: Option<String> = None;
        loop {
            let mut page = store.links(target, after.as_deref(), LINK_PAGE).await?;
            let Some(last) = page.last().map(|l| l.identity.clone()) else {
                break;
            };
            let full = page.len() as u32 == LINK_PAGE;
            // Pages end after an identity (its links in other classes may
            // be on the next page): a full page's last identity is read
            // again whole with the next one, unless it fills the page.
            if full && page.iter().any(|l| l.identity != last) {
                page.retain(|l| l.identity != last);
            }
            after = page.last().map(|l| l.identity.clone());
            for link in page.into_iter().filter(|l| l.class == class) {
                links
                    .by_identity
                    .insert(link.identity.clone(), link.uid.clone());
                links.by_uid.insert(link.uid, link.identity);
            }
            if !full {
                break;
            }
        }
        Ok(links)
    }

    pub fn identity_of(&self, uid: &str) -> Option<&str> {
        self.by_uid.get(uid).map(String::as_str)
    }

    pub fn uid_of(&self, identity: &str) -> Option<&str> {
        self.by_identity.get(identity).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    /// The links whose account is not in `seen`, by identity.
    pub fn unseen<'a>(&'a self, seen: &'a HashSet<String>) -> Vec<(&'a str, &'a str)> {
        let mut unseen: Vec<(&str, &str)> = self
            .by_identity
            .iter()
            .filter(|(_, uid)| !seen.contains(*uid))
            .map(|(identity, uid)| (identity.as_str(), uid.as_str()))
            .collect();
        unseen.sort();
        unseen
    }
}

fn normalise(text: &str, how: &[Normalize]) -> String {
    let mut text = text.to_owned();
    if how.contains(&Normalize::Diacritics) {
        text = crate::expr::normalize_diacritics(text);
    }
    if how.contains(&Normalize::Whitespace) {
        text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if how.contains(&Normalize::Case) {
        text = text.to_lowercase();
    }
    text
}

/// Identities by the normalised values one rule compares.
type RuleIndex = HashMap<Vec<String>, Vec<String>>;

/// Each rule's identities by the normalised values it compares.
pub struct Correlation {
    rules: Vec<(CorrelationRule, RuleIndex)>,
}

/// What correlating one account found.
pub enum Matched {
    One(String),
    Several(Vec<String>),
    None,
}

impl Correlation {
    pub async fn build(store: &dyn Store, rules: &[CorrelationRule]) -> Result<Self, StoreError> {
        let mut indexed: Vec<(CorrelationRule, RuleIndex)> =
            rules.iter().map(|r| (r.clone(), HashMap::new())).collect();
        if indexed.is_empty() {
            return Ok(Correlation { rules: indexed });
        }
        let mut after: Option<String> = None;
        loop {
            let page = store.identities(after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for record in page {
                let state: DesiredState = serde_json::from_value(record.state).unwrap_or_default();
                for (rule, index) in &mut indexed {
                    let key: Option<Vec<String>> = rule
                        .equal
                        .values()
                        .map(|field| {
                            let value = match field.as_str() {
                                "id" => Some(record.id.clone()),
                                name => state.profile.get(name).and_then(|v| match v {
                                    serde_json::Value::String(s) => Some(s.clone()),
                                    serde_json::Value::Null => None,
                                    other => Some(other.to_string()),
                                }),
                            }?;
                            let value = normalise(&value, &rule.normalize);
                            (!value.is_empty()).then_some(value)
                        })
                        .collect();
                    if let Some(key) = key {
                        index.entry(key).or_default().push(record.id.clone());
                    }
                }
            }
        }
        Ok(Correlation { rules: indexed })
    }

    /// The account attributes the rules compare.
    pub fn attributes(&self) -> Vec<String> {
        let mut attributes: Vec<String> = self
            .rules
            .iter()
            .flat_map(|(rule, _)| rule.equal.keys().cloned())
            .collect();
        attributes.sort();
        attributes.dedup();
        attributes
    }

    /// The first rule that matches exactly one identity wins; several
    /// matches under a rule with no later single match are a dispute.
    pub fn find(&self, account: &ConnectorObject) -> Matched {
        let mut disputed: Option<Vec<String>> = None;
        for (rule, index) in &self.rules {
            let key: Option<Vec<String>> = rule
                .equal
                .keys()
                .map(|attribute| {
                    let values = texts(account, attribute);
                    let value = normalise(values.first()?, &rule.normalize);
                    (!value.is_empty()).then_some(value)
                })
                .collect();
            let Some(found) = key.and_then(|k| index.get(&k)) else {
                continue;
            };
            match found.as_slice() {
                [one] => return Matched::One(one.clone()),
                [] => {}
                several => {
                    disputed.get_or_insert_with(|| several.to_vec());
                }
            }
        }
        match disputed {
            Some(several) => Matched::Several(several),
            None => Matched::None,
        }
    }
}
