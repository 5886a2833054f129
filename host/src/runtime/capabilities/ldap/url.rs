//! Directory URLs as the host compares them.

/// `ldap://HOST:PORT` from a URL, or why it is not one.
pub fn normalise_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let default_port = match parsed.scheme() {
        "ldap" => 389,
        "ldaps" => 636,
        other => {
            return Err(format!(
                "{url:?}: the scheme is {other:?}, not ldap or ldaps"
            ));
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{url:?} names no host"))?;
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(format!(
            "{url:?}: a directory URL is scheme://host:port, without a DN or query"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{url:?} holds credentials; they belong in bind_dn and password"
        ));
    }
    Ok(format!(
        "{}://{}:{}",
        parsed.scheme(),
        host,
        parsed.port().unwrap_or(default_port)
    ))
}
