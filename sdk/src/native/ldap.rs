//! LDAP for a native build: a recording's LDAP calls (as the host writes
//! them: `docs/writing-a-connector.md`) answered to a connector's unit
//! tests. The types stand where the host's imports stand in a wasm build,
//! with the same methods; requests are written as the host records them
//! (URLs normalised, password values redacted) so they compare.

use super::calls::{bytes_of, octets, shown};
use super::with_state;
use crate::bindings::provisio::ldap::client::{
    Attribute, Entry, Error as LdapError, LdapResult, Modification, ModifyKind, Page, Scope,
    SearchRequest, Security,
};
use serde_json::{Value as Json, json};

/// Attributes whose values a recording never holds.
const PASSWORD_ATTRIBUTES: &[&str] = &["userpassword", "unicodepwd"];
/// What a recording holds in place of a password.
const REDACTED: &str = "<redacted>";

fn values(attribute: &str, values: &[Vec<u8>]) -> Vec<Json> {
    if PASSWORD_ATTRIBUTES.contains(&attribute.to_ascii_lowercase().as_str()) {
        return values.iter().map(|_| json!(REDACTED)).collect();
    }
    values.iter().map(|v| octets(v)).collect()
}

/// `scheme://host:port` as the host compares directory URLs, or why `url`
/// is not one.
fn normalise(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "ldap" => 389,
        "ldaps" => 636,
        other => {
            return Err(format!(
                "{url:?}: the scheme is {other:?}, not ldap or ldaps"
            ));
        }
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?']) {
        return Err(format!(
            "{url:?}: a directory URL is scheme://host:port, without a DN or query"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "{url:?} holds credentials; they belong in bind_dn and password"
        ));
    }
    // An IPv6 literal keeps its brackets; the port follows the last colon
    // outside them.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("{url:?}: {port:?} is not a port"))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    if host.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    Ok(format!("{scheme}://{}:{port}", host.to_ascii_lowercase()))
}

/// The recorded answer to `call` with `request`: its `Ok` member, or the
/// error it holds.
fn answer(call: &str, request: Json) -> Result<Json, LdapError> {
    with_state("used a directory", |state| {
        let request = state.scrubbed(&request);
        let response = state
            .ldap
            .answer("ldap", call, &request)
            .map_err(LdapError::Failed)?;
        match (response.get("Ok"), response.get("Err")) {
            (Some(ok), _) => Ok(ok.clone()),
            (None, Some(err)) => Err(error_of(err)),
            _ => Err(LdapError::Failed(format!(
                "a recorded answer of no known shape: {response}"
            ))),
        }
    })
}

fn error_of(recorded: &Json) -> LdapError {
    let Some((kind, inner)) = recorded.as_object().and_then(|o| o.iter().next()) else {
        return LdapError::Failed(format!("a recorded error of no known shape: {recorded}"));
    };
    let text = || inner.as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "not-granted" => LdapError::NotGranted(text()),
        "unavailable" => LdapError::Unavailable(text()),
        "invalid" => LdapError::Invalid(text()),
        "server" => LdapError::Server(LdapResult {
            code: inner["code"]
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(80),
            matched_dn: inner["matched_dn"].as_str().unwrap_or_default().to_owned(),
            message: inner["message"].as_str().unwrap_or_default().to_owned(),
        }),
        "failed" => LdapError::Failed(text()),
        _ => LdapError::Failed(format!("a recorded error of no known kind: {recorded}")),
    }
}

fn misshapen(what: &str, recorded: &Json, reason: String) -> LdapError {
    LdapError::Failed(format!(
        "a recorded {what} does not read ({reason}): {}",
        shown(recorded)
    ))
}

fn entry_of(recorded: &Json) -> Result<Entry, LdapError> {
    let bad = |reason: String| misshapen("entry", recorded, reason);
    let dn = recorded["dn"].as_str().ok_or_else(|| bad("no dn".into()))?;
    let mut attributes = Vec::new();
    for attribute in recorded["attributes"].as_array().into_iter().flatten() {
        let name = attribute["name"]
            .as_str()
            .ok_or_else(|| bad("an attribute has no name".into()))?;
        let values = attribute["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(bytes_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        attributes.push(Attribute {
            name: name.to_owned(),
            values,
        });
    }
    Ok(Entry {
        dn: dn.to_owned(),
        attributes,
    })
}

fn read_back_of(recorded: &Json) -> Result<Option<Entry>, LdapError> {
    match recorded {
        Json::Null => Ok(None),
        entry => entry_of(entry).map(Some),
    }
}

fn flag(recorded: &Json, call: &str) -> Result<bool, LdapError> {
    recorded
        .as_bool()
        .ok_or_else(|| misshapen(call, recorded, "not true or false".into()))
}

/// A connection to a directory the recording was made against.
pub struct Connection {
    url: String,
    security: Security,
}

impl Connection {
    /// Opens `url` if the recording opened it (with the same security).
    pub fn open(url: &str, start_tls: bool) -> Result<Connection, LdapError> {
        let url = normalise(url).map_err(LdapError::Invalid)?;
        let security = match (url.starts_with("ldaps:"), start_tls) {
            (true, true) => {
                return Err(LdapError::Invalid(
                    "StartTLS is for ldap:// URLs; ldaps:// is already TLS".into(),
                ));
            }
            (true, false) => Security::Ldaps,
            (false, true) => Security::StartTls,
            (false, false) => Security::Plain,
        };
        let connection = Connection { url, security };
        answer("open", connection.recorded())?;
        Ok(connection)
    }

    /// The connection as the host records it in every request.
    fn recorded(&self) -> Json {
        let security = match self.security {
            Security::Plain => "Plain",
            Security::StartTls => "StartTls",
            Security::Ldaps => "Ldaps",
        };
        json!({"url": self.url, "security": security})
    }

    pub fn security(&self) -> Security {
        self.security
    }

    /// The host reads the root DSE with a base search of every user and
    /// operational attribute.
    pub fn root_dse(&self) -> Result<Entry, LdapError> {
        let request = SearchRequest {
            base: String::new(),
            scope: Scope::Base,
            filter: "(objectClass=*)".into(),
            attributes: vec!["*".into(), "+".into()],
            page_size: 0,
            sort: Vec::new(),
            show_deleted: false,
        };
        self.search(&request, &[])?
            .entries
            .into_iter()
            .next()
            .ok_or_else(|| LdapError::Failed("the directory returned no root DSE".into()))
    }

    pub fn search(&self, request: &SearchRequest, cookie: &[u8]) -> Result<Page, LdapError> {
        let scope = match request.scope {
            Scope::Base => "base",
            Scope::OneLevel => "one-level",
            Scope::Subtree => "subtree",
        };
        let sort: Vec<Json> = request
            .sort
            .iter()
            .map(|k| json!([k.attribute, k.reverse]))
            .collect();
        let page = answer(
            "search",
            json!({
                "connection": self.recorded(),
                "base": request.base,
                "scope": scope,
                "filter": request.filter,
                "attributes": request.attributes,
                "page_size": request.page_size,
                "sort": sort,
                "show_deleted": request.show_deleted,
                "cookie": octets(cookie),
            }),
        )?;
        Ok(Page {
            entries: page["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(entry_of)
                .collect::<Result<_, _>>()?,
            cookie: bytes_of(&page["cookie"])
                .map_err(|reason| misshapen("page cookie", &page, reason))?,
        })
    }

    pub fn add(
        &self,
        dn: &str,
        attributes: &[Attribute],
        read_back: &[String],
    ) -> Result<Option<Entry>, LdapError> {
        let attributes: Vec<Json> = attributes
            .iter()
            .map(|a| json!({"name": a.name, "values": values(&a.name, &a.values)}))
            .collect();
        let request = json!({
            "connection": self.recorded(),
            "dn": dn,
            "attributes": attributes,
            "read_back": read_back,
        });
        read_back_of(&answer("add", request)?)
    }

    pub fn modify(
        &self,
        dn: &str,
        changes: &[Modification],
        read_back: &[String],
    ) -> Result<Option<Entry>, LdapError> {
        let changes: Vec<Json> = changes
            .iter()
            .map(|m| {
                let kind = match m.kind {
                    ModifyKind::Add => "add",
                    ModifyKind::Delete => "delete",
                    ModifyKind::Replace => "replace",
                };
                json!({"kind": kind, "attribute": m.attribute, "values": values(&m.attribute, &m.values)})
            })
            .collect();
        let request = json!({
            "connection": self.recorded(),
            "dn": dn,
            "changes": changes,
            "read_back": read_back,
        });
        read_back_of(&answer("modify", request)?)
    }

    pub fn modify_dn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<(), LdapError> {
        let request = json!({
            "connection": self.recorded(),
            "dn": dn,
            "new_rdn": new_rdn,
            "delete_old_rdn": delete_old_rdn,
            "new_superior": new_superior,
        });
        answer("modify-dn", request).map(drop)
    }

    pub fn delete(&self, dn: &str) -> Result<(), LdapError> {
        answer("delete", json!({"connection": self.recorded(), "dn": dn})).map(drop)
    }

    pub fn compare(&self, dn: &str, attribute: &str, value: &[u8]) -> Result<bool, LdapError> {
        let request = json!({
            "connection": self.recorded(),
            "dn": dn,
            "attribute": attribute,
            "value": values(attribute, &[value.to_vec()]),
        });
        flag(&answer("compare", request)?, "compare")
    }

    /// The recording holds no passwords: checks of `dn` are answered in
    /// the order they were recorded, whatever password is asked. An empty
    /// one is refused without asking, as the host refuses it.
    pub fn check_password(&self, dn: &str, password: &str) -> Result<bool, LdapError> {
        if password.is_empty() {
            return Ok(false);
        }
        let request = json!({"connection": self.recorded(), "dn": dn, "password": REDACTED});
        flag(&answer("check-password", request)?, "check-password")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalise_as_the_host_normalises_them() {
        assert_eq!(
            normalise("ldap://127.0.0.1").unwrap(),
            "ldap://127.0.0.1:389"
        );
        assert_eq!(
            normalise("LDAPS://DC.Example.com/").unwrap(),
            "ldaps://dc.example.com:636"
        );
        assert_eq!(normalise("ldap://[::1]:1389").unwrap(), "ldap://[::1]:1389");
        assert_eq!(normalise("ldap://[::1]").unwrap(), "ldap://[::1]:389");
        for bad in [
            "127.0.0.1",
            "http://h",
            "ldap://h/dc=x",
            "ldap://u:p@h",
            "ldap://:389",
            "ldap://h:x",
        ] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
    }
}
