//! Outgoing HTTP, through the host (`wasi:http`). The host only lets a
//! request through to an origin the operator granted the target
//! (`[targets.<t>.grants.http] allow = [...]`); anything else fails with
//! `permission-denied` naming the URL. Timeouts and body limits are the
//! operator's (`grants.http.timeout`, `max_response_bytes`). Credentials
//! belong in target secrets ([`Config::secret`](crate::Config::secret)),
//! never in logs.
//!
//! ```no_run
//! use provisio_sdk::http::Request;
//!
//! # fn demo(token: &str) -> Result<(), provisio_sdk::Error> {
//! let answer = Request::get("https://api.example.com/scim/v2/Users?count=1")
//!     .header("authorization", &format!("Bearer {token}"))
//!     .send()?;
//! if answer.status == 200 {
//!     let text = answer.text();
//! }
//! # Ok(()) }
//! ```

use crate::Error;
use wasip2::http::outgoing_handler;
use wasip2::http::types as wasi;
use wasip2::io::streams::StreamError;

/// One request, built then sent.
pub struct Request {
    method: wasi::Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

/// An answer, whatever its status: the caller decides what a status means.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of this name (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` in milliseconds, when it is a number of seconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        retry_after_ms(self.header("retry-after")?)
    }

    /// The response for a 2xx; otherwise the connector error its status
    /// means ([`status_error`]), the message naming `what` (say what was
    /// asked, never a credential) and quoting the start of the body.
    ///
    /// ```
    /// # use provisio_sdk::http::Response;
    /// # use provisio_sdk::Error;
    /// let gone = Response { status: 404, headers: vec![], body: b"no such user".to_vec() };
    /// assert!(matches!(gone.error_for_status("GET /users/7"), Err(Error::NotFound(_))));
    /// ```
    pub fn error_for_status(self, what: &str) -> Result<Response, Error> {
        if self.is_success() {
            return Ok(self);
        }
        let body: String = self.text().chars().take(500).collect();
        let message = format!("{what}: the service answered HTTP {}: {body}", self.status);
        Err(status_error(
            self.status,
            self.header("retry-after"),
            message,
        ))
    }

    /// The body as JSON, or `failed` saying it is not.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::failed(format!(
                "the service answered HTTP {} with a body that is not JSON: {e}",
                self.status
            ))
        })
    }
}

/// What an HTTP error status means for the engine, as the bundled SCIM
/// connector maps it: 404 `not-found`; 409 `already-exists`; 401 and 403
/// `permission-denied`; 429 `rate-limited` (after `Retry-After`, else a
/// second); 503 `rate-limited` with a `Retry-After`, else `unavailable`;
/// other 5xx `unavailable` (retried); every other status `invalid` (the
/// request was wrong: final).
pub fn status_error(status: u16, retry_after: Option<&str>, message: String) -> Error {
    let retry_ms = retry_after.and_then(retry_after_ms);
    match status {
        404 => Error::not_found(message),
        409 => Error::already_exists(message),
        401 | 403 => Error::permission_denied(message),
        429 => Error::rate_limited(retry_ms.unwrap_or(1000), message),
        503 => match retry_ms {
            Some(ms) => Error::rate_limited(ms, message),
            None => Error::unavailable(message),
        },
        500..=599 => Error::unavailable(message),
        _ => Error::invalid(message),
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3, delay-seconds) in
/// milliseconds, saturating: a hostile or broken service cannot overflow
/// it. The host caps what it waits at the target's `max_backoff` anyway.
/// An HTTP-date is not read (None).
pub fn retry_after_ms(value: &str) -> Option<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1000))
}

impl Request {
    fn new(method: wasi::Method, url: &str) -> Self {
        Request {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(url: &str) -> Self {
        Self::new(wasi::Method::Get, url)
    }
    pub fn post(url: &str) -> Self {
        Self::new(wasi::Method::Post, url)
    }
    pub fn put(url: &str) -> Self {
        Self::new(wasi::Method::Put, url)
    }
    pub fn patch(url: &str) -> Self {
        Self::new(wasi::Method::Patch, url)
    }
    pub fn delete(url: &str) -> Self {
        Self::new(wasi::Method::Delete, url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// A body with its content type; `Content-Length` is set from it.
    /// A JSON body (`content-type: application/json`).
    pub fn json(self, body: &serde_json::Value) -> Self {
        self.body("application/json", body.to_string())
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        self.headers
            .push(("content-type".into(), content_type.as_bytes().to_vec()));
        self.headers
            .push(("content-length".into(), body.len().to_string().into_bytes()));
        self.body = Some(body);
        self
    }

    /// The request as a native test's fake sees it.
    #[cfg(not(target_arch = "wasm32"))]
    fn as_sent(&self) -> crate::native::SentRequest {
        crate::native::SentRequest {
            method: self.method_name().to_owned(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone().unwrap_or_default(),
        }
    }

    fn method_name(&self) -> &str {
        match &self.method {
            wasi::Method::Get => "GET",
            wasi::Method::Post => "POST",
            wasi::Method::Put => "PUT",
            wasi::Method::Patch => "PATCH",
            wasi::Method::Delete => "DELETE",
            wasi::Method::Head => "HEAD",
            wasi::Method::Options => "OPTIONS",
            wasi::Method::Connect => "CONNECT",
            wasi::Method::Trace => "TRACE",
            wasi::Method::Other(m) => m,
        }
    }

    fn describe(&self) -> String {
        let method = self.method_name();
        // Scheme, host and path only: a query may carry secrets.
        format!(
            "{method} {}",
            self.url.split('?').next().unwrap_or_default()
        )
    }

    /// Sends it and reads the whole answer. Transport failures are
    /// `unavailable` (retried by the host); a destination the target does
    /// not grant is `permission-denied`.
    pub fn send(self) -> Result<Response, Error> {
        let what = self.describe();
        // A native build (a connector's unit tests) asks the fake.
        #[cfg(not(target_arch = "wasm32"))]
        if !cfg!(target_arch = "wasm32") {
            let answered = crate::native::http_send(self.as_sent(), &what)?;
            return Ok(Response {
                status: answered.status,
                headers: answered.headers,
                body: answered.body,
            });
        }
        let (scheme, rest) = self
            .url
            .split_once("://")
            .ok_or_else(|| Error::invalid(format!("{what}: the URL has no scheme")))?;
        let (authority, path_and_query) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        // A known length, 0 included: without it the host's client streams
        // the body chunked, and a server that does not read a DELETE's or
        // GET's (empty) chunked body closes the connection with the
        // terminator unread, which can reset it before the answer arrives.
        let mut headers = self.headers.clone();
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        {
            let length = self.body.as_ref().map_or(0, Vec::len);
            headers.push(("content-length".into(), length.to_string().into_bytes()));
        }
        let fields = wasi::Fields::from_list(&headers)
            .map_err(|e| Error::invalid(format!("{what}: a header is not valid: {e:?}")))?;
        let request = wasi::OutgoingRequest::new(fields);
        let scheme = match scheme {
            "https" => wasi::Scheme::Https,
            "http" => wasi::Scheme::Http,
            other => wasi::Scheme::Other(other.to_owned()),
        };
        let valid = request.set_method(&self.method).is_ok()
            && request.set_scheme(Some(&scheme)).is_ok()
            && request.set_authority(Some(authority)).is_ok()
            && request.set_path_with_query(Some(path_and_query)).is_ok();
        if !valid {
            return Err(Error::invalid(format!("{what}: not a valid request URL")));
        }
        let outgoing = request
            .body()
            .map_err(|_| Error::failed("the request body was taken"))?;
        // No request-options: wasmtime-wasi-http 48 keeps the handle of
        // options passed to `handle` for the instance's life (one leaked
        // handle per request), and the operator's grant sets the timeouts.
        let future = outgoing_handler::handle(request, None)
            .map_err(|code| send_error(&what, &self.url, code))?;
        // Write the body, then wait for the answer: a refused request shows
        // up as a closed body stream first, so the answer's code decides.
        let mut write_failed = false;
        if let Ok(stream) = outgoing.write() {
            for chunk in self.body.as_deref().unwrap_or_default().chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    write_failed = true;
                    break;
                }
            }
        }
        let finished = wasi::OutgoingBody::finish(outgoing, None);
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(send_error(&what, &self.url, code)),
            _ => return Err(Error::unavailable(format!("{what}: no answer"))),
        };
        if write_failed || finished.is_err() {
            return Err(Error::unavailable(format!(
                "{what}: sending the request body failed"
            )));
        }
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|_| Error::failed("the response body was taken"))?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|_| Error::failed("the response body stream was taken"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
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
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn send_error(what: &str, url: &str, code: wasi::ErrorCode) -> Error {
    match code {
        wasi::ErrorCode::HttpRequestDenied => Error::permission_denied(format!(
            "{what}: the host refused the destination {}: it is not in the target's grants.http.allow",
            url.split('?').next().unwrap_or_default()
        )),
        wasi::ErrorCode::HttpResponseBodySize(_) => Error::failed(format!(
            "{what}: the answer is larger than the target's grants.http.max_response_bytes"
        )),
        other => Error::unavailable(format!("{what}: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_is_read_in_seconds_and_saturates() {
        assert_eq!(super::retry_after_ms(" 7 "), Some(7000));
        assert_eq!(super::retry_after_ms(&u64::MAX.to_string()), Some(u64::MAX));
        assert_eq!(super::retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> super::Response {
        super::Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_become_the_errors_the_engine_acts_on() {
        use crate::Error;
        let error = |status, headers: &[(&str, &str)]| {
            answer(status, headers, "the body")
                .error_for_status("GET /users/7")
                .unwrap_err()
        };
        assert!(answer(204, &[], "").error_for_status("x").is_ok());
        assert!(
            matches!(error(404, &[]), Error::NotFound(m) if m == "GET /users/7: the service answered HTTP 404: the body")
        );
        assert!(matches!(error(409, &[]), Error::AlreadyExists(_)));
        assert!(matches!(error(401, &[]), Error::PermissionDenied(_)));
        assert!(matches!(error(403, &[]), Error::PermissionDenied(_)));
        assert!(
            matches!(error(429, &[("Retry-After", "30")]), Error::RateLimited(r) if r.retry_after_ms == 30_000)
        );
        assert!(matches!(error(429, &[]), Error::RateLimited(r) if r.retry_after_ms == 1000));
        assert!(
            matches!(error(503, &[("retry-after", "2")]), Error::RateLimited(r) if r.retry_after_ms == 2000)
        );
        assert!(matches!(error(503, &[]), Error::Unavailable(_)));
        assert!(matches!(error(502, &[]), Error::Unavailable(_)));
        assert!(matches!(error(400, &[]), Error::Invalid(_)));
        assert!(matches!(error(422, &[]), Error::Invalid(_)));
    }

    #[test]
    fn a_long_body_is_quoted_only_in_part() {
        let long = "x".repeat(10_000);
        let message = format!(
            "{:?}",
            answer(500, &[], &long)
                .error_for_status("GET /")
                .unwrap_err()
        );
        assert!(message.len() < 700, "{}", message.len());
    }

    #[test]
    fn json_bodies_are_read_or_refused_clearly() {
        assert_eq!(answer(200, &[], r#"{"id": 7}"#).json().unwrap()["id"], 7);
        let refused = answer(200, &[], "<html>").json().unwrap_err();
        assert!(format!("{refused:?}").contains("not JSON"), "{refused:?}");
    }
}
