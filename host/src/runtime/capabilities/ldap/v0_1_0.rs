//! `provisio:ldap@0.1.0` (generated from `wit/ldap/0.1.0/`, frozen): the
//! guest's connection handles map to the host's directory connections.

use super::{
    ConnectionHandle, LdapCtxView, LdapError, LdapGrant, LdapView, Modification, ModifyKind,
    RawEntry, ScopeKind, SearchSpec, Security,
};
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource};

mod generated {
    wasmtime::component::bindgen!({
        world: "ldap-capability",
        path: "../wit/ldap/0.1.0",
        with: {
            "provisio:ldap/client.connection": crate::runtime::capabilities::ldap::ConnectionHandle,
        },
        // An exchange awaits the directory on the host's runtime; the
        // guest's fiber is suspended meanwhile and holds no thread.
        imports: { default: async },
    });
}

use generated::provisio::ldap::client as wit;

struct Ldap;

impl HasData for Ldap {
    type Data<'a> = LdapCtxView<'a>;
}

pub fn add_to_linker<T: LdapView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    generated::LdapCapability::add_to_linker::<T, Ldap>(linker, T::ldap)
}

impl From<LdapError> for wit::Error {
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::NotGranted(m) => wit::Error::NotGranted(m),
            LdapError::Unavailable(m) => wit::Error::Unavailable(m),
            LdapError::Server {
                code,
                matched_dn,
                message,
            } => wit::Error::Server(wit::LdapResult {
                code,
                matched_dn,
                message,
            }),
            LdapError::Invalid(m) => wit::Error::Invalid(m),
            LdapError::Failed(m) => wit::Error::Failed(m),
        }
    }
}

fn entry(e: RawEntry) -> wit::Entry {
    wit::Entry {
        dn: e.dn,
        attributes: e
            .attributes
            .into_iter()
            .map(|(name, values)| wit::Attribute { name, values })
            .collect(),
    }
}

impl LdapCtxView<'_> {
    /// The grant and the connection a guest's handle names.
    fn ldap_handle(
        &self,
        conn: &Resource<ConnectionHandle>,
    ) -> Result<(Arc<LdapGrant>, ConnectionHandle), wit::Error> {
        let grant = self.granted()?;
        let handle = self
            .table
            .get(conn)
            .map_err(|e| wit::Error::Failed(format!("unknown handle: {e}")))?
            .clone();
        Ok((grant, handle))
    }
}

impl wit::Host for LdapCtxView<'_> {}

impl wit::HostConnection for LdapCtxView<'_> {
    async fn open(
        &mut self,
        url: String,
        start_tls: bool,
    ) -> Result<Resource<ConnectionHandle>, wit::Error> {
        let handle = self.granted()?.open(&url, start_tls).await?;
        tracing::debug!(target: "provisio::ldap", url = %handle.url(), "connector opened a directory");
        self.table
            .push(handle)
            .map_err(|e| wit::Error::Failed(format!("cannot hold another handle: {e}")))
    }

    async fn security(&mut self, conn: Resource<ConnectionHandle>) -> wit::Security {
        match self.table.get(&conn).map(ConnectionHandle::security) {
            Ok(Security::Ldaps) => wit::Security::Ldaps,
            Ok(Security::StartTls) => wit::Security::StartTls,
            _ => wit::Security::Plain,
        }
    }

    async fn root_dse(
        &mut self,
        conn: Resource<ConnectionHandle>,
    ) -> Result<wit::Entry, wit::Error> {
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.root_dse(&h, self.budget).await.map(entry)?)
    }

    async fn search(
        &mut self,
        conn: Resource<ConnectionHandle>,
        request: wit::SearchRequest,
        cookie: Vec<u8>,
    ) -> Result<wit::Page, wit::Error> {
        let spec = SearchSpec {
            base: request.base,
            scope: match request.scope {
                wit::Scope::Base => ScopeKind::Base,
                wit::Scope::OneLevel => ScopeKind::OneLevel,
                wit::Scope::Subtree => ScopeKind::Subtree,
            },
            filter: request.filter,
            attributes: request.attributes,
            page_size: request.page_size,
            sort: request
                .sort
                .into_iter()
                .map(|k| (k.attribute, k.reverse))
                .collect(),
            show_deleted: request.show_deleted,
        };
        let (g, h) = self.ldap_handle(&conn)?;
        let page = g.search(&h, spec, cookie, self.budget).await?;
        Ok(wit::Page {
            entries: page.entries.into_iter().map(entry).collect(),
            cookie: page.cookie,
        })
    }

    async fn add(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
        attributes: Vec<wit::Attribute>,
        read_back: Vec<String>,
    ) -> Result<Option<wit::Entry>, wit::Error> {
        let attributes = attributes.into_iter().map(|a| (a.name, a.values)).collect();
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.add(&h, &dn, attributes, read_back).await?.map(entry))
    }

    async fn modify(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
        changes: Vec<wit::Modification>,
        read_back: Vec<String>,
    ) -> Result<Option<wit::Entry>, wit::Error> {
        let changes = changes
            .into_iter()
            .map(|m| Modification {
                kind: match m.kind {
                    wit::ModifyKind::Add => ModifyKind::Add,
                    wit::ModifyKind::Delete => ModifyKind::Delete,
                    wit::ModifyKind::Replace => ModifyKind::Replace,
                },
                attribute: m.attribute,
                values: m.values,
            })
            .collect();
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.modify(&h, &dn, changes, read_back).await?.map(entry))
    }

    async fn modify_dn(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
        new_rdn: String,
        delete_old_rdn: bool,
        new_superior: Option<String>,
    ) -> Result<(), wit::Error> {
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(
            g.modify_dn(&h, &dn, &new_rdn, delete_old_rdn, new_superior.as_deref())
                .await?,
        )
    }

    async fn delete(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
    ) -> Result<(), wit::Error> {
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.delete(&h, &dn).await?)
    }

    async fn compare(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
        attribute: String,
        value: Vec<u8>,
    ) -> Result<bool, wit::Error> {
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.compare(&h, &dn, &attribute, value).await?)
    }

    async fn check_password(
        &mut self,
        conn: Resource<ConnectionHandle>,
        dn: String,
        password: String,
    ) -> Result<bool, wit::Error> {
        let (g, h) = self.ldap_handle(&conn)?;
        Ok(g.check_password(&h, &dn, &password).await?)
    }

    async fn drop(&mut self, conn: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}
