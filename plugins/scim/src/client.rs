//! Requests to the SCIM service and its answers as connector errors:
//! 409 already-exists, 404 not-found, 429 and 503 with `Retry-After`
//! rate-limited and unavailable, other 5xx unavailable, 401/403
//! permission-denied, other 4xx invalid with the service's `detail`.

use crate::settings::{Credentials, Settings};
use provisio_sdk::Error;
use serde_json::Value as Json;
use std::cell::RefCell;
use std::time::{Duration, Instant};
use wasip2::http::outgoing_handler;
use wasip2::http::types as http;
pub use wasip2::http::types::Method;
use wasip2::io::streams::StreamError;

pub struct Scim {
    base_url: String,
    auth: Auth,
    timeout: Duration,
}

/// How requests are authorised.
enum Auth {
    /// A fixed `Authorization` value (bearer or basic), or none.
    Fixed(Option<String>),
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): a token fetched from
    /// the token endpoint, kept until shortly before it expires.
    ClientCredentials {
        token_url: String,
        client: String,
        scope: Option<String>,
        cached: RefCell<Option<(String, Instant)>>,
    },
}

pub struct Answer {
    pub status: u16,
    pub body: Json,
    pub etag: Option<String>,
}

/// An HTTP answer before any SCIM meaning.
struct Raw {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
    }

    fn json(&self) -> Json {
        let text = String::from_utf8_lossy(&self.body);
        if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Json::String(text.into_owned()))
        }
    }
}

/// Renew a token this long before the service says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

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

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

impl Scim {
    pub fn new(settings: &Settings) -> Self {
        let auth = match &settings.credentials {
            Credentials::Bearer(token) => Auth::Fixed(Some(format!("Bearer {}", token.expose()))),
            Credentials::Basic(user, password) => {
                Auth::Fixed(Some(basic(user.expose(), password.expose())))
            }
            Credentials::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => Auth::ClientCredentials {
                token_url: token_url.clone(),
                // RFC 6749 §2.3.1: the client authenticates with HTTP basic.
                client: basic(
                    &crate::mapping::encode_query(client_id.expose()),
                    &crate::mapping::encode_query(client_secret.expose()),
                ),
                scope: scope.clone(),
                cached: RefCell::new(None),
            },
            Credentials::None => Auth::Fixed(None),
        };
        Scim {
            base_url: settings.base_url.clone(),
            auth,
            timeout: Duration::from_secs(settings.timeout_seconds),
        }
    }

    /// The `Authorization` value, fetching a token first when needed.
    fn authorization(&self) -> Result<Option<String>, Error> {
        let (token_url, client, scope, cached) = match &self.auth {
            Auth::Fixed(value) => return Ok(value.clone()),
            Auth::ClientCredentials {
                token_url,
                client,
                scope,
                cached,
            } => (token_url, client, scope, cached),
        };
        if let Some((token, until)) = &*cached.borrow()
            && Instant::now() < *until
        {
            return Ok(Some(format!("Bearer {token}")));
        }
        let mut form = "grant_type=client_credentials".to_owned();
        if let Some(scope) = scope {
            form.push_str(&format!("&scope={}", crate::mapping::encode_query(scope)));
        }
        let what = format!("POST {token_url} (OAuth token)");
        let raw = self.exchange(
            &what,
            &Method::Post,
            token_url,
            vec![("authorization".into(), client.as_bytes().to_vec())],
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
        )?;
        let body = raw.json();
        if !(200..300).contains(&raw.status) {
            let reason = body
                .get("error_description")
                .or_else(|| body.get("error"))
                .and_then(Json::as_str)
                .unwrap_or("");
            return Err(match raw.status {
                400 | 401 | 403 => Error::permission_denied(format!(
                    "{what}: the token endpoint refused the client credentials (HTTP {}): {reason}",
                    raw.status
                )),
                _ => error_for(
                    &what,
                    raw.status,
                    raw.header("retry-after").as_deref(),
                    &body,
                ),
            });
        }
        let token = body
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::failed(format!("{what}: the answer has no access_token")))?
            .to_owned();
        let lifetime = body.get("expires_in").and_then(Json::as_u64).unwrap_or(300);
        let until = Instant::now() + Duration::from_secs(lifetime).saturating_sub(TOKEN_MARGIN);
        *cached.borrow_mut() = Some((token.clone(), until));
        Ok(Some(format!("Bearer {token}")))
    }

    /// Forgets a cached token the service refused.
    fn forget_token(&self) -> bool {
        match &self.auth {
            Auth::ClientCredentials { cached, .. } => cached.borrow_mut().take().is_some(),
            Auth::Fixed(_) => false,
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
        let body = body.map(|json| ("application/scim+json", json.to_string().into_bytes()));
        let mut retried = false;
        loop {
            let mut headers: Vec<(String, Vec<u8>)> = vec![(
                "accept".into(),
                b"application/scim+json, application/json".to_vec(),
            )];
            if let Some(auth) = self.authorization()? {
                headers.push(("authorization".into(), auth.into_bytes()));
            }
            if let Some(etag) = if_match {
                headers.push(("if-match".into(), etag.as_bytes().to_vec()));
            }
            let raw = self.exchange(&what, &method, &url, headers, body.clone())?;
            // A token revoked or expired early: fetch a new one, once.
            if raw.status == 401 && !retried && self.forget_token() {
                retried = true;
                continue;
            }
            let json = raw.json();
            if (200..300).contains(&raw.status) {
                return Ok(Answer {
                    status: raw.status,
                    etag: raw.header("etag"),
                    body: json,
                });
            }
            return Err(error_for(
                &what,
                raw.status,
                raw.header("retry-after").as_deref(),
                &json,
            ));
        }
    }

    /// One HTTP exchange through `wasi:http`.
    fn exchange(
        &self,
        what: &str,
        method: &Method,
        url: &str,
        mut headers: Vec<(String, Vec<u8>)>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Raw, Error> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::invalid(format!("{what}: {url:?} has no scheme")))?;
        let (authority, path_and_query) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if let Some((content_type, bytes)) = &body {
            headers.push(("content-type".into(), content_type.as_bytes().to_vec()));
            headers.push((
                "content-length".into(),
                bytes.len().to_string().into_bytes(),
            ));
        }
        let fields = http::Fields::from_list(&headers)
            .map_err(|e| Error::invalid(format!("{what}: a header is not valid: {e:?}")))?;
        let request = http::OutgoingRequest::new(fields);
        let scheme = match scheme {
            "https" => http::Scheme::Https,
            "http" => http::Scheme::Http,
            other => http::Scheme::Other(other.to_owned()),
        };
        let ok = request.set_method(method).is_ok()
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
            .map_err(|code| send_error(what, url, code))?;
        // Write the body, then wait for the answer; a refused request shows
        // up as a closed body stream first, so the answer's code decides.
        let mut write_failed = false;
        if let Ok(stream) = outgoing.write() {
            for chunk in body
                .as_ref()
                .map(|(_, b)| b.as_slice())
                .unwrap_or_default()
                .chunks(4096)
            {
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
            Some(Ok(Err(code))) => return Err(send_error(what, url, code)),
            _ => {
                return Err(Error::unavailable(format!(
                    "{what}: no answer from the service"
                )));
            }
        };
        if write_failed || finished.is_err() {
            return Err(Error::unavailable(format!(
                "{what}: sending the request body failed"
            )));
        }
        let status = response.status();
        let headers = response.headers().entries();
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
        Ok(Raw {
            status,
            headers,
            body: bytes,
        })
    }
}

fn send_error(what: &str, url: &str, code: http::ErrorCode) -> Error {
    match code {
        http::ErrorCode::HttpRequestDenied => Error::permission_denied(format!(
            "{what}: the host refused the destination {url}: it is not in the target's grants.http.allow"
        )),
        other => Error::unavailable(format!("{what}: cannot reach the service: {other:?}")),
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
