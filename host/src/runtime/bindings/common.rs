//! What every contract version's binding has in common, written once: the
//! host imports (`log`, `config`), the calls of the 0.1.0 operations, and
//! the conversions between the generated types and the host's `model`.
//!
//! Each `vX_Y_Z` module generates its bindings from `wit/X.Y.Z/`, aliases
//! the generated `types` interface as `wit`, invokes [`binding!`], and adds
//! what its version has of its own (`connector-info`'s capability flags,
//! operations added since 0.1.0).

macro_rules! binding {
    () => {
        pub type Pre = generated::ConnectorPluginPre<InstanceState>;
        pub type Plugin = generated::ConnectorPlugin;

        /// The contract's own imports: `types` (no functions), `log` and
        /// `config`, each on its capability's view.
        pub fn add_to_linker<T>(linker: &mut Linker<T>) -> wasmtime::Result<()>
        where
            T: LogView + ConfigView + 'static,
        {
            use generated::provisio::connector as c;
            c::types::add_to_linker::<T, Log>(linker, T::log)?;
            c::log::add_to_linker::<T, Log>(linker, T::log)?;
            c::config::add_to_linker::<T, Config>(linker, T::config)
        }

        struct Log;

        impl HasData for Log {
            type Data<'a> = LogCtxView<'a>;
        }

        struct Config;

        impl HasData for Config {
            type Data<'a> = ConfigCtxView<'a>;
        }

        impl generated::provisio::connector::types::Host for LogCtxView<'_> {}

        impl generated::provisio::connector::log::Host for LogCtxView<'_> {
            fn log(&mut self, level: generated::provisio::connector::log::Level, message: String) {
                use generated::provisio::connector::log::Level as L;
                let level = match level {
                    L::Trace => Level::Trace,
                    L::Debug => Level::Debug,
                    L::Info => Level::Info,
                    L::Warn => Level::Warn,
                    L::Error => Level::Error,
                };
                self.record(level, message);
            }
        }

        impl generated::provisio::connector::config::Host for ConfigCtxView<'_> {
            fn get(&mut self, key: String) -> Option<String> {
                ConfigCtxView::get(self, &key)
            }

            fn keys(&mut self) -> Vec<String> {
                ConfigCtxView::keys(self)
            }

            fn secret(&mut self, key: String) -> Option<String> {
                ConfigCtxView::secret(self, &key)
            }
        }

        // Calls: host model in, host model out.

        type S<'a> = &'a mut Store<InstanceState>;

        fn outcome<W, M: From<W>>(result: wasmtime::Result<Result<W, wit::Error>>) -> Outcome<M> {
            result.map(|r| r.map(M::from).map_err(model::ConnectorError::from))
        }

        pub async fn info(plugin: &Plugin, store: S<'_>) -> wasmtime::Result<model::ConnectorInfo> {
            plugin
                .provisio_connector_connector()
                .call_info(store)
                .await
                .map(Into::into)
        }

        pub async fn schema(plugin: &Plugin, store: S<'_>) -> Outcome<model::ObjectSchema> {
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_schema(store)
                    .await,
            )
        }

        pub async fn test(plugin: &Plugin, store: S<'_>) -> Outcome<()> {
            outcome(plugin.provisio_connector_connector().call_test(store).await)
        }

        pub async fn create(
            plugin: &Plugin,
            store: S<'_>,
            class: &str,
            attributes: Vec<model::Attribute>,
        ) -> Outcome<model::ConnectorObject> {
            let attributes: Vec<wit::Attribute> = attributes.into_iter().map(Into::into).collect();
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_create(store, class, &attributes)
                    .await,
            )
        }

        pub async fn get(
            plugin: &Plugin,
            store: S<'_>,
            class: &str,
            uid: &str,
            attributes: &[String],
        ) -> Outcome<model::ConnectorObject> {
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_get(store, class, uid, attributes)
                    .await,
            )
        }

        pub async fn update(
            plugin: &Plugin,
            store: S<'_>,
            class: &str,
            uid: &str,
            changes: Vec<model::AttributeChange>,
        ) -> Outcome<model::ConnectorObject> {
            let changes: Vec<wit::AttributeChange> = changes.into_iter().map(Into::into).collect();
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_update(store, class, uid, &changes)
                    .await,
            )
        }

        pub async fn delete(plugin: &Plugin, store: S<'_>, class: &str, uid: &str) -> Outcome<()> {
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_delete(store, class, uid)
                    .await,
            )
        }

        pub async fn search(
            plugin: &Plugin,
            store: S<'_>,
            request: model::SearchRequest,
        ) -> Outcome<model::Page> {
            let request = wit::SearchRequest {
                class: request.class,
                filter: request.filter,
                page: wit::PageRequest {
                    size: request.page.size,
                    cookie: request.page.cookie,
                },
                attributes: request.attributes,
            };
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_search(store, &request)
                    .await,
            )
        }

        pub async fn sync(
            plugin: &Plugin,
            store: S<'_>,
            request: model::SyncRequest,
        ) -> Outcome<model::SyncBatch> {
            let request = wit::SyncRequest {
                class: request.class,
                token: request.token,
                max_deltas: request.max_deltas,
            };
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_sync(store, &request)
                    .await,
            )
        }

        pub async fn latest_sync_token(
            plugin: &Plugin,
            store: S<'_>,
            class: &str,
        ) -> Outcome<String> {
            outcome(
                plugin
                    .provisio_connector_connector()
                    .call_latest_sync_token(store, class)
                    .await,
            )
        }

        // Conversions. Moves only: no string is copied on the way in or out.

        impl From<model::Value> for wit::Value {
            fn from(v: model::Value) -> Self {
                match v {
                    model::Value::Text(s) => wit::Value::Text(s),
                    model::Value::Integer(i) => wit::Value::Integer(i),
                    model::Value::Boolean(b) => wit::Value::Boolean(b),
                    model::Value::Binary(b) => wit::Value::Binary(b),
                    model::Value::Reference(r) => wit::Value::Reference(r),
                }
            }
        }

        impl From<wit::Value> for model::Value {
            fn from(v: wit::Value) -> Self {
                match v {
                    wit::Value::Text(s) => model::Value::Text(s),
                    wit::Value::Integer(i) => model::Value::Integer(i),
                    wit::Value::Boolean(b) => model::Value::Boolean(b),
                    wit::Value::Binary(b) => model::Value::Binary(b),
                    wit::Value::Reference(r) => model::Value::Reference(r),
                }
            }
        }

        impl From<model::Attribute> for wit::Attribute {
            fn from(a: model::Attribute) -> Self {
                wit::Attribute {
                    name: a.name,
                    values: a.values.into_iter().map(Into::into).collect(),
                }
            }
        }

        impl From<wit::Attribute> for model::Attribute {
            fn from(a: wit::Attribute) -> Self {
                model::Attribute {
                    name: a.name,
                    values: a.values.into_iter().map(Into::into).collect(),
                }
            }
        }

        impl From<model::AttributeChange> for wit::AttributeChange {
            fn from(c: model::AttributeChange) -> Self {
                match c {
                    model::AttributeChange::Replace(a) => wit::AttributeChange::Replace(a.into()),
                    model::AttributeChange::AddValues(a) => {
                        wit::AttributeChange::AddValues(a.into())
                    }
                    model::AttributeChange::RemoveValues(a) => {
                        wit::AttributeChange::RemoveValues(a.into())
                    }
                }
            }
        }

        impl From<wit::ConnectorObject> for model::ConnectorObject {
            fn from(o: wit::ConnectorObject) -> Self {
                model::ConnectorObject {
                    uid: o.uid,
                    name: o.name,
                    class: o.class,
                    attributes: o.attributes.into_iter().map(Into::into).collect(),
                }
            }
        }

        impl From<wit::Page> for model::Page {
            fn from(p: wit::Page) -> Self {
                model::Page {
                    objects: p.objects.into_iter().map(Into::into).collect(),
                    cookie: p.cookie,
                    remaining: p.remaining,
                }
            }
        }

        impl From<wit::SyncBatch> for model::SyncBatch {
            fn from(b: wit::SyncBatch) -> Self {
                model::SyncBatch {
                    deltas: b
                        .deltas
                        .into_iter()
                        .map(|d| model::SyncDelta {
                            kind: match d.kind {
                                wit::DeltaKind::Create => model::DeltaKind::Create,
                                wit::DeltaKind::Update => model::DeltaKind::Update,
                                wit::DeltaKind::Delete => model::DeltaKind::Delete,
                            },
                            uid: d.uid,
                            object: d.object.map(Into::into),
                            token: d.token,
                        })
                        .collect(),
                    token: b.token,
                    has_more: b.has_more,
                }
            }
        }

        impl From<wit::ObjectSchema> for model::ObjectSchema {
            fn from(s: wit::ObjectSchema) -> Self {
                model::ObjectSchema {
                    classes: s
                        .classes
                        .into_iter()
                        .map(|c| model::ClassInfo {
                            name: c.name,
                            description: c.description,
                            attributes: c
                                .attributes
                                .into_iter()
                                .map(|a| model::AttributeInfo {
                                    name: a.name,
                                    value_type: match a.value_type {
                                        wit::ValueType::Text => model::ValueType::Text,
                                        wit::ValueType::Integer => model::ValueType::Integer,
                                        wit::ValueType::Boolean => model::ValueType::Boolean,
                                        wit::ValueType::Binary => model::ValueType::Binary,
                                        wit::ValueType::Reference => model::ValueType::Reference,
                                    },
                                    multi_valued: a.multi_valued,
                                    required: a.required,
                                    readable: a.readable,
                                    creatable: a.creatable,
                                    updatable: a.updatable,
                                    returned_by_default: a.returned_by_default,
                                    description: a.description,
                                })
                                .collect(),
                        })
                        .collect(),
                }
            }
        }

        impl From<wit::Error> for model::ConnectorError {
            fn from(e: wit::Error) -> Self {
                use model::ConnectorError as E;
                match e {
                    wit::Error::NotFound(message) => E::NotFound { message },
                    wit::Error::AlreadyExists(message) => E::AlreadyExists { message },
                    wit::Error::Invalid(d) => E::Invalid {
                        attribute: d.attribute,
                        message: d.message,
                    },
                    wit::Error::Unsupported(message) => E::Unsupported { message },
                    wit::Error::PermissionDenied(message) => E::PermissionDenied { message },
                    wit::Error::Unavailable(message) => E::Unavailable { message },
                    wit::Error::RateLimited(r) => E::RateLimited {
                        retry_after_ms: r.retry_after_ms,
                        message: r.message,
                    },
                    wit::Error::Failed(message) => E::Failed { message },
                }
            }
        }
    };
}

pub(crate) use binding;
