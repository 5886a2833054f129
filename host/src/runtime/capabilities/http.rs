//! Outgoing HTTP (`wasi:http`), only to the origins the operator grants a
//! target: scheme, host and port, and optionally a path prefix. Anything
//! else is refused before a connection is opened, and logged. The operator
//! also bounds the time of a request and the size of its bodies.

use bytes::Bytes;
use http::Uri;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Imports of outgoing HTTP start with this, whatever their version.
pub const HTTP_PACKAGE: &str = "wasi:http/";

/// One origin a target may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Requests must start with this path (`/` for any).
    pub path_prefix: String,
}

impl AllowedOrigin {
    /// `https://api.example.com`, `http://127.0.0.1:8080/scim/v2`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| format!("{text:?} has no scheme (http:// or https://)"))?
            .to_ascii_lowercase();
        let port = match (uri.port_u16(), scheme.as_str()) {
            (Some(p), _) => p,
            (None, "https") => 443,
            (None, "http") => 80,
            (None, other) => return Err(format!("{text:?}: unsupported scheme {other}")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("{text:?} has no host"))?
            .to_ascii_lowercase();
        if uri.query().is_some() {
            return Err(format!("{text:?}: an allowed origin has no query"));
        }
        let path_prefix = match uri.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        Ok(AllowedOrigin {
            scheme,
            host,
            port,
            path_prefix,
        })
    }

    fn allows(&self, uri: &Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let path = uri.path();
        scheme == self.scheme
            && uri
                .host()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && port == self.port
            && (self.path_prefix == "/"
                || path == self.path_prefix.trim_end_matches('/')
                || path.starts_with(&format!("{}/", self.path_prefix.trim_end_matches('/'))))
    }
}

/// What a target may send and receive over HTTP.
#[derive(Debug, Clone)]
pub struct HttpGrant {
    pub allow: Vec<AllowedOrigin>,
    /// Connecting, and waiting for the first byte, each take at most this.
    pub timeout: Duration,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
}

/// The `wasi:http` hooks of one instance: the grant (if any) enforced on
/// every request.
pub struct HttpHooks {
    target: String,
    grant: Option<Arc<HttpGrant>>,
}

impl HttpHooks {
    pub fn new(target: &str, grant: Option<Arc<HttpGrant>>) -> Self {
        HttpHooks {
            target: target.to_owned(),
            grant,
        }
    }
}

type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

fn shorter(a: Option<Duration>, b: Duration) -> Option<Duration> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let uri = request.uri().clone();
        let grant = match &self.grant {
            Some(grant) if grant.allow.iter().any(|o| o.allows(&uri)) => grant.clone(),
            _ => {
                // Only scheme, host, port and path: a query may carry secrets.
                tracing::warn!(
                    target = %self.target,
                    destination = %format!("{}://{}{}", uri.scheme_str().unwrap_or("?"), uri.authority().map(|a| a.as_str()).unwrap_or("?"), uri.path()),
                    "refused an HTTP request to a destination the target does not grant"
                );
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        };
        let options = RequestOptions {
            connect_timeout: shorter(options.and_then(|o| o.connect_timeout), grant.timeout),
            first_byte_timeout: shorter(options.and_then(|o| o.first_byte_timeout), grant.timeout),
            between_bytes_timeout: shorter(
                options.and_then(|o| o.between_bytes_timeout),
                grant.timeout,
            ),
        };
        let (parts, body) = request.into_parts();
        let max_request = grant.max_request_bytes;
        let body = http_body_util::Limited::new(body, max_request)
            .map_err(move |_| Error::HttpRequestBodySize(Some(max_request as u64)))
            .boxed_unsync();
        let request = http::Request::from_parts(parts, body);
        let max_response = grant.max_response_bytes;
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let response = response.map(|body| {
                http_body_util::Limited::new(body, max_response)
                    .map_err(move |_| Error::HttpResponseBodySize(Some(max_response as u64)))
                    .map_frame(|f: http_body::Frame<Bytes>| f)
                    .boxed_unsync()
            });
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_scheme_host_port_and_path() {
        let scim = AllowedOrigin::parse("http://127.0.0.1:8000/scim/v2").unwrap();
        let ok = |u: &str| scim.allows(&u.parse().unwrap());
        assert!(ok("http://127.0.0.1:8000/scim/v2/Users"));
        assert!(ok("http://127.0.0.1:8000/scim/v2"));
        assert!(!ok("http://127.0.0.1:8000/scim/v2x/Users"));
        assert!(!ok("http://127.0.0.1:8000/admin"));
        assert!(!ok("https://127.0.0.1:8000/scim/v2/Users"));
        assert!(!ok("http://127.0.0.1:8001/scim/v2/Users"));
        assert!(!ok("http://localhost:8000/scim/v2/Users"));
        let any = AllowedOrigin::parse("https://API.example.com").unwrap();
        assert_eq!((any.port, any.path_prefix.as_str()), (443, "/"));
        assert!(any.allows(&"https://api.example.com/x?y=1".parse().unwrap()));
        assert!(AllowedOrigin::parse("ftp://x").is_err());
        assert!(AllowedOrigin::parse("example.com").is_err());
    }
}
