//! An identity's profile attributes: a map kept as one sorted vector.
//! A `BTreeMap` allocates a node for eleven entries even for the four or
//! five an HR record usually has (about 600 bytes before any key or
//! value); a source run holds every record's profile at once, so this
//! keeps 100,000 of them in a third of the memory. Serialised as a JSON
//! object in key order, exactly as the `BTreeMap` was.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile(Vec<(String, Json)>);

impl Profile {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Json> {
        self.position(name).ok().map(|at| &self.0[at].1)
    }

    /// Sets `name`; answers the value it replaces.
    pub fn insert(&mut self, name: String, value: Json) -> Option<Json> {
        match self.position(&name) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (name, value));
                None
            }
        }
    }

    /// The attributes in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Json)> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(key, _)| key)
    }
}

impl<'a> IntoIterator for &'a Profile {
    type Item = (&'a String, &'a Json);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Json)>,
        fn(&'a (String, Json)) -> (&'a String, &'a Json),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(key, value)| (key, value))
    }
}

impl FromIterator<(String, Json)> for Profile {
    /// Sorts once (inserting each in place would be quadratic in a
    /// hostile body of many names); a name given twice keeps its last
    /// value, as a map would.
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(entries: I) -> Self {
        let mut entries: Vec<(String, Json)> = entries.into_iter().collect();
        // Stable: of equal names, the last given stays last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(String, Json)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => kept.push(entry),
            }
        }
        Profile(kept)
    }
}

impl Serialize for Profile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Profile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of profile attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Profile, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                while let Some(entry) = map.next_entry::<String, Json>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn reads_and_writes_as_the_map_it_replaces() {
        let text = r#"{"title":"Analyst","first":"Zoë","last":"Ødegård","first":"Zoe","n":[1,2]}"#;
        let profile: Profile = serde_json::from_str(text).unwrap();
        let map: BTreeMap<String, Json> = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&profile).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(profile.len(), 4);
        assert_eq!(profile.get("first"), Some(&json!("Zoe")));
        assert_eq!(profile.get("absent"), None);
        let keys: Vec<&String> = profile.keys().collect();
        assert_eq!(keys, ["first", "last", "n", "title"]);
        assert!(serde_json::from_str::<Profile>("[1]").is_err());
    }

    /// Names arriving in reverse order are the worst case for inserting
    /// each in place; read at once they are sorted once.
    #[test]
    fn many_names_read_in_one_sort() {
        let names = 200_000;
        let text = format!(
            "{{{}}}",
            (0..names)
                .rev()
                .map(|i| format!("\"a{i:06}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let profile: Profile = serde_json::from_str(&text).unwrap();
        assert_eq!(profile.len(), names);
        assert_eq!(profile.keys().next().map(String::as_str), Some("a000000"));
        assert_eq!(profile.get("a199999"), Some(&json!(199_999)));
    }

    #[test]
    fn insert_keeps_keys_sorted_and_answers_what_it_replaced() {
        let mut profile = Profile::default();
        assert_eq!(profile.insert("b".into(), json!(1)), None);
        assert_eq!(profile.insert("a".into(), json!(2)), None);
        assert_eq!(profile.insert("b".into(), json!(3)), Some(json!(1)));
        let entries: Vec<(&String, &Json)> = (&profile).into_iter().collect();
        assert_eq!(
            entries,
            [(&"a".to_owned(), &json!(2)), (&"b".to_owned(), &json!(3))]
        );
    }
}
