//! A whole host from a configuration: key, store, runtime, engine, API.

use crate::api::{self, AppState, Reloader, TokenSet, Tokens};
use crate::config::Config;
use crate::engine::Engine;
use crate::identity::{Identities, Policies, Sources};
use crate::keys::HostKey;
use crate::runtime::{EngineSettings, Runtime, RuntimeConfig};
use crate::store::{SqliteStore, Store};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running host.
pub struct Server {
    pub engine: Engine,
    pub identities: Identities,
    /// Reloads the configuration the host started from (SIGHUP).
    pub reloader: Arc<Reloader>,
    /// Where the API listens (the real port when the config asked for 0).
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
    watcher: Option<JoinHandle<()>>,
    /// Stops the identity reviews.
    stop_reviews: tokio::sync::watch::Sender<bool>,
}

/// The SQLite file the configuration names.
pub fn store_path(config: &Config) -> PathBuf {
    config.store_path()
}

/// Opens the store the configuration names, with the host key.
pub async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, HostKey)> {
    let key_path = config.resolve(&config.server.key_file);
    let key = HostKey::load_or_create(&key_path)?;
    let path = store_path(config);
    let store = SqliteStore::open(&path, key.clone())
        .await
        .with_context(|| format!("cannot open the store {}", path.display()))?;
    Ok((Arc::new(store), key))
}

impl Server {
    /// Starts everything and begins serving the API.
    pub async fn start(config: &Config) -> anyhow::Result<Server> {
        if config.server.insecure_no_auth {
            tracing::warn!(
                "the API is served WITHOUT authentication (insecure_no_auth = true); use this only for the demo"
            );
        }
        let (store, key) = open_store(config).await?;
        let runtime = Runtime::new(RuntimeConfig {
            engine: EngineSettings {
                max_instances: config.server.max_instances,
                max_memory_bytes: config.server.max_memory_mib << 20,
                ..EngineSettings::default()
            },
            cache_dir: Some(config.resolve(&config.server.cache_dir)),
        })?;
        let engine = Engine::start(config, &runtime, store, key).await?;
        let watcher = config.server.watch_dir.as_ref().map(|dir| {
            tokio::spawn(crate::watch::watch(
                engine.clone(),
                config.resolve(dir),
                config.server.watch_interval,
                config.server.max_connector_bytes,
            ))
        });
        let identities = Identities::new(engine.clone(), Policies::from_config(config));
        let (stop_reviews, reviews_stopped) = tokio::sync::watch::channel(false);
        if identities.is_configured() {
            identities.spawn_reviews(config.server.review_interval, reviews_stopped.clone());
        }
        let sources = Sources::new(identities.clone(), config);
        sources
            .start(reviews_stopped.clone())
            .await
            .context("cannot start the sources")?;
        let reconciliations =
            crate::recon::Reconciliations::new(engine.clone(), identities.clone(), config);
        reconciliations
            .start(reviews_stopped)
            .await
            .context("cannot start reconciliation")?;
        let tokens = Arc::new(TokenSet::new(Tokens::new(
            &config.tokens,
            config.server.insecure_no_auth,
        )));
        let reloader = Arc::new(Reloader::new(
            config.clone(),
            engine.clone(),
            tokens.clone(),
        ));
        let state = AppState {
            ready_requires_healthy_targets: config.server.ready_requires_healthy_targets,
            engine: engine.clone(),
            identities: identities.clone(),
            sources,
            reconciliations,
            tokens,
            reloader: reloader.clone(),
            max_connector_bytes: config.server.max_connector_bytes,
            long_polls: Arc::new(tokio::sync::Semaphore::new(config.server.max_long_polls)),
        };
        api::health_recorder();
        let app = api::router(
            state,
            api::RequestLimits {
                max_body_bytes: config.server.max_body_bytes,
                body_timeout: config.server.body_timeout,
                request_timeout: config.server.request_timeout,
            },
        );
        let limits = api::ConnectionLimits {
            max_connections: config.server.max_connections,
            header_read_timeout: config.server.header_read_timeout,
        };
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(api::serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        tracing::info!("listening on http://{addr}");
        Ok(Server {
            engine,
            identities,
            reloader,
            addr,
            stop,
            serving,
            watcher,
            stop_reviews,
        })
    }

    /// Stops accepting requests and new attempts; running ones finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        let _ = self.stop_reviews.send(true);
        self.engine.shutdown();
        let _ = self.stop.send(());
        self.serving.await??;
        Ok(())
    }
}
