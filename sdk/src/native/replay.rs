//! HTTP answers for a [`Fake`](crate::testing::Fake): recorded exchanges read from a
//! recording's `exchanges.jsonl` (as the host writes them, see
//! `docs/writing-a-connector.md`), and answers a test scripts.

use super::calls::bytes_of;
use super::{Answered, SentRequest};
use crate::Error;
use serde_json::Value as Json;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The file of a recording that holds its exchanges.
const EXCHANGES_FILE: &str = "exchanges.jsonl";
/// What a recording holds in place of a password.
const PASSWORD: &str = "<redacted>";

#[derive(Debug)]
pub enum ReplayError {
    /// The recording cannot be read.
    Read { path: PathBuf, reason: String },
    /// A line is not an exchange as the host writes them.
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Read { path, reason } => {
                write!(f, "cannot read the recording {}: {reason}", path.display())
            }
            ReplayError::Line { path, line, reason } => write!(
                f,
                "{} line {line}: not a recorded exchange: {reason}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

/// A body as compared: JSON by value (member order aside), else bytes.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Json(Json),
    Bytes(Vec<u8>),
}

impl Body {
    fn of(bytes: &[u8]) -> Body {
        match serde_json::from_slice::<Json>(bytes) {
            Ok(value) if value.is_object() || value.is_array() => Body::Json(value),
            _ => Body::Bytes(bytes.to_vec()),
        }
    }
}

/// A request as a recording keeps it: secrets and passwords replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    method: String,
    url: String,
    body: Body,
}

impl Sent {
    pub fn of(request: &SentRequest, secrets: &[&str]) -> Sent {
        let scrub = |text: &str| super::scrub(text, secrets);
        let body = match Body::of(&request.body) {
            Body::Json(mut value) => {
                redact_passwords(&mut value);
                Body::Json(serde_json::from_str(&scrub(&value.to_string())).unwrap_or(value))
            }
            Body::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Body::Bytes(scrub(&text).into_bytes()),
                Err(e) => Body::Bytes(e.into_bytes()),
            },
        };
        Sent {
            method: request.method.clone(),
            url: scrub(&request.url),
            body,
        }
    }
}

/// The values of JSON members named `password`, at any depth, as the host
/// keeps them off a recording.
fn redact_passwords(value: &mut Json) {
    match value {
        Json::Object(members) => {
            for (name, member) in members.iter_mut() {
                if name.eq_ignore_ascii_case("password") {
                    *member = Json::String(PASSWORD.to_owned());
                } else {
                    redact_passwords(member);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(redact_passwords),
        _ => {}
    }
}

enum Answer {
    Response(Answered),
    /// The exchange failed before an answer: the kind the host recorded.
    Failed {
        kind: String,
        message: String,
    },
}

enum Matches {
    /// A recorded request: method, URL and body.
    Exactly(Sent),
    /// A scripted one: method and URL, any body.
    Url { method: String, url: String },
}

struct Exchange {
    matches: Matches,
    answer: Option<Answer>,
}

/// The answers a fake holds, each given once, in the order held.
#[derive(Default)]
pub struct Exchanges {
    exchanges: Vec<Exchange>,
}

impl Exchanges {
    /// The HTTP exchanges of the recording in `dir`, and its other lines
    /// (SQL, LDAP, the clock) for the fakes of those capabilities.
    pub fn load(dir: &Path) -> Result<(Exchanges, Vec<Json>), ReplayError> {
        let path = dir.join(EXCHANGES_FILE);
        let read = |reason: String| ReplayError::Read {
            path: path.clone(),
            reason,
        };
        let file = std::fs::File::open(&path).map_err(|e| read(e.to_string()))?;
        let mut exchanges = Vec::new();
        let mut others = Vec::new();
        for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| read(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| ReplayError::Line {
                path: path.clone(),
                line: number + 1,
                reason,
            };
            let exchange: Json = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
            if exchange["capability"] != "http" || exchange["call"] != "send" {
                others.push(exchange);
                continue;
            }
            exchanges.push(recorded(&exchange).map_err(bad)?);
        }
        Ok((Exchanges { exchanges }, others))
    }

    pub fn extend(&mut self, other: Exchanges) {
        self.exchanges.extend(other.exchanges);
    }

    pub fn script(&mut self, method: &str, url: &str, response: Answered) {
        self.exchanges.push(Exchange {
            matches: Matches::Url {
                method: method.to_ascii_uppercase(),
                url: url.to_owned(),
            },
            answer: Some(Answer::Response(response)),
        });
    }

    pub fn unused(&self) -> usize {
        self.exchanges.iter().filter(|e| e.answer.is_some()).count()
    }

    pub fn answer(&mut self, sent: &Sent, what: &str) -> Result<Answered, Error> {
        let found = self.exchanges.iter_mut().find(|e| {
            e.answer.is_some()
                && match &e.matches {
                    Matches::Exactly(recorded) => recorded == sent,
                    Matches::Url { method, url } => *method == sent.method && *url == sent.url,
                }
        });
        let Some(exchange) = found else {
            let unused = self.unused();
            return Err(Error::failed(format!(
                "replay: the fake holds no answer to {} {} ({unused} unused answer(s) left): the recording was made with other requests, or another configuration",
                sent.method, sent.url
            )));
        };
        match exchange.answer.take().expect("an unused answer") {
            Answer::Response(response) => Ok(response),
            Answer::Failed { kind, message } if kind == "response-body-size" => Err(Error::failed(
                format!("{what}: the answer was too large ({message})"),
            )),
            Answer::Failed { kind, message } => {
                Err(Error::unavailable(format!("{what}: {kind}: {message}")))
            }
        }
    }
}

fn recorded(exchange: &Json) -> Result<Exchange, String> {
    let request = &exchange["request"];
    let method = request["method"]
        .as_str()
        .ok_or("the request has no method")?
        .to_owned();
    let url = request["uri"]
        .as_str()
        .ok_or("the request has no uri")?
        .to_owned();
    let body = Body::of(&bytes_of(&request["body"])?);
    let response = &exchange["response"];
    let answer = if let Some(answer) = response.get("response") {
        let status = answer["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or("the response has no status")?;
        let mut headers = Vec::new();
        for header in answer["headers"].as_array().into_iter().flatten() {
            let name = header[0].as_str().ok_or("a header has no name")?;
            headers.push((name.to_owned(), bytes_of(&header[1])?));
        }
        Answer::Response(Answered {
            status,
            headers,
            body: bytes_of(&answer["body"])?,
        })
    } else if let Some(failed) = response.get("failed") {
        Answer::Failed {
            kind: failed["kind"].as_str().unwrap_or("other").to_owned(),
            message: failed["message"].as_str().unwrap_or_default().to_owned(),
        }
    } else {
        return Err(format!("an answer of no known shape: {response}"));
    };
    Ok(Exchange {
        matches: Matches::Exactly(Sent { method, url, body }),
        answer: Some(answer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(method: &str, url: &str, body: &str) -> SentRequest {
        SentRequest {
            method: method.into(),
            url: url.into(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn requests_compare_as_the_recording_keeps_them() {
        let live = Sent::of(
            &sent(
                "POST",
                "http://h/Users?key=s3cret-key",
                r#"{"b":1,"password":"Hunter-22","a":"s3cret-key"}"#,
            ),
            &["s3cret-key", "ab"],
        );
        let recorded = Sent {
            method: "POST".into(),
            url: "http://h/Users?key=***".into(),
            body: Body::Json(serde_json::json!({"a": "***", "password": "<redacted>", "b": 1})),
        };
        assert_eq!(live, recorded);
        assert_eq!(
            Sent::of(&sent("GET", "http://h/x", "plain ab"), &["ab"]).body,
            Body::Bytes(b"plain ab".to_vec()),
            "a secret too short to scrub is kept"
        );
    }
}
