//! Secrets out of what a connector says. The host knows every secret it
//! lends a target (its `secrets`, the SQL passwords and the LDAP bind
//! password) and, for one call, the password an operation carries; a
//! connector that puts one in a log line, in what it prints, in an error or
//! in a returned object gets `***` there instead, before the string is
//! logged, stored or answered. The secret's base64 (standard and URL-safe,
//! with and without padding) and percent-encoded forms are caught too.
//!
//! Secrets shorter than [`MIN_SECRET`] bytes are not searched for: they
//! would mangle ordinary text and protect nothing.

use crate::model::{
    Attribute, ConnectorError, ConnectorInfo, ConnectorObject, ObjectSchema, Page, SyncBatch, Value,
};
use aho_corasick::AhoCorasick;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Shorter secrets are not scrubbed.
pub const MIN_SECRET: usize = 4;

/// What replaces a secret.
pub const REDACTED: &str = "***";

/// The secrets of one target (or one call), ready to search for.
#[derive(Debug, Default)]
pub struct Scrubber {
    matcher: Option<AhoCorasick>,
}

impl Scrubber {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Scrubber {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets {
            if secret.len() < MIN_SECRET {
                continue;
            }
            let bytes = secret.as_bytes();
            forms.push(secret.to_owned());
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                forms.push(engine.encode(bytes));
            }
            // Encoders differ in what they leave alone and in the case of
            // their hex digits: the common spellings.
            for keep in [Keep::Unreserved, Keep::Alphanumeric] {
                for plus_for_space in [false, true] {
                    let encoded = percent_encoded(secret, keep, plus_for_space);
                    forms.push(encoded.to_ascii_lowercase_escapes());
                    forms.push(encoded);
                }
            }
        }
        forms.sort();
        forms.dedup();
        // Longest first, so a form that contains another is replaced whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        if forms.is_empty() {
            return Scrubber::default();
        }
        let matcher = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&forms)
            .expect("secret forms make a valid automaton");
        Scrubber {
            matcher: Some(matcher),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every secret replaced, when it holds one.
    pub fn scrub(&self, text: &mut String) {
        let Some(matcher) = &self.matcher else { return };
        if !matcher.is_match(text.as_str()) {
            return;
        }
        let mut out = String::with_capacity(text.len());
        matcher.replace_all_with(text, &mut out, |_, _, out| {
            out.push_str(REDACTED);
            true
        });
        *text = out;
    }

    /// [`Scrubber::scrub`] of a copy.
    pub fn scrubbed(&self, text: &str) -> String {
        let mut text = text.to_owned();
        self.scrub(&mut text);
        text
    }
}

/// Which bytes a percent-encoder leaves as they are.
#[derive(Clone, Copy)]
enum Keep {
    /// RFC 3986's unreserved characters.
    Unreserved,
    /// Letters and digits only.
    Alphanumeric,
}

/// Percent-encoding of every byte but those kept (`plus_for_space`: the
/// `application/x-www-form-urlencoded` spelling), with upper-case hex.
fn percent_encoded(secret: &str, keep: Keep, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(secret.len() * 3);
    for byte in secret.bytes() {
        let kept = byte.is_ascii_alphanumeric()
            || matches!(keep, Keep::Unreserved) && b"-._~".contains(&byte);
        match byte {
            b if kept => out.push(b as char),
            b' ' if plus_for_space => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

trait LowerEscapes {
    fn to_ascii_lowercase_escapes(&self) -> String;
}

impl LowerEscapes for String {
    /// The same encoding with lower-case hex digits in its escapes.
    fn to_ascii_lowercase_escapes(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut rest = self.as_str();
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
            out.push_str(&escape.to_ascii_lowercase());
            rest = &rest[at + escape.len()..];
        }
        out.push_str(rest);
        out
    }
}

/// A call's result, with every string a connector chose reachable.
pub trait Strings {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String));

    /// Scrubs every string (nothing to do for a target without secrets).
    fn scrub(&mut self, scrubber: &Scrubber) {
        if !scrubber.is_empty() {
            self.for_each_string(&mut |s| scrubber.scrub(s));
        }
    }
}

impl Strings for () {
    fn for_each_string(&mut self, _: &mut dyn FnMut(&mut String)) {}
}

impl Strings for u64 {
    fn for_each_string(&mut self, _: &mut dyn FnMut(&mut String)) {}
}

impl Strings for String {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(self)
    }
}

impl Strings for Value {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            Value::Text(s) | Value::Reference(s) => f(s),
            Value::Binary(_) | Value::Integer(_) | Value::Boolean(_) => {}
        }
    }
}

impl Strings for Attribute {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(&mut self.name);
        for value in &mut self.values {
            value.for_each_string(f);
        }
    }
}

impl Strings for ConnectorObject {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(&mut self.uid);
        f(&mut self.name);
        for attribute in &mut self.attributes {
            attribute.for_each_string(f);
        }
    }
}

impl Strings for Page {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        for object in &mut self.objects {
            object.for_each_string(f);
        }
        if let Some(cookie) = &mut self.cookie {
            f(cookie);
        }
    }
}

impl Strings for SyncBatch {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(&mut self.token);
        for delta in &mut self.deltas {
            f(&mut delta.uid);
            f(&mut delta.token);
            if let Some(object) = &mut delta.object {
                object.for_each_string(f);
            }
        }
    }
}

impl Strings for ObjectSchema {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        for class in &mut self.classes {
            if let Some(d) = &mut class.description {
                f(d);
            }
            for attribute in &mut class.attributes {
                if let Some(d) = &mut attribute.description {
                    f(d);
                }
            }
        }
    }
}

impl Strings for ConnectorInfo {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(&mut self.description);
    }
}

impl Strings for ConnectorError {
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut String)) {
        use ConnectorError as E;
        match self {
            E::NotFound { message }
            | E::AlreadyExists { message }
            | E::Unsupported { message }
            | E::PermissionDenied { message }
            | E::Unavailable { message }
            | E::RateLimited { message, .. }
            | E::Failed { message } => f(message),
            E::Invalid { attribute, message } => {
                if let Some(a) = attribute {
                    f(a);
                }
                f(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_encodings_become_stars() {
        let scrubber = Scrubber::new(["s3cr3t/pass word", "ab"]);
        let raw = "s3cr3t/pass word";
        let mut text = format!(
            "raw {raw}; b64 {}; b64url {}; pct {}; form {}; all {}; lower {}; short ab stays",
            STANDARD.encode(raw),
            URL_SAFE_NO_PAD.encode(raw),
            percent_encoded(raw, Keep::Unreserved, false),
            percent_encoded(raw, Keep::Unreserved, true),
            percent_encoded(raw, Keep::Alphanumeric, false),
            "s3cr3t%2fpass%20word",
        );
        scrubber.scrub(&mut text);
        assert_eq!(
            text,
            "raw ***; b64 ***; b64url ***; pct ***; form ***; all ***; lower ***; short ab stays"
        );
        let mut plain = "nothing to see".to_owned();
        scrubber.scrub(&mut plain);
        assert_eq!(plain, "nothing to see");
        assert!(Scrubber::new(["ab"]).is_empty());
    }

    #[test]
    fn every_string_of_a_result_is_reached() {
        let scrubber = Scrubber::new(["hunter22"]);
        let mut object = ConnectorObject {
            uid: "u-hunter22".into(),
            name: "n".into(),
            class: "account".into(),
            attributes: vec![Attribute::new(
                "note",
                vec![Value::Text("pw=hunter22".into()), Value::Integer(7)],
            )],
        };
        object.scrub(&scrubber);
        assert_eq!(object.uid, "u-***");
        assert_eq!(object.attributes[0].values[0], Value::Text("pw=***".into()));
        let mut error = ConnectorError::Invalid {
            attribute: Some("x".into()),
            message: "bad hunter22".into(),
        };
        error.scrub(&scrubber);
        assert!(matches!(error, ConnectorError::Invalid { message, .. } if message == "bad ***"));
    }
}
