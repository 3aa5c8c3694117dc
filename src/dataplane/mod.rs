//! The data-plane listener (`server.data_listen`): a second, optional listener that serves only
//! the six SQL API proxy paths, on hyper's HTTP/1.1 server with no web framework in between.
//!
//! Why it exists: the proxy is the broker's hot path, and on this 2-core machine actix-web's
//! own layers cost 5-7 µs per request above a bare hyper server (BENCHMARKS.md), enough to
//! keep the OAuth route below its throughput target. Everything that decides *what* happens to
//! a call (authentication, connection access, limits, ownership, retries, the audit log,
//! error codes) is the same code as on the main listener ([`crate::routes::proxy::forward`]);
//! only the HTTP front differs. Deployments that want one port leave it unset: the main
//! listener serves the same paths.
//!
//! It runs on threads of its own: an acceptor and one single-threaded worker per core (or
//! `server.workers`), each worker with its own upstream client, as actix-web's workers are.

mod handler;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::proxy::ProxyClient;
use crate::state::AppState;

/// A running data-plane listener.
pub struct DataPlane {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    /// Closed (every sender dropped) once all of the listener's threads have ended.
    stopped: mpsc::Receiver<()>,
}

/// Why the data plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    /// The listener or a thread could not be set up.
    #[error("the data-plane listener could not be set up: {0}")]
    Io(#[from] std::io::Error),
    /// The upstream client could not be built.
    #[error(transparent)]
    Client(#[from] crate::proxy::forward::ClientBuildError),
}

/// What every connection of one worker needs.
struct Plane {
    state: AppState,
    /// This worker's upstream client: its pooled connections stay on the worker's thread.
    client: ProxyClient,
}

/// Per-connection limits, from `[server]`.
#[derive(Clone, Copy)]
struct ConnectionLimits {
    /// Longest wait for a request head, and for the next one on an idle keep-alive connection
    /// (hyper has one timer for both).
    header_read_timeout: Duration,
    /// How long in-flight requests get to finish after a stop.
    shutdown_timeout: Duration,
}

/// An accepted connection on its way to a worker, with its slot of `server.max_connections`.
type Handoff = (std::net::TcpStream, OwnedSemaphorePermit);

impl DataPlane {
    /// Starts serving the proxy paths on `listener` (already bound) with `state`: one acceptor
    /// thread and `server.workers` worker threads (0: one per core).
    ///
    /// Like actix-web's server, each worker is a single-threaded runtime and the acceptor
    /// hands it connections in turn, so a request, its upstream connection and the waking of
    /// either stay on one thread. A work-stealing runtime measured about 4 µs more CPU per
    /// request here, in cross-thread wake-ups (BENCHMARKS.md).
    pub fn start(
        listener: std::net::TcpListener,
        settings: &Settings,
        state: AppState,
    ) -> Result<Self, DataPlaneError> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let limits = ConnectionLimits {
            header_read_timeout: settings.header_read_timeout(),
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        };
        let slots = settings
            .server
            .max_connections
            .saturating_mul(workers)
            .clamp(1, Semaphore::MAX_PERMITS);
        let (stop, stop_rx) = watch::channel(false);
        let (alive, stopped) = mpsc::channel(1);
        let mut queues = Vec::with_capacity(workers);
        for n in 0..workers {
            let (queue, incoming) = mpsc::unbounded_channel::<Handoff>();
            let plane = Plane {
                state: state.clone(),
                client: ProxyClient::new(&settings.proxy)?,
            };
            let runtime = current_thread()?;
            let (stop, alive) = (stop_rx.clone(), alive.clone());
            std::thread::Builder::new()
                .name(format!("icebroker-data-{n}"))
                .spawn(move || {
                    runtime.block_on(work(incoming, Rc::new(plane), stop, limits));
                    // Every connection is gone (drained or dropped) and with the runtime goes
                    // this worker's last copy of the state, before the stop is acknowledged.
                    drop(runtime);
                    drop(alive);
                })?;
            queues.push(queue);
        }
        let runtime = current_thread()?;
        std::thread::Builder::new()
            .name("icebroker-data-accept".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => accept(listener, queues, slots, stop_rx).await,
                        Err(e) => tracing::error!(error = %e, "data-plane listener failed"),
                    }
                });
                drop(alive);
            })?;
        tracing::info!(%addr, workers, "data-plane listener serving the SQL API proxy paths");
        Ok(Self {
            addr,
            stop,
            stopped,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (up to `server.shutdown_timeout_secs`),
    /// closes idle connections and waits until the listener's threads have let go of the state.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.stopped.recv().await.is_some() {}
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Accepts connections until told to stop, handing them to the workers in turn.
async fn accept(
    listener: tokio::net::TcpListener,
    workers: Vec<mpsc::UnboundedSender<Handoff>>,
    slots: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(slots));
    for next in (0..workers.len()).cycle() {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let tcp = match accepted.and_then(|(tcp, _)| tcp.into_std()) {
            Ok(tcp) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "data-plane accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if workers[next].send((tcp, slot)).is_err() {
            break;
        }
    }
}

/// One worker: serves the connections it is handed until told to stop, then drains them.
async fn work(
    mut incoming: mpsc::UnboundedReceiver<Handoff>,
    plane: Rc<Plane>,
    mut stop: watch::Receiver<bool>,
    limits: ConnectionLimits,
) {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let mut connections = JoinSet::new();
            loop {
                let (tcp, slot) = tokio::select! {
                    handed = incoming.recv() => match handed {
                        Some(handed) => handed,
                        None => break,
                    },
                    _ = stop.changed() => break,
                };
                // Reap finished connections so the set holds only open ones.
                while connections.try_join_next().is_some() {}
                let tcp = match tokio::net::TcpStream::from_std(tcp) {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        tracing::warn!(error = %e, "data-plane connection could not be registered");
                        continue;
                    }
                };
                // Small JSON answers must not wait for Nagle (PERFORMANCE.md).
                let _ = tcp.set_nodelay(true);
                let (plane, stop) = (plane.clone(), stop.clone());
                connections.spawn_local(async move {
                    connection(tcp, plane, stop, limits).await;
                    drop(slot);
                });
            }
            let drained = tokio::time::timeout(limits.shutdown_timeout, async {
                while connections.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!("data plane: requests still running after the shutdown timeout");
                connections.shutdown().await;
            }
        })
        .await;
}

/// Serves one keep-alive connection; on a stop, the request in flight finishes and the
/// connection then closes.
async fn connection(
    tcp: tokio::net::TcpStream,
    plane: Rc<Plane>,
    mut stop: watch::Receiver<bool>,
    limits: ConnectionLimits,
) {
    let service = hyper::service::service_fn(move |req| {
        let plane = plane.clone();
        async move { Ok::<_, std::convert::Infallible>(handler::handle(&plane, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "data-plane connection ended with an error");
    }
}
