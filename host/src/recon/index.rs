//! What a run holds while it pages through a target: the links of the
//! class (by uid and by identity) and, for correlation, each rule's
//! identities by their normalised values. Nothing else is kept beside one
//! page, so memory follows the number of links and identities, not the
//! target's size.

use crate::config::{CorrelationRule, Normalize};
use crate::identity::DesiredState;
use crate::model::{ConnectorObject, Value};
use crate::store::{Store, StoreError};
use std::collections::HashMap;

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

/// The links of one class of a target, as two sorted vectors rather than
/// two hash maps of owned strings: about 100 bytes a link instead of 220,
/// which at 100,000 links is most of what a run holds.
#[derive(Default)]
pub struct Links {
    /// `(identity, uid)`, by identity.
    links: Vec<(Box<str>, Box<str>)>,
    /// Indices into `links`, by uid.
    by_uid: Vec<u32>,
}

/// Which links' accounts a run has seen.
pub struct Seen(Vec<bool>);

impl Links {
    pub async fn load(store: &dyn Store, target: &str, class: &str) -> Result<Links, StoreError> {
        let mut links: Vec<(Box<str>, Box<str>)> = Vec::new();
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
            links.extend(
                page.into_iter()
                    .filter(|l| l.class == class)
                    .map(|l| (l.identity.into_boxed_str(), l.uid.into_boxed_str())),
            );
            if !full {
                break;
            }
        }
        Ok(Links::from_pairs(links))
    }

    fn from_pairs(mut links: Vec<(Box<str>, Box<str>)>) -> Links {
        links.sort_unstable();
        links.dedup_by(|a, b| a.0 == b.0);
        links.shrink_to_fit();
        let mut by_uid: Vec<u32> = (0..links.len() as u32).collect();
        by_uid.sort_unstable_by(|&a, &b| links[a as usize].1.cmp(&links[b as usize].1));
        Links { links, by_uid }
    }

    fn position(&self, uid: &str) -> Option<usize> {
        self.by_uid
            .binary_search_by(|&i| (*self.links[i as usize].1).cmp(uid))
            .ok()
            .map(|at| self.by_uid[at] as usize)
    }

    pub fn identity_of(&self, uid: &str) -> Option<&str> {
        self.position(uid).map(|i| &*self.links[i].0)
    }

    pub fn uid_of(&self, identity: &str) -> Option<&str> {
        self.links
            .binary_search_by(|(id, _)| (**id).cmp(identity))
            .ok()
            .map(|i| &*self.links[i].1)
    }

    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Nothing seen yet.
    pub fn none_seen(&self) -> Seen {
        Seen(vec![false; self.links.len()])
    }

    /// Marks the link of `uid` seen, if there is one.
    pub fn see(&self, seen: &mut Seen, uid: &str) {
        if let Some(i) = self.position(uid) {
            seen.0[i] = true;
        }
    }

    /// The links whose account was not seen, by identity.
    pub fn unseen<'a>(&'a self, seen: &Seen) -> Vec<(&'a str, &'a str)> {
        self.links
            .iter()
            .zip(&seen.0)
            .filter(|(_, seen)| !**seen)
            .map(|((identity, uid), _)| (&**identity, &**uid))
            .collect()
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

/// Identities by the normalised values one rule compares, the values
/// joined into one key (see [`key_of`]): one allocation an identity.
type RuleIndex = HashMap<Box<str>, Vec<Box<str>>>;

/// The values a rule compares as one key: each prefixed with its length,
/// so that no two lists of values give the same key.
fn key_of(values: impl Iterator<Item = Option<String>>) -> Option<Box<str>> {
    let mut key = String::new();
    for value in values {
        let value = value?;
        key.push_str(&value.len().to_string());
        key.push(':');
        key.push_str(&value);
    }
    Some(key.into_boxed_str())
}

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
                    let key = key_of(rule.equal.values().map(|field| {
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
                    }));
                    if let Some(key) = key {
                        index
                            .entry(key)
                            .or_default()
                            .push(record.id.as_str().into());
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
            let key = key_of(rule.equal.keys().map(|attribute| {
                let values = texts(account, attribute);
                let value = normalise(values.first()?, &rule.normalize);
                (!value.is_empty()).then_some(value)
            }));
            let Some(found) = key.and_then(|k| index.get(&k)) else {
                continue;
            };
            match found.as_slice() {
                [one] => return Matched::One(one.to_string()),
                [] => {}
                several => {
                    disputed.get_or_insert_with(|| several.iter().map(|s| s.to_string()).collect());
                }
            }
        }
        match disputed {
            Some(several) => Matched::Several(several),
            None => Matched::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> Links {
        Links::from_pairs(
            pairs
                .iter()
                .map(|(i, u)| ((*i).into(), (*u).into()))
                .collect(),
        )
    }

    #[test]
    fn finds_either_way_and_lists_the_unseen_by_identity() {
        let links = links(&[("b", "uid=z"), ("c", "uid=a"), ("a", "uid=m")]);
        assert_eq!(links.len(), 3);
        assert_eq!(links.identity_of("uid=a"), Some("c"));
        assert_eq!(links.identity_of("uid=z"), Some("b"));
        assert_eq!(links.identity_of("uid=q"), None);
        assert_eq!(links.uid_of("a"), Some("uid=m"));
        assert_eq!(links.uid_of("d"), None);
        let mut seen = links.none_seen();
        links.see(&mut seen, "uid=z");
        links.see(&mut seen, "uid=unknown");
        assert_eq!(links.unseen(&seen), [("a", "uid=m"), ("c", "uid=a")]);
    }

    #[test]
    fn keys_of_different_values_differ() {
        let key = |values: &[&str]| key_of(values.iter().map(|v| Some((*v).to_owned()))).unwrap();
        assert_ne!(key(&["a:b", "c"]), key(&["a", "b:c"]));
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["smith", "7"]), key(&["smith", "7"]));
        assert_eq!(key_of([Some("a".to_owned()), None].into_iter()), None);
    }

    #[test]
    fn an_identity_linked_twice_in_one_class_keeps_one_link() {
        let links = links(&[("a", "uid=1"), ("a", "uid=2")]);
        assert_eq!(links.len(), 1);
        assert_eq!(links.uid_of("a"), Some("uid=1"));
    }
}
