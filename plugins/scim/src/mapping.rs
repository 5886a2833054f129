//! Provisio attributes and SCIM resources: paths such as `title`,
//! `name.givenName`, `emails[type eq "work"].value` and
//! `urn:…:enterprise:2.0:User:manager.value`, read from and written to a
//! resource's JSON, and named in PATCH operations and filters.

use serde_json::{Map, Value as Json, json};

/// A parsed SCIM attribute path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The extension schema URN, for extension attributes.
    pub schema: Option<String>,
    pub attr: String,
    /// `[key eq "value"]` selecting one element of a multi-valued attribute.
    pub selector: Option<(String, String)>,
    pub sub: Option<String>,
}

impl Path {
    pub fn parse(text: &str) -> Path {
        // An extension URN ends at its last ':' before the attribute.
        let (schema, rest) = match text.starts_with("urn:") {
            true => {
                let before_selector = text.split('[').next().unwrap_or(text);
                let cut = before_selector.rfind(':').unwrap_or(0);
                (Some(text[..cut].to_owned()), &text[cut + 1..])
            }
            false => (None, text),
        };
        let (head, sub_after_selector) = match rest.split_once(']') {
            Some((head, tail)) => (head, tail.strip_prefix('.').map(str::to_owned)),
            None => (rest, None),
        };
        let (attr_part, selector) = match head.split_once('[') {
            Some((attr, filter)) => {
                let mut words = filter.splitn(3, ' ');
                let key = words.next().unwrap_or("type").to_owned();
                let _eq = words.next();
                let value = words.next().unwrap_or("").trim_matches('"').to_owned();
                (attr, Some((key, value)))
            }
            None => (head, None),
        };
        let (attr, sub) = match (selector.is_some(), attr_part.split_once('.')) {
            (false, Some((a, s))) => (a.to_owned(), Some(s.to_owned())),
            _ => (attr_part.to_owned(), sub_after_selector),
        };
        Path {
            schema,
            attr,
            selector,
            sub,
        }
    }

    /// The attribute alone (`phoneNumbers`, or with its extension URN).
    pub fn attribute_path(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}:{}", self.attr),
            None => self.attr.clone(),
        }
    }

    /// The attribute and its element selector (`phoneNumbers[type eq "work"]`).
    pub fn element_path(&self) -> String {
        let mut out = self.attribute_path();
        if let Some((key, value)) = &self.selector {
            out.push_str(&format!("[{key} eq {}]", json!(value)));
        }
        out
    }

    /// The path as a PATCH operation names it.
    pub fn patch_path(&self) -> String {
        let mut out = self.element_path();
        if let Some(sub) = &self.sub {
            out.push('.');
            out.push_str(sub);
        }
        out
    }

    /// The path as a filter names it (without the selector).
    pub fn filter_path(&self) -> (Option<String>, String, Option<String>) {
        let sub = match (&self.selector, &self.sub) {
            (Some(_), None) => Some("value".to_owned()),
            (_, sub) => sub.clone(),
        };
        (self.schema.clone(), self.attr.clone(), sub)
    }

    fn container<'a>(&self, resource: &'a Json) -> Option<&'a Map<String, Json>> {
        match &self.schema {
            Some(schema) => resource.get(schema)?.as_object(),
            None => resource.as_object(),
        }
    }

    /// The element the selector picks (or the attribute itself, without one).
    pub fn element<'a>(&self, resource: &'a Json) -> Option<&'a Json> {
        let value = self.container(resource)?.get(&self.attr)?;
        match &self.selector {
            Some((key, wanted)) => value
                .as_array()?
                .iter()
                .find(|e| e.get(key).and_then(Json::as_str) == Some(wanted.as_str())),
            None => Some(value),
        }
    }

    /// Removes the sub-attribute of the selected element, keeping the element.
    pub fn clear_sub(&self, resource: &mut Json) {
        let (Some((key, wanted)), Some(sub)) = (&self.selector, &self.sub) else {
            return;
        };
        let container = match &self.schema {
            Some(schema) => resource.get_mut(schema),
            None => Some(resource),
        };
        if let Some(list) = container
            .and_then(|c| c.get_mut(&self.attr))
            .and_then(Json::as_array_mut)
            && let Some(element) = list
                .iter_mut()
                .find(|e| e.get(key).and_then(Json::as_str) == Some(wanted.as_str()))
            && let Some(element) = element.as_object_mut()
        {
            element.remove(sub);
        }
    }

    /// The value at this path, if any.
    pub fn get<'a>(&self, resource: &'a Json) -> Option<&'a Json> {
        let value = self.element(resource)?;
        match (&self.sub, &self.selector) {
            (Some(sub), _) => value.get(sub),
            (None, Some(_)) => value.get("value"),
            (None, None) => Some(value),
        }
        .filter(|v| !v.is_null())
    }

    /// Sets (or with `None`, removes) the value at this path.
    pub fn set(&self, resource: &mut Json, value: Option<Json>) {
        let root = resource.as_object_mut().expect("a resource is an object");
        let container = match &self.schema {
            Some(schema) => {
                if value.is_some() {
                    let schemas = root.entry("schemas").or_insert_with(|| json!([]));
                    if let Some(list) = schemas.as_array_mut()
                        && !list.iter().any(|s| s == schema)
                    {
                        list.push(json!(schema));
                    }
                }
                root.entry(schema.clone())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("an extension is an object")
            }
            None => root,
        };
        match (&self.selector, &self.sub) {
            (None, None) => {
                match value {
                    Some(v) => container.insert(self.attr.clone(), v),
                    None => container.remove(&self.attr),
                };
            }
            (None, Some(sub)) => {
                let object = container
                    .entry(self.attr.clone())
                    .or_insert_with(|| json!({}));
                if let Some(object) = object.as_object_mut() {
                    match value {
                        Some(v) => object.insert(sub.clone(), v),
                        None => object.remove(sub),
                    };
                }
            }
            (Some((key, wanted)), sub) => {
                let sub = sub.clone().unwrap_or_else(|| "value".into());
                let list = container
                    .entry(self.attr.clone())
                    .or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else {
                    return;
                };
                let position = list
                    .iter()
                    .position(|e| e.get(key).and_then(Json::as_str) == Some(wanted.as_str()));
                match (value, position) {
                    (Some(v), Some(i)) => list[i][sub] = v,
                    (Some(v), None) => list.push(json!({key.clone(): wanted, sub: v})),
                    (None, Some(i)) => {
                        list.remove(i);
                    }
                    (None, None) => {}
                }
            }
        }
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
pub fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_round_trip() {
        let p = Path::parse("emails[type eq \"work\"].value");
        assert_eq!(p.attr, "emails");
        assert_eq!(p.selector, Some(("type".into(), "work".into())));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.patch_path(), "emails[type eq \"work\"].value");
        let m =
            Path::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert_eq!(
            m.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (m.attr.as_str(), m.sub.as_deref()),
            ("manager", Some("value"))
        );
        let n = Path::parse("name.givenName");
        assert_eq!(
            (n.attr.as_str(), n.sub.as_deref(), n.schema.as_deref()),
            ("name", Some("givenName"), None)
        );

        let mut user = json!({"userName": "ada"});
        p.set(&mut user, Some(json!("ada@example.com")));
        m.set(&mut user, Some(json!("42")));
        n.set(&mut user, Some(json!("Ada")));
        assert_eq!(p.get(&user), Some(&json!("ada@example.com")));
        assert_eq!(m.get(&user), Some(&json!("42")));
        assert_eq!(
            user["schemas"],
            json!(["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"])
        );
        p.set(&mut user, None);
        assert_eq!(p.get(&user), None);
        assert_eq!(encode_query("a b\"&"), "a%20b%22%26");
    }
}
