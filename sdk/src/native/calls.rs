//! The calls a recording holds for one capability answered by request
//! (SQL, LDAP), as the host writes them: `{"capability", "call",
//! "request", "response"}`, each answered once, in the order recorded.

use base64::Engine as _;
use serde_json::{Value as Json, json};

/// One recorded call and its answer, until it is given.
struct Recorded {
    call: String,
    request: Json,
    response: Option<Json>,
}

/// A capability's recorded calls.
#[derive(Default)]
pub(crate) struct Calls(Vec<Recorded>);

impl Calls {
    /// Keeps the call a recording's `line` holds.
    pub fn push(&mut self, line: &Json) {
        self.0.push(Recorded {
            call: line["call"].as_str().unwrap_or_default().to_owned(),
            request: line["request"].clone(),
            response: Some(line["response"].clone()),
        });
    }

    pub fn unused(&self) -> usize {
        self.0.iter().filter(|c| c.response.is_some()).count()
    }

    /// The answer recorded first for `call` with `request` (compared as
    /// JSON values) that no call has taken yet.
    pub fn take(&mut self, call: &str, request: &Json) -> Option<Json> {
        self.0
            .iter_mut()
            .find(|c| c.response.is_some() && c.call == call && c.request == *request)
            .and_then(|c| c.response.take())
    }

    /// [`take`](Self::take), or the message a call the recording does not
    /// hold fails with, naming `capability`, the call and the request.
    pub fn answer(&mut self, capability: &str, call: &str, request: &Json) -> Result<Json, String> {
        self.take(call, request).ok_or_else(|| {
            format!(
                "replay: the fake holds no {capability} {call} for this request ({} unused {capability} answer(s) left): {}",
                self.unused(),
                shown(request)
            )
        })
    }
}

/// `request` as an error message shows it: at most 400 bytes.
pub(crate) fn shown(request: &Json) -> String {
    let mut shown = request.to_string();
    if shown.len() > 400 {
        let mut end = 400;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    shown
}

/// Bytes as a recording stores them: text when UTF-8, else
/// `{"base64": …}`.
pub(crate) fn octets(value: &[u8]) -> Json {
    match std::str::from_utf8(value) {
        Ok(text) => json!(text),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(value)}),
    }
}

/// The bytes a recording stores as text or `{"base64": …}`, or why they
/// do not read.
pub(crate) fn bytes_of(value: &Json) -> Result<Vec<u8>, String> {
    match value {
        Json::String(text) => Ok(text.clone().into_bytes()),
        Json::Object(object) => match object.get("base64").and_then(Json::as_str) {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("bad base64: {e}")),
            None => Err(format!("not text or base64: {value}")),
        },
        other => Err(format!("not text or base64: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_is_given_once_in_the_order_recorded() {
        let mut calls = Calls::default();
        for answer in [1, 2] {
            calls.push(&json!({"call": "search", "request": {"base": "b"}, "response": answer}));
        }
        let request = json!({"base": "b"});
        assert_eq!(calls.take("delete", &request), None, "another call");
        assert_eq!(calls.take("search", &json!({"base": "c"})), None);
        assert_eq!(calls.take("search", &request), Some(json!(1)));
        assert_eq!(calls.unused(), 1);
        assert_eq!(calls.take("search", &request), Some(json!(2)));
        assert_eq!(calls.take("search", &request), None);
    }

    #[test]
    fn bytes_round_trip_and_long_requests_are_cut() {
        for value in [b"uid=ada".to_vec(), vec![0xff, 0, 0x10]] {
            assert_eq!(bytes_of(&octets(&value)).unwrap(), value);
        }
        assert!(bytes_of(&json!({"base64": "!!"})).is_err());
        assert!(bytes_of(&json!(7)).is_err());
        let long = shown(&json!("é".repeat(400)));
        assert!(long.len() <= 404 && long.ends_with('…'), "{long}");
    }
}
