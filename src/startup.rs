//! Building and running the application. [`Application::build`] is the one function that
//! production (`icebroker serve`) and the tests share: it opens the vault, installs the first
//! admin key, binds the listener and wires every route through [`configure`].

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::api_keys::{ApiKeyService, Bootstrap, PlaintextApiKey};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::connections::ConnectionService;
use crate::http::extractors;
use crate::keysource::{self, KeySource};
use crate::proxy::ProxyClient;
use crate::snowflake::{SqlApiClient, SqlApiConfig, Upstream};
use crate::state::AppState;
use crate::vault::{MasterKey, Vault, DB_DIR, KEYRING_FILE};

/// Why the broker refused to start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// No usable master key.
    #[error(transparent)]
    MasterKey(#[from] keysource::KeySourceError),
    /// The vault would not open (wrong key, corrupt or locked database).
    #[error("vault: {0}")]
    Vault(String),
    /// Configuration problem found at start.
    #[error("{0}")]
    Config(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Opens the vault in `data_dir` with the configured (or generated) master key.
/// Nothing in the data dir is modified unless the key is right.
pub async fn open_vault(settings: &Settings) -> Result<(Vault, KeySource), StartupError> {
    let data_dir = &settings.storage.data_dir;
    let is_new = !data_dir.join(DB_DIR).exists() && !data_dir.join(KEYRING_FILE).exists();
    let (master, source) = keysource::resolve(settings, is_new)?;
    let vault = open_vault_with(data_dir, master).await?;
    Ok((vault, source))
}

/// Opens the vault in `data_dir` with `master`.
pub async fn open_vault_with(data_dir: &Path, master: MasterKey) -> Result<Vault, StartupError> {
    Vault::open(data_dir, master)
        .await
        .map_err(|e| StartupError::Vault(e.to_string()))
}

/// A built, bound, not yet running broker.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    bootstrap_key: Option<PlaintextApiKey>,
    signals: ShutdownSignals,
}

impl Application {
    /// Opens the vault, installs the first admin key if needed, and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with an injected clock (tests move time with `ManualClock`).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let (vault, source) = open_vault(&settings).await?;
        log_key_source(&source);
        let api_keys =
            ApiKeyService::load(vault.clone()).map_err(|e| StartupError::Vault(e.to_string()))?;
        let admin_key = settings
            .admin_bootstrap_key()
            .map_err(|e| StartupError::Config(e.to_string()))?;
        let bootstrap = api_keys
            .bootstrap(admin_key.as_ref().map(secrecy::ExposeSecret::expose_secret))
            .await
            .map_err(|e| StartupError::Config(e.to_string()))?;
        let bootstrap_key = match bootstrap {
            Some(Bootstrap::Generated(key)) => Some(key),
            Some(Bootstrap::Configured) | None => None,
        };
        let connections = ConnectionService::load(
            vault.clone(),
            clock.clone(),
            settings.upstream.allow_loopback,
        )
        .map_err(|e| StartupError::Vault(e.to_string()))?;
        // Bound before the state is built: with port 0 the OAuth redirect URI and link URLs need
        // the real port when no public_url is configured.
        let listener =
            TcpListener::bind(settings.server.listen).map_err(|source| StartupError::Bind {
                addr: settings.server.listen.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.server.listen.to_string(),
            source,
        })?;
        let port = local.port();
        let public_url = match &settings.server.public_url {
            Some(_) => settings.public_url(),
            None => format!("http://{local}"),
        };
        let connections = Arc::new(connections);
        let sql_api = sql_api_client()?;
        let admin = Arc::new(crate::admin::AdminUi::new(&public_url));
        let oauth = crate::oauth::OAuthService::new(
            vault.clone(),
            connections.clone(),
            sql_api.clone(),
            clock.clone(),
            public_url,
            settings.upstream.allow_loopback,
        )
        .map_err(|e| StartupError::Config(e.to_string()))?;
        // Before anything is served: no account may be used while it holds a refresh token a
        // killed predecessor may have spent (oauth::refresh).
        oauth
            .recover_interrupted_refreshes()
            .await
            .map_err(|e| StartupError::Vault(e.to_string()))?;
        let oauth = Arc::new(oauth);
        crate::oauth::spawn_flow_sweeper(Arc::downgrade(&oauth));
        let audit = Arc::new(crate::audit::AuditLog::start(
            vault.clone(),
            clock.clone(),
            settings.proxy.audit_retention_days,
        ));
        let statement_owners = Arc::new(crate::proxy::owners::StatementOwners::start(
            vault.clone(),
            clock.clone(),
        ));
        let state = AppState {
            vault,
            api_keys: Arc::new(api_keys),
            connections,
            oauth,
            sql_api,
            clock,
            proxy_max_body: settings.proxy.max_body_bytes,
            audit,
            metrics: Arc::new(crate::metrics::Metrics::new(
                settings
                    .metrics_token()
                    .map_err(|e| StartupError::Config(e.to_string()))?,
            )),
            limits: crate::ratelimit::Limits::start(&settings.limits),
            body_read_timeout: settings.body_read_timeout(),
            statement_owners,
            admin,
        };
        let server = serve(listener, &settings, state.clone())?;
        // Registered before anyone can learn the port, so an early SIGTERM is never lost.
        let signals = ShutdownSignals::register().map_err(|source| StartupError::Bind {
            addr: "signal handlers".to_owned(),
            source,
        })?;
        Ok(Self {
            port,
            server,
            state,
            bootstrap_key,
            signals,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use it to inspect the vault).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The admin key generated on first start, handed out once.
    pub fn take_bootstrap_key(&mut self) -> Option<PlaintextApiKey> {
        self.bootstrap_key.take()
    }

    /// Stops a built (possibly never awaited) server, waits until its workers have dropped
    /// their state and flushes the store, releasing the data dir for the next opener.
    pub async fn stop(self) {
        let handle = self.server.handle();
        let task = tokio::spawn(self.server);
        handle.stop(true).await;
        let _ = task.await;
        settle(&self.state).await;
        // Workers drop their copies of the state asynchronously after the server stops; the
        // database lock is released only when the last one is gone.
        let store = std::sync::Arc::downgrade(self.state.vault.store());
        drop(self.state);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.strong_count() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Serves until SIGINT/SIGTERM, then shuts down gracefully: the listener closes at once (new
    /// connections are refused), in-flight requests get up to `server.shutdown_timeout_secs` to
    /// finish, idle keep-alive connections are closed, then the audit queue is written and the
    /// store flushed. A second signal during the drain stops waiting for requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            state,
            mut signals,
            ..
        } = self;
        let handle = server.handle();
        let mut running = tokio::spawn(server);
        let result = tokio::select! {
            joined = &mut running => joined.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            signal = signals.recv() => {
                tracing::info!(signal, "shutting down: listener closed, draining in-flight requests");
                tokio::select! {
                    () = handle.stop(true) => {
                        running.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
                    }
                    signal = signals.recv() => {
                        // Requests still running are abandoned when the process exits; a token
                        // refresh cut off this way is resolved at the next start (oauth::refresh).
                        tracing::warn!(signal, "second signal: not waiting for in-flight requests");
                        Ok(())
                    }
                }
            }
        };
        settle(&state).await;
        tracing::info!("shutdown complete");
        result
    }
}

/// Makes everything acknowledged so far durable: the audit entries still queued, then the store.
async fn settle(state: &AppState) {
    state.audit.drain().await;
    if let Err(e) = state.vault.store().flush().await {
        tracing::error!(error = %e, "final store flush failed");
    }
}

/// SIGTERM/SIGINT listeners.
struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}

/// The shared SQL API client. Its configured upstream is a placeholder: every use goes through
/// `with_upstream(<the connection's base URL>)`.
fn sql_api_client() -> Result<SqlApiClient, StartupError> {
    let placeholder = Upstream::parse("https://snowflakecomputing.com")
        .map_err(|e| StartupError::Config(e.to_string()))?;
    SqlApiClient::new(SqlApiConfig::new(placeholder))
        .map_err(|e| StartupError::Config(e.to_string()))
}

fn log_key_source(source: &KeySource) {
    match source {
        KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            "GENERATED A NEW MASTER KEY in the data dir. Fine for a demo; in production supply \
             your own via ICEBROKER_MASTER_KEY_FILE and keep it apart from the data"
        ),
        KeySource::DataDir(path) => tracing::warn!(
            path = %path.display(),
            "using the master key stored inside the data dir; in production keep it apart"
        ),
        KeySource::Env => tracing::info!("master key from ICEBROKER_MASTER_KEY"),
        KeySource::File(path) => tracing::info!(path = %path.display(), "master key from file"),
    }
}

/// Registers state, extractor configuration and routes on an actix app.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState, json_limit: usize) {
    cfg.app_data(web::Data::new(state))
        .app_data(extractors::json_config(json_limit))
        .app_data(web::PayloadConfig::new(json_limit))
        .app_data(extractors::query_config())
        .app_data(extractors::path_config())
        .configure(crate::routes::configure);
}

fn serve(
    listener: TcpListener,
    settings: &Settings,
    state: AppState,
) -> Result<Server, StartupError> {
    let json_limit = settings.server.json_limit_bytes;
    let proxy_settings = settings.proxy.clone();
    // Fail at start, not per worker, if the proxy client cannot be built.
    ProxyClient::new(&proxy_settings).map_err(|e| StartupError::Config(e.to_string()))?;
    let mut server = HttpServer::new(move || {
        // One upstream client per worker (PERFORMANCE.md: a shared one costs 4x throughput).
        let mut app = App::new().wrap(middleware::from_fn(crate::http::middleware::observe));
        if let Ok(client) = ProxyClient::new(&proxy_settings) {
            app = app.app_data(web::Data::new(client));
        }
        app.configure(|cfg| configure(cfg, state.clone(), json_limit))
            .default_service(web::to(extractors::route_not_found))
    })
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            // Small JSON responses must not wait for Nagle (PERFORMANCE.md).
            let _ = tcp.set_nodelay(true);
        }
    })
    .client_request_timeout(settings.header_read_timeout())
    .keep_alive(Duration::from_secs(settings.server.keep_alive_secs))
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .max_connections(settings.server.max_connections)
    .max_connection_rate(settings.server.max_connection_rate)
    .disable_signals();
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.server.listen.to_string(),
            source,
        })?
        .run();
    Ok(server)
}
