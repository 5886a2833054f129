//! Requests to the SCIM service and its answers as connector errors:
//! 409 already-exists, 404 not-found, 429 and 503 with `Retry-After`
//! rate-limited and unavailable, other 5xx unavailable, 401/403
//! permission-denied, other 4xx invalid with the service's `detail`.

use crate::settings::{Credentials, Settings};
use provisio_sdk::Error;
use serde_json::Value as Json;
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types as http;
pub use wasip2::http::types::Method;
use wasip2::io::streams::StreamError;

pub struct Scim {
    base_url: String,
    authorization: Option<String>,
    timeout: Duration,
}

pub struct Answer {
    pub status: u16,
    pub body: Json,
    pub etag: Option<String>,
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Scim {
    pub fn new(settings: &Settings) -> Self {
        let authorization = match &settings.credentials {
            Credentials::Bearer(token) => Some(format!("Bearer {}", token.expose())),
            Credentials::Basic(user, password) => Some(format!(
                "Basic {}",
                base64(format!("{}:{}", user.expose(), password.expose()).as_bytes())
            )),
            Credentials::None => None,
        };
        Scim {
            base_url: settings.base_url.clone(),
            authorization,
            timeout: Duration::from_secs(settings.timeout_seconds),
        }
    }

    /// Sends a request to `path` (under the base URL) and maps a failure.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        if_match: Option<&str>,
    ) -> Result<Answer, Error> {
        let what = format!("{} {path}", method_name(&method));
        let url = format!("{}{path}", self.base_url);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::invalid(format!("base_url {:?} has no scheme", self.base_url)))?;
        let (authority, path_and_query) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let body = body.map(|json| json.to_string().into_bytes());
        let mut headers: Vec<(String, Vec<u8>)> = vec![(
            "accept".into(),
            b"application/scim+json, application/json".to_vec(),
        )];
        if let Some(auth) = &self.authorization {
            headers.push(("authorization".into(), auth.as_bytes().to_vec()));
        }
        if let Some(etag) = if_match {
            headers.push(("if-match".into(), etag.as_bytes().to_vec()));
        }
        if let Some(body) = &body {
            headers.push(("content-type".into(), b"application/scim+json".to_vec()));
            headers.push(("content-length".into(), body.len().to_string().into_bytes()));
        }
        let fields = http::Fields::from_list(&headers)
            .map_err(|e| Error::invalid(format!("{what}: a header is not valid: {e:?}")))?;
        let request = http::OutgoingRequest::new(fields);
        let scheme = match scheme {
            "https" => http::Scheme::Https,
            "http" => http::Scheme::Http,
            other => http::Scheme::Other(other.to_owned()),
        };
        let ok = request.set_method(&method).is_ok()
            && request.set_scheme(Some(&scheme)).is_ok()
            && request.set_authority(Some(authority)).is_ok()
            && request.set_path_with_query(Some(path_and_query)).is_ok();
        if !ok {
            return Err(Error::invalid(format!(
                "{what}: {url} is not a valid request URL"
            )));
        }
        let outgoing = request
            .body()
            .map_err(|_| Error::failed("the request body was taken"))?;
        let options = http::RequestOptions::new();
        let nanos = self.timeout.as_nanos() as u64;
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|code| self.send_error(&what, &url, code))?;
        // Write the body, then wait for the answer; a refused request shows
        // up as a closed body stream first, so the answer's code decides.
        let mut write_failed = false;
        if let Ok(stream) = outgoing.write() {
            for chunk in body.as_deref().unwrap_or_default().chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    write_failed = true;
                    break;
                }
            }
        }
        let finished = http::OutgoingBody::finish(outgoing, None);
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(self.send_error(&what, &url, code)),
            _ => {
                return Err(Error::unavailable(format!(
                    "{what}: no answer from the SCIM service"
                )));
            }
        };
        if write_failed || finished.is_err() {
            return Err(Error::unavailable(format!(
                "{what}: sending the request body failed"
            )));
        }
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .entries()
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| String::from_utf8(v).ok())
        };
        let retry_after = header("retry-after");
        let etag = header("etag");
        let mut bytes = Vec::new();
        let incoming = response
            .consume()
            .map_err(|_| Error::failed("the response body was taken"))?;
        {
            let stream = incoming
                .stream()
                .map_err(|_| Error::failed("the response body stream was taken"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(Error::unavailable(format!(
                            "{what}: reading the answer failed: {}",
                            e.to_debug_string()
                        )));
                    }
                }
            }
        }
        drop(incoming);
        let text = String::from_utf8_lossy(&bytes);
        let body: Json = if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Json::String(text.into_owned()))
        };
        if (200..300).contains(&status) {
            return Ok(Answer { status, body, etag });
        }
        Err(error_for(&what, status, retry_after.as_deref(), &body))
    }

    fn send_error(&self, what: &str, url: &str, code: http::ErrorCode) -> Error {
        match code {
            http::ErrorCode::HttpRequestDenied => Error::permission_denied(format!(
                "{what}: the host refused the destination {url}: it is not in the target's grants.http.allow"
            )),
            other => {
                Error::unavailable(format!("{what}: cannot reach the SCIM service: {other:?}"))
            }
        }
    }
}

fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Connect => "CONNECT",
        Method::Trace => "TRACE",
        Method::Other(m) => m,
    }
}

fn error_for(what: &str, status: u16, retry_after: Option<&str>, body: &Json) -> Error {
    let detail = body
        .get("detail")
        .and_then(Json::as_str)
        .or_else(|| body.as_str())
        .unwrap_or("")
        .chars()
        .take(500)
        .collect::<String>();
    let message = format!("{what}: the service answered HTTP {status}: {detail}");
    let retry_ms = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s * 1000);
    match status {
        409 => Error::already_exists(message),
        404 => Error::not_found(message),
        401 | 403 => Error::permission_denied(message),
        412 => Error::unavailable(format!("{message} (changed meanwhile; retry)")),
        429 => Error::rate_limited(retry_ms.unwrap_or(1000), message),
        503 => match retry_ms {
            Some(ms) => Error::rate_limited(ms, message),
            None => Error::unavailable(message),
        },
        500..=599 => Error::unavailable(message),
        _ => Error::invalid(message),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
