//! The origins a target may reach: scheme, host, port and a path prefix.

use http::Uri;

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

    pub(super) fn allows(&self, uri: &Uri) -> bool {
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
