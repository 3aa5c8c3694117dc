//! Starting and stopping a sim: [`SnowSim::start`] builds every account's engine, binds the HTTP
//! server (port 0 for tests) and returns a [`RunningSnowSim`] with its URL and a control handle.
//!
//! Routes (Snowflake's paths, all behind the fault-injection middleware):
//! `GET|POST /oauth/authorize`, `POST /oauth/token-request`, `POST /api/v2/statements`,
//! `GET /api/v2/statements/{handle}`, `POST /api/v2/statements/{handle}/cancel`; a wrong method
//! on these answers 405 and any other path 404, both with an empty body. `/_snowsim/` is the
//! control API ([`super::control`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::control::SimControl;
use super::counters::Counters;
use super::engine::{Engine, EngineConfig, SqlError};
use super::faults::{inject, FaultSet};
use super::model::{ConfigError, SimConfig};
use super::pending::PendingStore;
use super::state::{AccountRuntime, SimState};
use super::tokens::{Lifetimes, TokenStore};
use super::{control, oauth_authorize, oauth_token, sqlapi};

/// Why a sim could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An account's engine failed to build.
    #[error("snowsim engine for account {account}: {source}")]
    Engine {
        /// Account locator.
        account: String,
        /// Engine error.
        source: SqlError,
    },
    /// Binding or TLS setup failed.
    #[error("snowsim: {0}")]
    Io(#[from] std::io::Error),
}

/// Entry point of the Snowflake double.
pub struct SnowSim;

/// A sim serving HTTP; dropping it leaves the server running until the runtime ends, so call
/// [`RunningSnowSim::stop`].
pub struct RunningSnowSim {
    addr: SocketAddr,
    handle: ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    control: SimControl,
    ca_pem: Option<PathBuf>,
}

async fn build_state(config: SimConfig) -> Result<SimState, SimError> {
    config.validate()?;
    let mut accounts = Vec::new();
    for (index, model) in config.accounts.iter().cloned().enumerate() {
        super::jwt::key_ring(&model).map_err(ConfigError)?;
        let engine_config = EngineConfig {
            account: model.clone(),
            tpch_scale: config.tpch_scale,
        };
        let locator = model.locator.clone();
        let engine = tokio::task::spawn_blocking(move || Engine::new(engine_config))
            .await
            .map_err(|e| SimError::Io(std::io::Error::other(e.to_string())))?
            .map_err(|source| SimError::Engine {
                account: locator,
                source,
            })?;
        let runtime =
            AccountRuntime::new(index, model, Arc::new(engine), config.statement_capacity)
                .map_err(ConfigError)?;
        accounts.push(runtime);
    }
    let lifetimes = Lifetimes {
        access_secs: config.access_token_ttl_secs,
        refresh_override_secs: None,
        code_secs: config.code_ttl_secs,
    };
    let window_ms = (config.sync_window_secs.max(0.0) * 1000.0) as u64;
    Ok(SimState {
        accounts,
        tokens: Mutex::new(TokenStore::new(lifetimes)),
        pending: PendingStore::default(),
        counters: Counters::default(),
        faults: FaultSet::default(),
        sync_window_ms: AtomicU64::new(window_ms),
        config,
    })
}

async fn empty_not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// Registers Snowflake's routes and the control API (shared by [`SnowSim::start`] and tests that
/// use `actix_web::test::init_service`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    control::configure(cfg);
    cfg.service(
        web::scope("")
            .wrap(from_fn(inject))
            .service(
                web::resource("/oauth/authorize")
                    .route(web::get().to(oauth_authorize::get_authorize))
                    .route(web::post().to(oauth_authorize::post_authorize)),
            )
            .service(
                web::resource("/oauth/token-request")
                    .route(web::post().to(oauth_token::post_token_request)),
            )
            .service(
                web::resource("/api/v2/statements").route(web::post().to(sqlapi::post_statements)),
            )
            .service(
                web::resource("/api/v2/statements/{handle}")
                    .route(web::get().to(sqlapi::get_statement)),
            )
            .service(
                web::resource("/api/v2/statements/{handle}/cancel")
                    .route(web::post().to(sqlapi::post_cancel)),
            )
            .default_service(web::to(empty_not_found)),
    );
}

impl SnowSim {
    /// Builds the accounts (TPC-H load included) and serves HTTP on `addr` (use port 0 for a free
    /// port). Must be called inside a Tokio runtime.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<RunningSnowSim, SimError> {
        Self::start_with(config, addr, None).await
    }

    /// Like [`SnowSim::start`], with TLS when `tls` names a directory to write the generated CA
    /// certificate into (see [`super::tls`]).
    pub async fn start_with(
        config: SimConfig,
        addr: SocketAddr,
        tls: Option<&Path>,
    ) -> Result<RunningSnowSim, SimError> {
        let workers = config.workers.max(1);
        let state = web::Data::new(build_state(config).await?);
        let control = SimControl {
            state: state.clone().into_inner(),
        };
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .configure(configure)
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1);
        let (server, ca_pem) = match tls {
            Some(dir) => {
                let (rustls, ca) = super::tls::server_config(dir)?;
                (server.bind_rustls_0_23(addr, rustls)?, Some(ca))
            }
            None => (server.bind(addr)?, None),
        };
        let bound = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("server bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        let join = tokio::spawn(server);
        Ok(RunningSnowSim {
            addr: bound,
            handle,
            join,
            control,
            ca_pem,
        })
    }
}

/// What `icebroker snowsim [--port] [--config] [--tls DIR]` runs: loads the TOML config (or the
/// demo account), serves on `127.0.0.1:<port>` and stops on Ctrl-C.
pub async fn serve(
    config: Option<&Path>,
    port: u16,
    tls_dir: Option<&Path>,
) -> Result<(), SimError> {
    let config = match config {
        Some(path) => SimConfig::load(path)?,
        None => SimConfig::demo(),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sim = SnowSim::start_with(config, addr, tls_dir).await?;
    tracing::info!(url = %sim.base_url(), ca = ?sim.ca_pem_path(), "snowsim listening");
    sim.run_until_ctrl_c().await?;
    Ok(())
}

impl RunningSnowSim {
    /// `http://127.0.0.1:<port>` (or `https://` with TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault injection, counters and token controls.
    pub fn control(&self) -> &SimControl {
        &self.control
    }

    /// The CA certificate (PEM) clients must trust, when serving TLS.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem.as_deref()
    }

    /// Stops accepting, finishes in-flight requests (1 s grace) and waits for the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.join.await;
    }

    /// Serves until Ctrl-C, then stops (for `icebroker snowsim`).
    pub async fn run_until_ctrl_c(self) -> std::io::Result<()> {
        tokio::signal::ctrl_c().await?;
        self.stop().await;
        Ok(())
    }
}

impl std::ops::Deref for RunningSnowSim {
    type Target = SimControl;

    fn deref(&self) -> &SimControl {
        &self.control
    }
}
