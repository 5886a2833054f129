//! The directory grant of one target: the URLs it may open, the
//! credentials the host binds with, and the connections it shares between
//! the target's instances.

use super::calls::{
    ConnectionHandle, ConnectionKey, Modification, ModifyKind, ScopeKind, SearchPage, SearchSpec,
    Security,
};
use super::error::LdapError;
use super::recorded;
use super::url::normalise_url;
use super::wire::{self, RawEntry};
use crate::runtime::HostBudget;
use crate::runtime::recording::Tape;
use crate::secret::Secret;
use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult, Mod, Scope};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an entry costs the host: its DN, names and values, and their
/// bookkeeping.
fn entry_bytes(entry: &RawEntry) -> usize {
    64 + entry.dn.len()
        + entry
            .attributes
            .iter()
            .map(|(name, values)| {
                32 + name.len() + values.iter().map(|v| 24 + v.len()).sum::<usize>()
            })
            .sum::<usize>()
}

/// The entry of a post-read response control, when the server sent one.
fn post_read(result: LdapResult) -> Result<Option<RawEntry>, LdapError> {
    result
        .ctrls
        .iter()
        .find(|c| c.1.ctype == wire::POST_READ_OID)
        .and_then(|c| c.1.val.as_deref())
        .map(wire::post_read_entry)
        .transpose()
        .map_err(LdapError::Failed)
}

/// The credentials the host binds with.
#[derive(Debug, Clone)]
pub struct BindCredentials {
    pub dn: String,
    pub password: Secret,
}

/// A directory grant as the operator configures it.
#[derive(Debug, Clone)]
pub struct LdapSpec {
    /// `ldap://host:port` or `ldaps://host:port`, each.
    pub urls: Vec<String>,
    /// None binds anonymously.
    pub bind: Option<BindCredentials>,
    /// PEM file of the CA(s) that sign the directory's certificate; the
    /// system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Off only when the operator says so, and then logged.
    pub tls_verify: bool,
    /// Lets the host send passwords (its bind, and `check-password`) over
    /// a connection that is neither LDAPS nor StartTLS. Off unless the
    /// operator says so, and then logged at start.
    pub allow_plaintext_bind: bool,
    /// Longest one operation (or one page) may take.
    pub timeout: Duration,
}

enum Tls {
    /// Verify against these roots (None: the system's).
    Verify(Option<Arc<rustls::ClientConfig>>),
    Insecure,
}

/// The directory grant of one target, and its open connections.
pub struct LdapGrant {
    urls: Vec<String>,
    bind: Option<BindCredentials>,
    allow_plaintext_bind: bool,
    tls: Tls,
    timeout: Duration,
    connections: Mutex<HashMap<ConnectionKey, Ldap>>,
    /// Where calls are recorded to or answered from, when taped.
    tape: Option<Arc<Tape>>,
}

impl std::fmt::Debug for LdapGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapGrant")
            .field("urls", &self.urls)
            .field("bind_dn", &self.bind.as_ref().map(|b| &b.dn))
            .finish_non_exhaustive()
    }
}

fn load_roots(path: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

impl LdapGrant {
    /// The grant for `target`, connecting lazily: a directory that is down
    /// does not stop the target from starting.
    pub fn new(target: &str, spec: &LdapSpec) -> Result<Self, String> {
        if spec.urls.is_empty() {
            return Err("urls lists no directory".into());
        }
        let urls = spec
            .urls
            .iter()
            .map(|u| normalise_url(u))
            .collect::<Result<_, _>>()?;
        let tls = if spec.tls_verify {
            Tls::Verify(spec.ca_file.as_deref().map(load_roots).transpose()?)
        } else {
            tracing::warn!(
                target: "provisio::ldap",
                target_name = target,
                "TLS certificate verification is OFF for this target's directories (grants.ldap.tls_verify = false)"
            );
            Tls::Insecure
        };
        if spec.allow_plaintext_bind {
            tracing::warn!(
                target: "provisio::ldap",
                target_name = target,
                "passwords may cross unencrypted connections to this target's directories (grants.ldap.allow_plaintext_bind = true)"
            );
        }
        Ok(LdapGrant {
            urls,
            bind: spec.bind.clone(),
            allow_plaintext_bind: spec.allow_plaintext_bind,
            tls,
            timeout: spec.timeout,
            connections: Mutex::new(HashMap::new()),
            tape: None,
        })
    }

    /// Records every call on `tape`, or answers it from there.
    pub fn set_tape(&mut self, tape: Arc<Tape>) {
        self.tape = Some(tape);
    }

    /// `live`'s outcome, recorded when taping; the recorded one, without
    /// running `live`, when replaying.
    async fn taped<T, Fut>(
        &self,
        call: &str,
        request: impl FnOnce() -> serde_json::Value,
        live: Fut,
    ) -> Result<T, LdapError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        match &self.tape {
            None => live.await,
            Some(tape) => tape
                .exchange("ldap", call, request(), live)
                .await
                .unwrap_or_else(|unrecorded| Err(LdapError::Failed(unrecorded.to_string()))),
        }
    }

    fn replaying(&self) -> bool {
        self.tape.as_ref().is_some_and(|t| t.replaying())
    }

    /// The password the host binds with, if it binds.
    pub fn bind_password(&self) -> Option<&Secret> {
        self.bind.as_ref().map(|b| &b.password)
    }

    /// A handle on `url` if it was granted; connects (and binds) now, so a
    /// directory that is down or refuses the credentials says so here.
    pub async fn open(&self, url: &str, start_tls: bool) -> Result<ConnectionHandle, LdapError> {
        let normalised = normalise_url(url).map_err(LdapError::Invalid)?;
        if !self.urls.contains(&normalised) {
            return Err(LdapError::NotGranted(format!(
                "{normalised} is not granted to this target (granted: {})",
                self.urls.join(", ")
            )));
        }
        let security = match (normalised.starts_with("ldaps:"), start_tls) {
            (true, true) => {
                return Err(LdapError::Invalid(
                    "StartTLS is for ldap:// URLs; ldaps:// is already TLS".into(),
                ));
            }
            (true, false) => Security::Ldaps,
            (false, true) => Security::StartTls,
            (false, false) => Security::Plain,
        };
        if security == Security::Plain && self.bind.is_some() {
            self.plaintext_allowed("bind as the granted account")?;
        }
        let handle = ConnectionHandle {
            key: ConnectionKey {
                url: normalised,
                security,
            },
        };
        self.taped(
            "open",
            || recorded::open(&handle),
            self.run(&handle, "opening the directory", |_| async { Ok(()) }),
        )
        .await?;
        Ok(handle)
    }

    /// Refuses to send a password over an unencrypted connection unless
    /// the operator allowed it for this grant.
    fn plaintext_allowed(&self, what: &str) -> Result<(), LdapError> {
        if self.allow_plaintext_bind {
            return Ok(());
        }
        Err(LdapError::NotGranted(format!(
            "the host will not {what} over an unencrypted connection: the password would cross the network in clear. \
             Use ldaps://, or StartTLS on ldap://, or set grants.ldap.allow_plaintext_bind = true"
        )))
    }

    fn settings(&self, security: Security) -> LdapConnSettings {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(security == Security::StartTls);
        match &self.tls {
            Tls::Insecure => settings = settings.set_no_tls_verify(true),
            Tls::Verify(Some(config)) => settings = settings.set_config(config.clone()),
            Tls::Verify(None) => {}
        }
        settings
    }

    /// A new, unbound connection to `key`, its driver on the runtime.
    async fn dial(&self, key: &ConnectionKey) -> Result<Ldap, LdapError> {
        let (conn, ldap) =
            LdapConnAsync::with_settings(self.settings(key.security), &key.url).await?;
        let url = key.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(target: "provisio::ldap", %url, "directory connection closed: {e}");
            }
        });
        Ok(ldap)
    }

    async fn connect(&self, key: &ConnectionKey) -> Result<Ldap, LdapError> {
        let mut ldap = self.dial(key).await?;
        if let Some(bind) = &self.bind {
            ldap.with_timeout(self.timeout)
                .simple_bind(&bind.dn, bind.password.expose())
                .await?
                .success()
                .map_err(|e| match LdapError::from(e) {
                    LdapError::Server { code: 49, .. } => LdapError::Server {
                        code: 49,
                        matched_dn: String::new(),
                        message: format!(
                            "the directory refused the granted credentials of {}",
                            bind.dn
                        ),
                    },
                    other => other,
                })?;
        }
        tracing::debug!(target: "provisio::ldap", url = %key.url, security = ?key.security, "connected to the directory");
        Ok(ldap)
    }

    /// The shared connection for `key`, opening it when there is none or
    /// the last one closed.
    async fn connection(&self, key: &ConnectionKey) -> Result<Ldap, LdapError> {
        let cached = self
            .connections
            .lock()
            .expect("connection map poisoned")
            .get(key)
            .cloned();
        if let Some(mut ldap) = cached
            && !ldap.is_closed()
        {
            return Ok(ldap);
        }
        let ldap = self.connect(key).await?;
        self.connections
            .lock()
            .expect("connection map poisoned")
            .insert(key.clone(), ldap.clone());
        Ok(ldap)
    }

    fn forget(&self, key: &ConnectionKey) {
        self.connections
            .lock()
            .expect("connection map poisoned")
            .remove(key);
    }

    /// Runs `f` on the handle's connection under the operation timeout; a
    /// failure that breaks the connection drops it, so the next call opens
    /// a new one.
    async fn run<T, F, Fut>(
        &self,
        handle: &ConnectionHandle,
        what: &str,
        f: F,
    ) -> Result<T, LdapError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let key = &handle.key;
        let outcome = tokio::time::timeout(self.timeout, async {
            let mut ldap = self.connection(key).await?;
            ldap.with_timeout(self.timeout);
            f(ldap).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(LdapError::Unavailable(format!(
                "{what} took longer than {}",
                humantime::format_duration(self.timeout)
            )))
        });
        if let Err(e) = &outcome
            && e.breaks_connection()
        {
            self.forget(key);
        }
        outcome
    }

    pub async fn root_dse(
        &self,
        handle: &ConnectionHandle,
        budget: &mut HostBudget,
    ) -> Result<RawEntry, LdapError> {
        let page = self
            .search(
                handle,
                SearchSpec {
                    base: String::new(),
                    scope: ScopeKind::Base,
                    filter: "(objectClass=*)".into(),
                    attributes: vec!["*".into(), "+".into()],
                    page_size: 0,
                    sort: Vec::new(),
                    show_deleted: false,
                },
                Vec::new(),
                budget,
            )
            .await?;
        page.entries
            .into_iter()
            .next()
            .ok_or_else(|| LdapError::Failed("the directory returned no root DSE".into()))
    }

    pub async fn search(
        &self,
        handle: &ConnectionHandle,
        spec: SearchSpec,
        cookie: Vec<u8>,
        budget: &mut HostBudget,
    ) -> Result<SearchPage, LdapError> {
        if self.tape.is_none() {
            return self.live_search(handle, spec, cookie, budget).await;
        }
        let request = recorded::search(handle, &spec, &cookie);
        let page: recorded::Page = self
            .taped("search", || request, async {
                self.live_search(handle, spec, cookie, budget)
                    .await
                    .map(recorded::Page::from)
            })
            .await?;
        let page = SearchPage::from(page);
        if self.replaying() {
            for entry in &page.entries {
                budget
                    .take(entry_bytes(entry))
                    .map_err(|over| LdapError::Failed(over.to_string()))?;
            }
        }
        Ok(page)
    }

    async fn live_search(
        &self,
        handle: &ConnectionHandle,
        spec: SearchSpec,
        cookie: Vec<u8>,
        budget: &mut HostBudget,
    ) -> Result<SearchPage, LdapError> {
        self.run(handle, "the search", |mut ldap| async move {
            let mut controls: Vec<RawControl> = Vec::new();
            if spec.page_size > 0 {
                controls.push(
                    PagedResults {
                        size: i32::try_from(spec.page_size).unwrap_or(i32::MAX),
                        cookie,
                    }
                    .into(),
                );
            }
            if !spec.sort.is_empty() {
                controls.push(wire::sort_control(&spec.sort));
            }
            if spec.show_deleted {
                controls.push(RawControl {
                    ctype: wire::SHOW_DELETED_OID.to_owned(),
                    crit: true,
                    val: None,
                });
            }
            if !controls.is_empty() {
                ldap.with_controls(controls);
            }
            let scope = match spec.scope {
                ScopeKind::Base => Scope::Base,
                ScopeKind::OneLevel => Scope::OneLevel,
                ScopeKind::Subtree => Scope::Subtree,
            };
            // Entries are counted against the call's budget as they
            // arrive: an unpaged search of a huge directory fails at the
            // budget, not after the host held it whole.
            let mut stream = ldap
                .streaming_search(&spec.base, scope, &spec.filter, spec.attributes)
                .await?;
            let mut entries = Vec::new();
            loop {
                let next = match stream.next().await {
                    Ok(next) => next,
                    Err(e) => {
                        let _ = stream.finish().await;
                        return Err(e.into());
                    }
                };
                let Some(found) = next else { break };
                // Continuation references (referrals) are never followed,
                // and intermediate responses carry no entry.
                if found.is_ref() || found.is_intermediate() {
                    continue;
                }
                let entry = wire::entry(found.0).map_err(LdapError::Failed)?;
                if let Err(over) = budget.take(entry_bytes(&entry)) {
                    let id = stream.ldap_handle().last_id();
                    let _ = stream.finish().await;
                    let _ = stream.ldap_handle().abandon(id).await;
                    return Err(LdapError::Failed(over.to_string()));
                }
                entries.push(entry);
            }
            let result = stream.finish().await;
            if result.rc != 0 {
                return Err(ldap3::LdapError::from(result).into());
            }
            let cookie = match result
                .ctrls
                .iter()
                .find(|c| c.1.ctype == wire::PAGED_RESULTS_OID)
            {
                Some(control) => wire::paged_cookie(control.1.val.as_deref().unwrap_or_default())
                    .map_err(LdapError::Failed)?,
                None => Vec::new(),
            };
            Ok(SearchPage { entries, cookie })
        })
        .await
    }

    pub async fn add(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        attributes: Vec<(String, Vec<Vec<u8>>)>,
        read_back: Vec<String>,
    ) -> Result<Option<RawEntry>, LdapError> {
        let request = || recorded::add(handle, dn, &attributes, &read_back);
        let request = self.tape.as_ref().map(|_| request());
        let attributes: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = attributes
            .into_iter()
            .map(|(name, values)| (name.into_bytes(), values.into_iter().collect()))
            .collect();
        let live = self.run(handle, "the add", |mut ldap| async move {
            if !read_back.is_empty() {
                ldap.with_controls(vec![wire::post_read_control(&read_back)]);
            }
            post_read(ldap.add(dn, attributes).await?.success()?)
                .map(|e| e.map(recorded::Entry::from))
        });
        let entry: Option<recorded::Entry> = self
            .taped("add", || request.unwrap_or_default(), live)
            .await?;
        Ok(entry.map(RawEntry::from))
    }

    pub async fn modify(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        changes: Vec<Modification>,
        read_back: Vec<String>,
    ) -> Result<Option<RawEntry>, LdapError> {
        let request = self
            .tape
            .as_ref()
            .map(|_| recorded::modify(handle, dn, &changes, &read_back));
        let mods: Vec<Mod<Vec<u8>>> = changes
            .into_iter()
            .map(|m| {
                let name = m.attribute.into_bytes();
                let values: HashSet<Vec<u8>> = m.values.into_iter().collect();
                match m.kind {
                    ModifyKind::Add => Mod::Add(name, values),
                    ModifyKind::Delete => Mod::Delete(name, values),
                    ModifyKind::Replace => Mod::Replace(name, values),
                }
            })
            .collect();
        let live = self.run(handle, "the modify", |mut ldap| async move {
            if !read_back.is_empty() {
                ldap.with_controls(vec![wire::post_read_control(&read_back)]);
            }
            post_read(ldap.modify(dn, mods).await?.success()?).map(|e| e.map(recorded::Entry::from))
        });
        let entry: Option<recorded::Entry> = self
            .taped("modify", || request.unwrap_or_default(), live)
            .await?;
        Ok(entry.map(RawEntry::from))
    }

    pub async fn modify_dn(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<(), LdapError> {
        let live = self.run(handle, "the rename", |mut ldap| async move {
            ldap.modifydn(dn, new_rdn, delete_old_rdn, new_superior)
                .await?
                .success()?;
            Ok(())
        });
        self.taped(
            "modify-dn",
            || recorded::modify_dn(handle, dn, new_rdn, delete_old_rdn, new_superior),
            live,
        )
        .await
    }

    pub async fn delete(&self, handle: &ConnectionHandle, dn: &str) -> Result<(), LdapError> {
        let live = self.run(handle, "the delete", |mut ldap| async move {
            ldap.delete(dn).await?.success()?;
            Ok(())
        });
        self.taped("delete", || recorded::delete(handle, dn), live)
            .await
    }

    pub async fn compare(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        attribute: &str,
        value: Vec<u8>,
    ) -> Result<bool, LdapError> {
        let request = self
            .tape
            .as_ref()
            .map(|_| recorded::compare(handle, dn, attribute, &value));
        let live = self.run(handle, "the compare", |mut ldap| async move {
            Ok(ldap.compare(dn, attribute, value).await?.equal()?)
        });
        self.taped("compare", || request.unwrap_or_default(), live)
            .await
    }

    /// Whether `dn` binds with `password`, on a connection of its own that
    /// is closed afterwards. An empty password is never tried: the
    /// directory would take it as an unauthenticated bind and succeed.
    pub async fn check_password(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        password: &str,
    ) -> Result<bool, LdapError> {
        if password.is_empty() {
            return Ok(false);
        }
        if handle.key.security == Security::Plain {
            self.plaintext_allowed("check a password")?;
        }
        let live = self.live_check_password(handle, dn, password);
        self.taped(
            "check-password",
            || recorded::check_password(handle, dn),
            live,
        )
        .await
    }

    async fn live_check_password(
        &self,
        handle: &ConnectionHandle,
        dn: &str,
        password: &str,
    ) -> Result<bool, LdapError> {
        tokio::time::timeout(self.timeout, async {
            let mut ldap = self.dial(&handle.key).await?;
            let result = ldap.simple_bind(dn, password).await?;
            let _ = ldap.unbind().await;
            match result.rc {
                0 => Ok(true),
                49 => Ok(false),
                _ => Err(ldap3::LdapError::from(result).into()),
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(LdapError::Unavailable(
                "the password check took too long".into(),
            ))
        })
    }
}
