//! Outgoing HTTP on a tape: the request and the whole answer (status,
//! headers, body) recorded, or answered from a recording without a
//! connection. Credentials (`Authorization`, cookies, `password` members
//! of a JSON body) never reach the tape.

use crate::runtime::recording::{Octets, REDACTED, Tape};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Headers whose values are credentials.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// An answer as the tape keeps it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    Response {
        status: u16,
        headers: Vec<(String, Octets)>,
        body: Octets,
    },
    /// The exchange failed before a response: the kind the connector sees.
    Failed { kind: String, message: String },
}

fn headers(map: &http::HeaderMap) -> Vec<(String, Octets)> {
    map.iter()
        .map(|(name, value)| {
            let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                Octets::Text(REDACTED.to_owned())
            } else {
                Octets::of(value.as_bytes())
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// `body` with the values of JSON members named `password` redacted, at
/// any depth (SCIM's create and PUT carry one).
fn redacted_body(body: &[u8]) -> Octets {
    fn redact(value: &mut Value) {
        match value {
            Value::Object(members) => {
                for (name, member) in members.iter_mut() {
                    if name.eq_ignore_ascii_case("password") {
                        *member = Value::String(REDACTED.to_owned());
                    } else {
                        redact(member);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(redact),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) if value.is_object() || value.is_array() => {
            redact(&mut value);
            Octets::Text(value.to_string())
        }
        _ => Octets::of(body),
    }
}

fn kind_of(error: &Error) -> &'static str {
    match error {
        Error::ConnectionRefused => "connection-refused",
        Error::Connect(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection-refused"
        }
        Error::ConnectionTimeout => "connection-timeout",
        Error::HttpResponseTimeout | Error::ConnectionReadTimeout => "response-timeout",
        Error::HttpResponseBodySize(_) => "response-body-size",
        Error::DnsError { .. } | Error::DnsTimeout | Error::DestinationNotFound => "dns",
        _ => "other",
    }
}

fn error_of(kind: &str, message: String) -> Error {
    match kind {
        "connection-refused" => Error::ConnectionRefused,
        "connection-timeout" => Error::ConnectionTimeout,
        "response-timeout" => Error::HttpResponseTimeout,
        "response-body-size" => Error::HttpResponseBodySize(None),
        "dns" => Error::DestinationNotFound,
        _ => Error::InternalError(Some(message)),
    }
}

type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

/// Sends `request` through `tape`: live and recorded, or from the
/// recording. `max_response` bounds the body held.
pub async fn send(
    tape: Arc<Tape>,
    request: http::Request<WasiBody>,
    options: RequestOptions,
    max_response: usize,
) -> Sent {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let recorded_request = json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers(&parts.headers),
        "body": redacted_body(&body),
    });
    let live = async move {
        let request = http::Request::from_parts(parts, Full::new(body).map_err(|e| match e {}));
        let outcome = async {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            tokio::spawn(io);
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, max_response)
                .collect()
                .await
                .map_err(|_| Error::HttpResponseBodySize(Some(max_response as u64)))?
                .to_bytes();
            Ok::<_, Error>((parts, body))
        }
        .await;
        match outcome {
            Ok((parts, body)) => Answer::Response {
                status: parts.status.as_u16(),
                headers: headers(&parts.headers),
                body: Octets::of(&body),
            },
            Err(e) => Answer::Failed {
                kind: kind_of(&e).to_owned(),
                message: e.to_string(),
            },
        }
    };
    let answer = tape
        .exchange("http", "send", recorded_request, live)
        .await
        .map_err(|unrecorded| Error::InternalError(Some(unrecorded.to_string())))?;
    match answer {
        Answer::Response {
            status,
            headers,
            body,
        } => {
            let mut response = http::Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value.into_bytes());
            }
            let response = response
                .body(
                    Full::new(Bytes::from(body.into_bytes()))
                        .map_err(|e| match e {})
                        .boxed_unsync(),
                )
                .map_err(|e| {
                    Error::InternalError(Some(format!("a recorded response does not read: {e}")))
                })?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        }
        Answer::Failed { kind, message } => Err(error_of(&kind, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_off_the_tape() {
        let mut map = http::HeaderMap::new();
        map.insert("authorization", "Bearer abcdefgh".parse().unwrap());
        map.insert("accept", "application/scim+json".parse().unwrap());
        let kept = serde_json::to_string(&headers(&map)).unwrap();
        assert!(
            !kept.contains("abcdefgh") && kept.contains("scim+json"),
            "{kept}"
        );
        let body =
            redacted_body(br#"{"userName":"a","password":"Secret-123","x":[{"Password":"p2"}]}"#);
        let kept = serde_json::to_string(&body).unwrap();
        assert!(
            !kept.contains("Secret-123") && !kept.contains("p2"),
            "{kept}"
        );
        assert!(kept.contains("userName"), "{kept}");
    }
}
