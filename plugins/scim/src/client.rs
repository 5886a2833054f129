//! Requests to the SCIM service and its answers as connector errors:
//! 409 already-exists, 404 not-found, 429 and 503 with `Retry-After`
//! rate-limited and unavailable, other 5xx unavailable, 401/403
//! permission-denied, other 4xx invalid with the service's `detail`.

use crate::settings::{Credentials, Settings};
use provisio_sdk::Error;
use provisio_sdk::http::{Request, Response};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::time::{Duration, Instant};

pub struct Scim {
    base_url: String,
    auth: Auth,
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

/// The body of an answer as JSON (or a JSON string of its text).
fn json_of(response: &Response) -> Json {
    let text = response.text();
    if text.trim().is_empty() {
        Json::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Json::String(text))
    }
}

/// Renew a token this long before the service says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {credentials}")
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
            &Method::Post,
            token_url,
            vec![("authorization".into(), client.as_bytes().to_vec())],
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
        )?;
        let body = json_of(&raw);
        if !raw.is_success() {
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
                _ => error_for(&what, raw.status, raw.header("retry-after"), &body),
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
        let mut resent = false;
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
            let raw = match self.exchange(&method, &url, headers, body.clone()) {
                Ok(raw) => raw,
                // The connection failed before an answer (reset, cut
                // short): an idempotent request is safe to send once more.
                Err(Error::Unavailable(_)) if method.is_idempotent() && !resent => {
                    resent = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A token revoked or expired early: fetch a new one, once.
            if raw.status == 401 && !retried && self.forget_token() {
                retried = true;
                continue;
            }
            let json = json_of(&raw);
            if raw.is_success() {
                return Ok(Answer {
                    status: raw.status,
                    etag: raw.header("etag").map(str::to_owned),
                    body: json,
                });
            }
            return Err(error_for(
                &what,
                raw.status,
                raw.header("retry-after"),
                &json,
            ));
        }
    }

    /// One HTTP exchange through the host.
    fn exchange(
        &self,
        method: &Method,
        url: &str,
        headers: Vec<(String, Vec<u8>)>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response, Error> {
        let mut request = match method {
            Method::Get => Request::get(url),
            Method::Post => Request::post(url),
            Method::Put => Request::put(url),
            Method::Patch => Request::patch(url),
            Method::Delete => Request::delete(url),
        };
        for (name, value) in headers {
            request = request.header(&name, &String::from_utf8_lossy(&value));
        }
        if let Some((content_type, bytes)) = body {
            request = request.body(content_type, bytes);
        }
        request.send()
    }
}

/// The methods SCIM uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Sending it twice has the effect of sending it once (RFC 9110 §9.2.2).
    fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
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
    match status {
        // An ETag that no longer matches: read again and retry.
        412 => Error::unavailable(format!("{message} (changed meanwhile; retry)")),
        _ => provisio_sdk::http::status_error(status, retry_after, message),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_are_base64_of_user_colon_password() {
        // RFC 7617 §2's example.
        assert_eq!(
            super::basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
