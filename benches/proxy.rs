//! The SQL API proxy benchmark: `SELECT 1` through `POST …/api/v2/statements`, keep-alive, at
//! concurrency 1, 16 and 64, against several targets in one process and one run:
//!
//! - `direct`: snowsim itself, with a keypair JWT signed once at start-up by the bench;
//! - `bare-proxy`: the ~50-line hyper-only pass-through of `bare_proxy.rs` (the best a proxy can
//!   do on this machine: client, proxy and upstream share the same cores), adding that JWT;
//! - `icebroker`: the broker's keypair route `/v1/connections/bench/api/v2/statements` with a
//!   service API key (cached JWT, the full production hot path: key check, statement
//!   ownership, defaults filled in, requestId, audit log, metrics);
//!
//! and, with an OAuth credential instead of the JWT (opt-in through `PROXY_BENCH_TARGETS`):
//!
//! - `direct-oauth` and `bare-proxy-oauth`: the same two, sending JSMITH's OAuth access token
//!   (the one the broker holds for the account);
//! - `icebroker-oauth`: the broker's OAuth route
//!   `/v1/connections/bench-oauth/accounts/bench-user/api/v2/statements`, for an account
//!   connected through the real browser flow (link → snowsim login and consent → callback), so
//!   the broker serves a cached access token;
//!
//! and, opt-in, the framework floor for each credential: `actix-proxy` and `actix-proxy-oauth`,
//! the bare proxy's hop served by actix-web (`actix_proxy.rs`), which tells what the framework
//! costs from what the broker's own work costs. `PROXY_BENCH_TARGETS=all` runs all eight
//! (`scripts/bench.sh` does).
//!
//! Every target makes snowsim do the same work: the same kind of credential (an RS256 JWT for
//! JSMITH's key, or the OAuth token), and the same request: the pass-through targets send what
//! the broker sends upstream for the caller's `{"statement":"SELECT 1"}` (the connection's
//! default role and warehouse filled in, computed by the broker's own `prepare_body`, and a fresh
//! `requestId`), so the differences are the hops'. The JWT lives 59 minutes: runs lengthened past
//! that fail with errors in `direct` and `bare-proxy`.
//!
//! Method: several rounds. At concurrency 1 a round measures each credential's targets at once,
//! interleaved request by request ([`run_interleaved`]): on 2 shared cores the latency of one
//! target moves by more between cells seconds apart than the differences being measured. At 16 and 64 a round
//! runs each target in turn (the order rotates between rounds) with fresh connections, a warm-up
//! and a measured window. Every latency is recorded (request start to last body byte). The
//! table shows per-cell medians over the rounds; ratios and differences are medians of the
//! per-round ones. CPU µs/req is the whole process's CPU time (user + system, from
//! `/proc/self/stat`) in the window divided by the requests (cells only): the proxy's own cost is
//! the difference to `direct`.
//!
//! Threads: snowsim and the broker run with their normal worker counts (2 actix workers each; the
//! broker's default `workers = 0` means one per core); the bare proxy gets a 2-worker Tokio
//! runtime to match, the floor 2 actix workers. The load generator has its own current-thread
//! Tokio runtime on its own thread, on hyper's http1 client (one connection per concurrent
//! worker, each worker sends sequentially), so it can take at most one core and never steals the
//! servers' worker threads. Everything listens on 127.0.0.1.
//!
//! Each credential's targets are compared among themselves (snowsim checks an OAuth token more
//! cheaply than a JWT). At the end the bench prints how many keypair JWTs the broker signed
//! during the run, and on stderr how many answers each target gave in all (warm-ups included),
//! for per-request counts from outside (e.g. `valgrind --tool=callgrind`).
//!
//! Run: `cargo bench --bench proxy`. Environment: `PROXY_BENCH_ROUNDS` (default 5),
//! `PROXY_BENCH_SECS` (measured seconds per cell and per target, default 2),
//! `PROXY_BENCH_WARMUP_SECS` (default 0.5), `PROXY_BENCH_TARGETS` (comma list, default the three
//! keypair targets; `all` for all eight; e.g. `icebroker` alone for profiling),
//! `PROXY_BENCH_LEVELS` (comma list, default `1,16,64`), `PROXY_BENCH_LOG` (the broker's log
//! filter, e.g. `info` as deployed; unset, no log subscriber is installed and the broker's
//! request log costs nothing). Defaults take about two minutes, `all` about six.

#[path = "actix_proxy.rs"]
mod actix_proxy;
#[path = "bare_proxy.rs"]
mod bare_proxy;
#[path = "support.rs"]
mod support;

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use icebroker::config::Settings;
use icebroker::keypair::{Claims, Identity, KeyMaterial};
use icebroker::snowsim::{SimConfig, SnowSim};
use icebroker::startup::Application;
use secrecy::SecretString;
use serde_json::{json, Value};

/// The broker binary's allocator (src/main.rs): the bench runs the broker as it is deployed.
/// Everything in this process shares it, the reference proxies and snowsim included.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxError = Box<dyn Error + Send + Sync>;

/// The statement body callers send to the broker.
const STATEMENT: &str = r#"{"statement":"SELECT 1"}"#;
const TARGETS: [&str; 3] = ["direct", "bare-proxy", "icebroker"];
/// The OAuth variants (opt-in through `PROXY_BENCH_TARGETS`).
const OAUTH_TARGETS: [&str; 3] = ["direct-oauth", "bare-proxy-oauth", "icebroker-oauth"];
/// The framework floor (`actix_proxy.rs`) for each credential, opt-in: the bare proxy's hop served
/// by actix-web, to tell the framework's cost from the broker's.
const FLOOR_TARGETS: [&str; 2] = ["actix-proxy", "actix-proxy-oauth"];
const TOKEN_TYPE: &str = "KEYPAIR_JWT";

/// What a target's requests carry.
#[derive(Clone)]
enum Sends {
    /// The broker: `STATEMENT` alone (it fills in the connection's defaults and mints the
    /// `requestId`).
    Call,
    /// snowsim directly or through a pass-through: what the broker sends upstream for the same
    /// call (this body, which has the connection's defaults filled in, and a fresh `requestId`),
    /// so snowsim does the same work for every target and the differences are the hops'.
    Upstream(Bytes),
}

/// Where and how the load generator sends its requests.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    path: String,
    headers: HeaderMap,
    sends: Sends,
    /// Answers received, warm-ups included (for per-request counts from outside, e.g. callgrind).
    answered: std::sync::atomic::AtomicU64,
}

impl Target {
    fn new(
        name: &'static str,
        addr: SocketAddr,
        path: &str,
        sends: Sends,
        auth: &[(&'static str, String)],
    ) -> Self {
        let mut headers = HeaderMap::new();
        let fixed = [
            ("host", addr.to_string()),
            ("user-agent", "icebroker-bench/1.0".to_owned()),
            ("accept", "application/json".to_owned()),
            ("content-type", "application/json".to_owned()),
        ];
        for (k, v) in fixed.iter().chain(auth) {
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.insert(HeaderName::from_static(k), v);
            }
        }
        Self {
            name,
            addr,
            path: path.to_owned(),
            headers,
            sends,
            answered: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn request(&self) -> Result<Request<Full<Bytes>>, BoxError> {
        let (uri, body) = match &self.sends {
            Sends::Call => (self.path.clone(), Bytes::from_static(STATEMENT.as_bytes())),
            Sends::Upstream(body) => (
                format!("{}?requestId={}", self.path, uuid::Uuid::new_v4()),
                body.clone(),
            ),
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(Full::new(body))?;
        *req.headers_mut() = self.headers.clone();
        Ok(req)
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, BoxError> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One request on `sender`; `Ok(status, body)` once the whole body has arrived.
async fn exchange(sender: &mut Sender, target: &Target) -> Result<(u16, Bytes), BoxError> {
    sender.ready().await?;
    let res = sender.send_request(target.request()?).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One measured cell: a target at one concurrency.
#[derive(Clone, Copy, Default)]
struct Cell {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_req: f64,
    errors: u64,
}

/// A load worker: sequential requests on one keep-alive connection until `until`; latencies of
/// requests started at or after `from`.
async fn worker(target: Arc<Target>, from: Instant, until: Instant) -> (Vec<u32>, u64) {
    let mut latencies = Vec::with_capacity(64 * 1024);
    let mut errors = 0u64;
    let mut sender: Option<Sender> = None;
    while Instant::now() < until {
        let started = Instant::now();
        let conn = match sender.as_mut() {
            Some(s) => s,
            None => match connect(target.addr).await {
                Ok(s) => sender.insert(s),
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let ok = match exchange(conn, &target).await {
            Ok((status, _)) => {
                target
                    .answered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                status == 200
            }
            Err(_) => {
                sender = None;
                false
            }
        };
        if started >= from {
            if ok {
                let micros = started.elapsed().as_nanos() / 1_000;
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
            } else {
                errors += 1;
            }
        }
    }
    (latencies, errors)
}

/// Process CPU time (user + system) in microseconds, from `/proc/self/stat`.
fn process_cpu_us() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (1-based).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        // Linux reports in USER_HZ, which is 100 on every mainstream build.
        (Some(u), Some(s)) => (u + s) * 10_000.0,
        _ => f64::NAN,
    }
}

async fn run_cell(
    target: &Arc<Target>,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
) -> Cell {
    let from = Instant::now() + warmup;
    let until = from + window;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(Arc::clone(target), from, until)))
        .collect();
    tokio::time::sleep_until(from.into()).await;
    let cpu_from = process_cpu_us();
    tokio::time::sleep_until(until.into()).await;
    let cpu_until = process_cpu_us();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((latencies, e)) = task.await {
            all.extend(latencies);
            errors += e;
        }
    }
    let requests = all.len() as f64;
    let (p50_us, p99_us) = percentiles(all);
    Cell {
        rps: requests / window.as_secs_f64(),
        p50_us,
        p99_us,
        cpu_us_per_req: (cpu_until - cpu_from) / requests,
        errors,
    }
}

/// The p50 and p99 of `latencies` (µs, nearest rank).
fn percentiles(mut latencies: Vec<u32>) -> (f64, f64) {
    latencies.sort_unstable();
    let pct = |p: f64| {
        let rank =
            ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(rank).copied().map_or(f64::NAN, f64::from)
    };
    (pct(0.50), pct(0.99))
}

/// Concurrency 1 for all `targets` at once, interleaved request by request on one keep-alive
/// connection each (the order rotates every cycle and reverses every other lap, so each target
/// follows each other one equally often). Every target is measured under the same machine
/// conditions: on 2 shared cores they move more between cells seconds apart than the differences
/// being measured (a proxy's added p50 went from 0 to 110 µs between rounds of one binary). Each
/// target gets `window` of requests in all. `rps` is 1 / mean latency; the process's CPU cannot be
/// told apart per target, so `cpu_us_per_req` is NaN.
async fn run_interleaved(targets: &[Arc<Target>], warmup: Duration, window: Duration) -> Vec<Cell> {
    let n = targets.len();
    let mut senders: Vec<Option<Sender>> = (0..n).map(|_| None).collect();
    let mut latencies: Vec<Vec<u32>> = vec![Vec::with_capacity(16 * 1024); n];
    let mut errors = vec![0u64; n];
    let from = Instant::now() + warmup;
    let until = from + window * u32::try_from(n).unwrap_or(1);
    let mut cycle = 0usize;
    while Instant::now() < until {
        for step in 0..n {
            let lap = cycle / n;
            let slot = if lap.is_multiple_of(2) {
                step
            } else {
                n - 1 - step
            };
            let i = (slot + cycle) % n;
            let target = &targets[i];
            let started = Instant::now();
            let sender = match senders[i].as_mut() {
                Some(s) => s,
                None => match connect(target.addr).await {
                    Ok(s) => senders[i].insert(s),
                    Err(_) => {
                        errors[i] += 1;
                        continue;
                    }
                },
            };
            let ok = match exchange(sender, target).await {
                Ok((status, _)) => {
                    target
                        .answered
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    status == 200
                }
                Err(_) => {
                    senders[i] = None;
                    false
                }
            };
            if started >= from {
                if ok {
                    let micros = started.elapsed().as_nanos() / 1_000;
                    latencies[i].push(u32::try_from(micros).unwrap_or(u32::MAX));
                } else {
                    errors[i] += 1;
                }
            }
        }
        cycle += 1;
    }
    latencies
        .into_iter()
        .zip(errors)
        .map(|(all, errors)| {
            let mean = all.iter().map(|&l| f64::from(l)).sum::<f64>() / all.len().max(1) as f64;
            let (p50_us, p99_us) = percentiles(all);
            Cell {
                rps: 1e6 / mean,
                p50_us,
                p99_us,
                cpu_us_per_req: f64::NAN,
                errors,
            }
        })
        .collect()
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// What the benchmark runs against; dropping it leaves the servers to die with the process.
struct Setup {
    targets: Vec<Arc<Target>>,
    state: icebroker::state::AppState,
    _data_dir: tempfile::TempDir,
    _sim: icebroker::snowsim::RunningSnowSim,
}

async fn setup(bare_rt: &tokio::runtime::Runtime) -> Result<Setup, BoxError> {
    // The connection's key, enrolled in snowsim's config before it starts (no admin SQL needed).
    let key = tokio::task::spawn_blocking(KeyMaterial::generate).await??;

    // The broker, configured like the API tests' brokers (temp vault, random master key). Built
    // before snowsim: snowsim's OAuth integration must know the broker's callback URL.
    let data_dir = tempfile::tempdir()?;
    let mut master_key = [0u8; 32];
    getrandom::fill(&mut master_key)?;
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.storage.data_dir = data_dir.path().to_path_buf();
    settings.master_key = Some(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode(master_key),
    ));
    settings.upstream.allow_loopback = true;
    let mut app = Application::build(settings).await?;
    let admin_key = app
        .take_bootstrap_key()
        .map(|k| k.expose().to_owned())
        .ok_or("the fresh vault produced no bootstrap key")?;
    let broker_addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let broker = format!("http://{broker_addr}");

    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    // Long-lived access tokens: the cached token must outlive the run (no refresh mid-bench).
    config.access_token_ttl_secs = 3600;
    config.accounts[0].integrations = vec![support::integration(&broker, "bench-oauth")];
    for account in &mut config.accounts {
        for user in &mut account.users {
            if user.name == "JSMITH" {
                user.rsa_public_key = Some(key.public_key_b64.clone());
            }
        }
    }
    let sim = SnowSim::start(config, "127.0.0.1:0".parse()?).await?;
    // The credential `direct` and `bare-proxy` send: a keypair JWT signed once with the
    // connection's key, so snowsim does the same work (RS256 verification) for every target.
    let identity = Identity {
        account: "XY12345".to_owned(),
        login_name: "JSMITH".to_owned(),
        fingerprint: key.fingerprint.clone(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &Claims::new(&identity, now),
        &jsonwebtoken::EncodingKey::from_rsa_pem(key.pkcs8_pem().as_bytes())?,
    )?;

    let http = reqwest::Client::new();
    let created = http
        .post(format!("{broker}/v1/connections"))
        .bearer_auth(&admin_key)
        .json(&json!({
            "name": "bench", "kind": "keypair", "account": "xy12345.us-east-2.aws",
            "host": sim.base_url(), "user": "jsmith", "role": "ANALYST",
            "warehouse": "COMPUTE_WH", "private_key_pem": key.pkcs8_pem().as_str(),
        }))
        .send()
        .await?;
    if created.status() != 201 {
        return Err(format!("creating the connection: {}", created.text().await?).into());
    }
    let keyed: Value = http
        .post(format!("{broker}/v1/api-keys"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "bench", "scope": "service", "connections": ["bench"]}))
        .send()
        .await?
        .json()
        .await?;
    let service_key = keyed["key"]
        .as_str()
        .ok_or_else(|| format!("creating the API key: {keyed}"))?
        .to_owned();

    // The OAuth connection and one end user connected through the browser flow.
    support::create_oauth_connection(&http, &broker, &admin_key, "bench-oauth", &sim.base_url())
        .await?;
    let oauth_key = support::service_key(&http, &broker, &admin_key, &["bench-oauth"]).await?;
    support::connect_account(
        &broker,
        &sim.base_url(),
        &oauth_key,
        "bench-oauth",
        "bench-user",
    )
    .await?;
    // The same user's token for the OAuth `direct` and `bare-proxy` targets (snowsim does the
    // same token check for them as for the broker's).
    let oauth_token = sim
        .control()
        .mint_access_token("JSMITH", Some("ANALYST"))
        .map_err(|e| format!("minting an access token: {e}"))?;

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let bare_addr = listener.local_addr()?;
    let upstream = sim.addr().to_string();
    let bearer = token.clone();
    bare_rt.spawn(async move { bare_proxy::serve(listener, upstream, &bearer, TOKEN_TYPE).await });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let bare_oauth_addr = listener.local_addr()?;
    let upstream = sim.addr().to_string();
    let bearer = oauth_token.clone();
    bare_rt.spawn(async move { bare_proxy::serve(listener, upstream, &bearer, "OAUTH").await });

    let mut floor_addrs = Vec::new();
    for bearer in [&token, &oauth_token] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        floor_addrs.push(listener.local_addr()?);
        let token_type = if bearer == &token {
            TOKEN_TYPE
        } else {
            "OAUTH"
        };
        let server = actix_proxy::serve(listener, sim.addr().to_string(), bearer, token_type)?;
        tokio::spawn(server);
    }

    // The bodies the broker sends upstream for `STATEMENT`, by the broker's own function and the
    // connections' defaults as stored.
    let upstream_body = |connection: &str| -> Result<Sends, BoxError> {
        let defaults = state.connections.get(connection)?.defaults.clone();
        let prepared =
            icebroker::proxy::prepare_body(Bytes::from_static(STATEMENT.as_bytes()), &defaults)
                .map_err(|e| e.0)?;
        Ok(Sends::Upstream(prepared.bytes))
    };
    let keypair = upstream_body("bench")?;
    let oauth = upstream_body("bench-oauth")?;
    let statements = "/api/v2/statements";
    let targets = vec![
        Arc::new(Target::new(
            "direct",
            sim.addr(),
            statements,
            keypair.clone(),
            &[
                ("authorization", format!("Bearer {token}")),
                (
                    "x-snowflake-authorization-token-type",
                    TOKEN_TYPE.to_owned(),
                ),
            ],
        )),
        Arc::new(Target::new(
            "bare-proxy",
            bare_addr,
            statements,
            keypair.clone(),
            &[],
        )),
        Arc::new(Target::new(
            "icebroker",
            broker_addr,
            "/v1/connections/bench/api/v2/statements",
            Sends::Call,
            &[("authorization", format!("Bearer {service_key}"))],
        )),
        Arc::new(Target::new(
            "direct-oauth",
            sim.addr(),
            statements,
            oauth.clone(),
            &[
                ("authorization", format!("Bearer {oauth_token}")),
                ("x-snowflake-authorization-token-type", "OAUTH".to_owned()),
            ],
        )),
        Arc::new(Target::new(
            "bare-proxy-oauth",
            bare_oauth_addr,
            statements,
            oauth.clone(),
            &[],
        )),
        Arc::new(Target::new(
            "actix-proxy",
            floor_addrs[0],
            statements,
            keypair,
            &[],
        )),
        Arc::new(Target::new(
            "actix-proxy-oauth",
            floor_addrs[1],
            statements,
            oauth,
            &[],
        )),
        Arc::new(Target::new(
            "icebroker-oauth",
            broker_addr,
            "/v1/connections/bench-oauth/accounts/bench-user/api/v2/statements",
            Sends::Call,
            &[("authorization", format!("Bearer {oauth_key}"))],
        )),
    ];
    Ok(Setup {
        targets,
        state,
        _data_dir: data_dir,
        _sim: sim,
    })
}

/// Checks each target answers `SELECT 1` with a 200 ResultSet before measuring anything.
async fn sanity(targets: &[Arc<Target>]) -> Result<(), BoxError> {
    for target in targets {
        let mut sender = connect(target.addr).await?;
        let (status, body) = exchange(&mut sender, target).await?;
        let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 || parsed["data"][0][0] != "1" {
            return Err(format!(
                "{}: expected a 200 ResultSet with 1, got {status}: {}",
                target.name,
                String::from_utf8_lossy(&body)
            )
            .into());
        }
    }
    Ok(())
}

type Results = BTreeMap<(usize, &'static str), Vec<Cell>>;

async fn measure(
    targets: &[Arc<Target>],
    levels: &[usize],
    rounds: usize,
    warmup: Duration,
    window: Duration,
) -> Results {
    let mut results: Results = BTreeMap::new();
    for round in 0..rounds {
        for &c in levels {
            if c == 1 {
                // One interleaved group per credential: the more targets share a loop, the colder
                // each one's caches are when its turn comes, which penalises the biggest hop most.
                let mut groups: Vec<Vec<Arc<Target>>> = [false, true]
                    .into_iter()
                    .map(|oauth| {
                        let of_kind = |t: &&Arc<Target>| t.name.ends_with("-oauth") == oauth;
                        targets.iter().filter(of_kind).cloned().collect()
                    })
                    .filter(|group: &Vec<_>| !group.is_empty())
                    .collect();
                let first = round % groups.len().max(1);
                groups.rotate_left(first);
                for group in &groups {
                    let cells = run_interleaved(group, warmup, window).await;
                    for (target, cell) in group.iter().zip(cells) {
                        log_cell(round, c, target, &cell);
                        results.entry((c, target.name)).or_default().push(cell);
                    }
                }
                continue;
            }
            for i in 0..targets.len() {
                let target = &targets[(i + round) % targets.len()];
                let cell = run_cell(target, c, warmup, window).await;
                log_cell(round, c, target, &cell);
                results.entry((c, target.name)).or_default().push(cell);
            }
        }
    }
    results
}

fn log_cell(round: usize, c: usize, target: &Target, cell: &Cell) {
    eprintln!(
        "round {} c={c:<3} {:<10} {:>8.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs  cpu {:>5.1} µs/req  errors {}",
        round + 1,
        target.name,
        cell.rps,
        cell.p50_us,
        cell.p99_us,
        cell.cpu_us_per_req,
        cell.errors
    );
}

/// `value` with `decimals` places (a sign too when `signed`), or `—` when it was not measured.
fn num(value: f64, decimals: usize, signed: bool) -> String {
    match (value.is_finite(), signed) {
        (false, _) => "—".to_owned(),
        (true, true) => format!("{value:+.decimals$}"),
        (true, false) => format!("{value:.decimals$}"),
    }
}

/// The lower and upper quartile of `values` (nearest rank).
fn quartiles(mut values: Vec<f64>) -> (f64, f64) {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len().max(1)) - 1;
        values.get(rank).copied().unwrap_or(f64::NAN)
    };
    (at(0.25), at(0.75))
}

fn report(results: &Results, levels: &[usize], names: &[&'static str]) {
    let cells = |c: usize, name: &str| results.get(&(c, name)).cloned().unwrap_or_default();
    let med =
        |c: usize, name: &str, f: fn(&Cell) -> f64| median(cells(c, name).iter().map(f).collect());
    println!();
    println!("| c | target | req/s | p50 µs | p99 µs | CPU µs/req (process) | errors |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for &c in levels {
        for &name in names {
            let errors: u64 = cells(c, name).iter().map(|x| x.errors).sum();
            println!(
                "| {c} | {name} | {:.0} | {:.0} | {:.0} | {} | {errors} |",
                med(c, name, |x| x.rps),
                med(c, name, |x| x.p50_us),
                med(c, name, |x| x.p99_us),
                num(med(c, name, |x| x.cpu_us_per_req), 1, false),
            );
        }
    }
    // Paired per-round values (same round: seconds apart, or interleaved at c=1).
    let per_round = |c: usize, a: &str, b: &str, f: Pairing| -> Vec<f64> {
        let (xa, xb) = (cells(c, a), cells(c, b));
        xa.iter().zip(&xb).map(|(p, q)| f(p, q)).collect()
    };
    let paired = |c: usize, a: &str, b: &str, f: Pairing| median(per_round(c, a, b, f));
    let cpu = |c: usize, a: &str, b: &str| num(paired(c, a, b, CPU_DIFF), 1, true);
    for ([_, bare, ice], floor) in [TARGETS, OAUTH_TARGETS].into_iter().zip(FLOOR_TARGETS) {
        if !(names.contains(&floor) && names.contains(&bare) && names.contains(&ice)) {
            continue;
        }
        println!();
        println!("| c | {floor}/{bare} req/s | {ice}/{floor} req/s | {floor} − {bare} p50 µs | {ice} − {floor} p50 µs | {floor} − {bare} CPU µs/req | {ice} − {floor} CPU µs/req |");
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for &c in levels {
            println!(
                "| {c} | {:.3} | {:.3} | {:+.0} | {:+.0} | {} | {} |",
                paired(c, floor, bare, RPS_RATIO),
                paired(c, ice, floor, RPS_RATIO),
                paired(c, floor, bare, P50_DIFF),
                paired(c, ice, floor, P50_DIFF),
                cpu(c, floor, bare),
                cpu(c, ice, floor),
            );
        }
    }
    for [direct, bare, ice] in [TARGETS, OAUTH_TARGETS] {
        if !(names.contains(&ice) && names.contains(&bare) && names.contains(&direct)) {
            continue;
        }
        println!();
        println!("| c | {ice}/{bare} req/s | {ice}/{direct} req/s | {bare}/{direct} req/s | {ice} − {bare} p50 µs | {ice} − {bare} CPU µs/req |");
        println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
        for &c in levels {
            println!(
                "| {c} | {:.3} | {:.3} | {:.3} | {:+.0} | {} |",
                paired(c, ice, bare, RPS_RATIO),
                paired(c, ice, direct, RPS_RATIO),
                paired(c, bare, direct, RPS_RATIO),
                paired(c, ice, bare, P50_DIFF),
                cpu(c, ice, bare),
            );
        }
        println!();
        if levels.contains(&64) {
            let rounds = per_round(64, ice, bare, RPS_RATIO);
            let (r, spread) = (median(rounds.clone()), spread(rounds, 3));
            let verdict = if r >= 0.85 { "met" } else { "MISSED" };
            println!(
                "target: {ice}/{bare} throughput at c=64 ≥ 0.85 → {r:.3} ({verdict}; {spread})"
            );
        }
        if levels.contains(&1) {
            let rounds = per_round(1, ice, bare, P50_DIFF);
            let (d, spread) = (median(rounds.clone()), spread(rounds, 0));
            let verdict = if d <= 50.0 { "met" } else { "MISSED" };
            println!("target: {ice} added p50 over {bare} at c=1 ≤ 50 µs → {d:+.0} µs ({verdict}; {spread})");
        }
    }
}

/// One per-round comparison of two targets' cells.
type Pairing = fn(&Cell, &Cell) -> f64;
const RPS_RATIO: Pairing = |p, q| p.rps / q.rps;
const P50_DIFF: Pairing = |p, q| p.p50_us - q.p50_us;
const CPU_DIFF: Pairing = |p, q| p.cpu_us_per_req - q.cpu_us_per_req;

/// "quartiles of the N rounds a–b".
fn spread(rounds: Vec<f64>, decimals: usize) -> String {
    let n = rounds.len();
    let (low, high) = quartiles(rounds);
    format!("quartiles of the {n} rounds {low:.decimals$}–{high:.decimals$}")
}

fn main() -> Result<(), BoxError> {
    let rounds = env_f64("PROXY_BENCH_ROUNDS", 5.0).max(1.0) as usize;
    let window = Duration::from_secs_f64(env_f64("PROXY_BENCH_SECS", 2.0).max(0.1));
    let warmup = Duration::from_secs_f64(env_f64("PROXY_BENCH_WARMUP_SECS", 0.5).max(0.0));
    let levels: Vec<usize> = env_list("PROXY_BENCH_LEVELS")
        .map(|l| l.iter().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64]);
    let wanted = env_list("PROXY_BENCH_TARGETS");
    // The broker logging as deployed (one line per request to stderr); the double stays quiet.
    if let Ok(level) = std::env::var("PROXY_BENCH_LOG") {
        icebroker::telemetry::init(&icebroker::config::LogSettings {
            level: format!("{level},icebroker::snowsim=warn"),
            ..Default::default()
        });
    }
    let all = wanted
        .as_ref()
        .is_some_and(|w| w.iter().any(|x| x == "all"));
    let names: Vec<&'static str> = TARGETS
        .into_iter()
        .chain(OAUTH_TARGETS)
        .chain(FLOOR_TARGETS)
        .filter(|t| match &wanted {
            _ if all => true,
            Some(w) => w.iter().any(|x| x == t),
            None => TARGETS.contains(t),
        })
        .collect();

    // Hosts the actix servers' control futures and the broker's background tasks; the actix
    // workers themselves are threads of their own.
    let infra = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-infra")
        .enable_all()
        .build()?;
    let bare_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bare-proxy")
        .enable_all()
        .build()?;
    let setup = infra.block_on(setup(&bare_rt))?;
    let targets: Vec<Arc<Target>> = setup
        .targets
        .iter()
        .filter(|t| names.contains(&t.name))
        .cloned()
        .collect();
    println!(
        "SQL API proxy benchmark: SELECT 1, keep-alive, {} cores, {rounds} rounds × {:?} measured (+{:?} warm-up) per cell",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        window,
        warmup,
    );
    let levels_for_gen = levels.clone();
    let signatures_before = setup.state.connections.signatures();
    let run_started = Instant::now();
    let loadgen = std::thread::Builder::new()
        .name("loadgen".to_owned())
        .spawn(move || -> Result<Results, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                sanity(&targets).await.map_err(|e| e.to_string())?;
                Ok(measure(&targets, &levels_for_gen, rounds, warmup, window).await)
            })
        })?;
    let results = loadgen
        .join()
        .map_err(|_| "the load generator panicked")??;
    let run_secs = run_started.elapsed().as_secs_f64();
    for target in &setup.targets {
        let answered = target.answered.load(std::sync::atomic::Ordering::Relaxed);
        if answered > 0 {
            eprintln!("{}: {answered} answers in all", target.name);
        }
    }
    let signatures = setup.state.connections.signatures() - signatures_before;
    report(&results, &levels, &names);
    if names.contains(&"icebroker") {
        let requests: f64 = results
            .iter()
            .filter(|((_, name), _)| *name == "icebroker")
            .flat_map(|(_, cells)| cells.iter().map(|c| c.rps * window.as_secs_f64()))
            .sum();
        // The first request of the run signs (nothing signed before it); every later signature
        // is a re-sign under load.
        println!(
            "keypair JWT signatures by the broker during the run: {signatures} (the first request's, then {} more) for ≈{requests:.0} measured requests over {run_secs:.0} s",
            signatures.saturating_sub(1)
        );
    }
    drop(setup);
    bare_rt.shutdown_background();
    infra.shutdown_background();
    Ok(())
}
