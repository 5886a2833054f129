//! The `wasi:http` hooks of one instance: the target's grant enforced on
//! every request before a connection is opened, and its bounds on time and
//! body sizes.

use super::origin::{AllowedOrigin, normalise_path};
use crate::runtime::recording::Tape;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

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
    /// Where exchanges are recorded to or answered from, when taped.
    tape: Option<Arc<Tape>>,
}

impl HttpHooks {
    pub fn new(target: &str, grant: Option<Arc<HttpGrant>>, tape: Option<Arc<Tape>>) -> Self {
        HttpHooks {
            target: target.to_owned(),
            grant,
            tape,
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

/// `uri` with its path replaced (the query kept).
fn with_path(uri: &http::Uri, path: &str) -> Option<http::Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

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
        let mut request = request;
        // What is checked is what is sent: the path in normal form.
        let normalised =
            normalise_path(request.uri().path()).and_then(|path| with_path(request.uri(), &path));
        if let Some(uri) = &normalised {
            *request.uri_mut() = uri.clone();
        }
        let uri = request.uri().clone();
        let grant = match (&self.grant, &normalised) {
            (Some(grant), Some(_)) if grant.allow.iter().any(|o| o.allows(&uri)) => grant.clone(),
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
        if let Some(tape) = &self.tape {
            return Box::new(super::recorded::send(
                tape.clone(),
                request,
                options,
                max_response,
            ));
        }
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
