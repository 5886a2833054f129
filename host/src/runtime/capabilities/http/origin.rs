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

    /// Whether a request to `uri`, whose path is already normalised (see
    /// [`normalise_path`]), may go out.
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

/// A request path in the normal form of RFC 3986 §6.2.2: percent-encoded
/// unreserved characters decoded (so `%2e%2e` is `..`), other escapes in
/// upper case, dot segments removed (§5.2.4), and repeated slashes made
/// one, so that a prefix check sees the path a server will serve. None for
/// a path no server should be asked for: an encoded `/`, `\` or NUL, or a
/// backslash (servers differ on what those mean).
pub fn normalise_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = path.get(i + 1..i + 3)?;
                let byte = u8::from_str_radix(hex, 16).ok()?;
                match byte {
                    b'/' | b'\\' | 0 => return None,
                    b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                        decoded.push(b as char)
                    }
                    b => decoded.push_str(&format!("%{b:02X}")),
                }
                i += 3;
            }
            b'\\' => return None,
            _ => {
                let c = path[i..].chars().next()?;
                decoded.push(c);
                i += c.len_utf8();
            }
        }
    }
    let mut segments: Vec<&str> = Vec::new();
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if trailing && out != "/" {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_before_they_are_compared() {
        let n = |p: &str| normalise_path(p);
        assert_eq!(n("/scim/v2/../../admin").as_deref(), Some("/admin"));
        assert_eq!(n("/scim/v2/%2e%2e/%2E%2E/admin").as_deref(), Some("/admin"));
        assert_eq!(n("/scim//v2///Users").as_deref(), Some("/scim/v2/Users"));
        assert_eq!(n("/scim/./v2/Users/").as_deref(), Some("/scim/v2/Users/"));
        assert_eq!(n("/scim/v2/Us%65rs").as_deref(), Some("/scim/v2/Users"));
        assert_eq!(n("/a%3fb").as_deref(), Some("/a%3Fb"));
        assert_eq!(n("/../../etc").as_deref(), Some("/etc"));
        assert_eq!(n("/scim/v2%2f..%2fadmin"), None);
        assert_eq!(n("/scim\\..\\admin"), None);
        assert_eq!(n("/a%00"), None);
        assert_eq!(n("/a%zz"), None);
        let scim = AllowedOrigin::parse("http://127.0.0.1:8000/scim/v2").unwrap();
        let allowed = |p: &str| {
            normalise_path(p)
                .is_some_and(|p| scim.allows(&format!("http://127.0.0.1:8000{p}").parse().unwrap()))
        };
        assert!(allowed("/scim/v2/Users/../Groups"));
        assert!(!allowed("/scim/v2/../admin"));
        assert!(!allowed("/scim/v2/%2e%2e/admin"));
        assert!(!allowed("//scim/v2/../../admin"));
    }

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
