//! The operations benchmarks of the harness (`scripts/bench.sh` runs them after the proxy
//! bench), each against snowsim on loopback, printing Markdown:
//!
//! - `storm`: refresh storms. An OAuth account connected through the real browser flow, then 500
//!   concurrent proxied statements on a token that is no longer valid, in two ways: snowsim
//!   expires its access tokens (every request meets an upstream 401 and asks for a forced
//!   refresh), and the broker's clock passes the token's expiry (every request finds it expired
//!   before going upstream). Counts refresh grants snowsim received (target: exactly 1 per
//!   storm) and the storm's latency.
//! - `big`: a ~1 GiB partitioned result (snowsim's `GENERATOR`, computed per partition) streamed
//!   through the broker's keypair route by a client that reads every partition, with the broker
//!   as a separate process (the `icebroker serve` binary of this build, configured through
//!   environment variables); its peak RSS growth comes from `/proc/<pid>/status` after resetting
//!   the high-water mark through `/proc/<pid>/clear_refs` (target ≤ 32 MiB).
//! - `vault`: 1,000,000 connected OAuth accounts sealed into the vault with the batched put,
//!   then token lookups through the token manager (cold from the store, then cached; target p99
//!   ≤ 1 ms), then the `icebroker serve` binary started on that data dir (time to `/readyz`,
//!   target ≤ 2 s), its RSS, and account reads over HTTP.
//! - `sign`: keypair JWT signatures: the real signer's rate (RS256 through the broker's JWT
//!   cache, forced to re-sign every call), and a simulated hour of 64 concurrent callers on one
//!   connection's cache (how many signatures the cache makes per hour under load).
//!
//! Run: `cargo bench --bench harness`. Environment: `HARNESS_SECTIONS` (comma list, default
//! `storm,big,vault,sign`), `STORM_REQUESTS` (500), `STORM_ROUNDS` (3 per kind), `BIG_BYTES`
//! (1 GiB of JSON rows), `BIG_PARTITION_ROWS` (50,000), `VAULT_ACCOUNTS` (1,000,000),
//! `VAULT_LOOKUPS` (10,000).

#[path = "support.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use icebroker::clock::{Clock, ManualClock, SystemClock};
use icebroker::config::Settings;
use icebroker::keypair::{Identity, JwtCache, KeyMaterial};
use icebroker::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use icebroker::startup::Application;
use icebroker::state::AppState;
use icebroker::vault::Slot;
use secrecy::SecretString;
use serde_json::{json, Value};
use support::{mib, summary_us, BoxError};

const GIB: u64 = 1 << 30;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn now_secs() -> u64 {
    SystemClock.now()
}

fn random_master_key() -> Result<String, BoxError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// An in-process broker (the proxy bench's setup) on `data_dir`.
struct Broker {
    url: String,
    admin_key: String,
    state: AppState,
}

async fn start_broker(
    data_dir: &Path,
    master_key: &str,
    admin_key: &str,
    clock: Arc<dyn Clock>,
    run: bool,
) -> Result<(Broker, Option<Application>), BoxError> {
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.storage.data_dir = data_dir.to_path_buf();
    settings.master_key = Some(SecretString::from(master_key.to_owned()));
    settings.admin_key = Some(SecretString::from(admin_key.to_owned()));
    settings.upstream.allow_loopback = true;
    let app = Application::build_with_clock(settings, clock).await?;
    let broker = Broker {
        url: format!("http://127.0.0.1:{}", app.port()),
        admin_key: admin_key.to_owned(),
        state: app.state().clone(),
    };
    if run {
        tokio::spawn(app.run_until_stopped());
        Ok((broker, None))
    } else {
        Ok((broker, Some(app)))
    }
}

fn admin_key() -> Result<String, BoxError> {
    Ok(icebroker::api_keys::PlaintextApiKey::generate()?
        .expose()
        .to_owned())
}

async fn start_sim(config: SimConfig) -> Result<RunningSnowSim, BoxError> {
    Ok(SnowSim::start(config, "127.0.0.1:0".parse()?).await?)
}

fn sim_config() -> SimConfig {
    let mut config = SimConfig::demo();
    config.tpch_scale = 0.001;
    config.workers = 2;
    config
}

// ---------------------------------------------------------------------------------------------
// Refresh storm

struct StormOutcome {
    ok: usize,
    refreshes: u64,
    broker_refreshes: u64,
    wall: Duration,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

async fn fire(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    n: usize,
) -> (usize, Vec<Duration>, Duration) {
    let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (http, url, key, gate) = (
            http.clone(),
            url.to_owned(),
            key.to_owned(),
            Arc::clone(&gate),
        );
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let started = Instant::now();
            let res = http
                .post(url)
                .bearer_auth(key)
                .json(&json!({ "statement": "SELECT 1" }))
                .send()
                .await;
            let ok = match res {
                Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            (ok, started.elapsed())
        }));
    }
    gate.wait().await;
    let started = Instant::now();
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        if let Ok((good, d)) = t.await {
            ok += usize::from(good);
            latencies.push(d);
        }
    }
    (ok, latencies, started.elapsed())
}

async fn storm_section() -> Result<(), BoxError> {
    let n = env_u64("STORM_REQUESTS", 500) as usize;
    let rounds = env_u64("STORM_ROUNDS", 3);
    let clock = Arc::new(ManualClock::new(now_secs()));
    let data_dir = tempfile::tempdir()?;
    let (broker, _) = start_broker(
        data_dir.path(),
        &random_master_key()?,
        &admin_key()?,
        clock.clone(),
        true,
    )
    .await?;
    let mut config = sim_config();
    config.accounts[0].integrations = vec![support::integration(&broker.url, "storm")];
    let sim = start_sim(config).await?;
    let http = reqwest::Client::new();
    support::create_oauth_connection(
        &http,
        &broker.url,
        &broker.admin_key,
        "storm",
        &sim.base_url(),
    )
    .await?;
    let key = support::service_key(&http, &broker.url, &broker.admin_key, &["storm"]).await?;
    support::connect_account(&broker.url, &sim.base_url(), &key, "storm", "storm-user").await?;
    let url = format!(
        "{}/v1/connections/storm/accounts/storm-user/api/v2/statements",
        broker.url
    );
    // Keep-alive clients: the storm's connections are open before it starts.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .timeout(Duration::from_secs(120))
        .build()?;

    println!("## Refresh storm\n");
    println!(
        "{n} concurrent proxied `SELECT 1` on one OAuth account (connected through the browser flow) whose access token is no longer valid; connections opened by a warm-up wave first.\n"
    );
    println!("| kind | round | 200s | refresh grants at snowsim | broker refreshes | storm wall ms | p50 ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut all_one = true;
    for kind in ["upstream 401", "expired in broker"] {
        for round in 1..=rounds {
            let (warm_ok, _, _) = fire(&client, &url, &key, n).await;
            if warm_ok != n {
                return Err(format!("warm-up wave: only {warm_ok}/{n} answered 200").into());
            }
            match kind {
                "upstream 401" => {
                    sim.control().expire_access_tokens();
                }
                _ => clock.advance(3600),
            }
            let sim_before = sim.control().counters().token_requests_for("refresh_token");
            let broker_before = broker.state.oauth.tokens().refreshes();
            let (ok, mut latencies, wall) = fire(&client, &url, &key, n).await;
            let (p50, p99, max) = summary_us(&mut latencies);
            let outcome = StormOutcome {
                ok,
                refreshes: sim.control().counters().token_requests_for("refresh_token")
                    - sim_before,
                broker_refreshes: broker.state.oauth.tokens().refreshes() - broker_before,
                wall,
                p50_us: p50,
                p99_us: p99,
                max_us: max,
            };
            all_one &= outcome.refreshes == 1 && outcome.ok == n;
            println!(
                "| {kind} | {round} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                outcome.ok,
                outcome.refreshes,
                outcome.broker_refreshes,
                outcome.wall.as_secs_f64() * 1e3,
                outcome.p50_us / 1e3,
                outcome.p99_us / 1e3,
                outcome.max_us / 1e3,
            );
        }
    }
    println!(
        "\ntarget: exactly 1 refresh per storm, every request 200 → {}\n",
        if all_one { "met" } else { "MISSED" }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1 GiB result through a broker child process

/// The `icebroker serve` binary of this build as a child process.
struct ChildBroker {
    child: Child,
    url: String,
}

impl ChildBroker {
    fn spawn(data_dir: &Path, master_key: &str, admin_key: &str) -> Result<Self, BoxError> {
        let port = support::free_port()?;
        let log = std::fs::File::create(data_dir.with_extension("log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_icebroker"))
            .arg("serve")
            .env("ICEBROKER_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("ICEBROKER_STORAGE__DATA_DIR", data_dir)
            .env("ICEBROKER_MASTER_KEY", master_key)
            .env("ICEBROKER_ADMIN_KEY", admin_key)
            .env("ICEBROKER_UPSTREAM__ALLOW_LOOPBACK", "true")
            .env("ICEBROKER_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (graceful: drains and flushes the vault), then waits for the exit.
    fn stop(mut self) -> Result<(), BoxError> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.kill()?;
        self.child.wait()?;
        Err("the broker did not stop within 30 s of SIGTERM".into())
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Counts the bytes a gzip stream decodes to.
#[derive(Default)]
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Fetched {
    partitions: usize,
    rows: u64,
    declared_bytes: u64,
    decoded_bytes: u64,
    wire_bytes: u64,
    elapsed: Duration,
}

/// Reads partition `p ≥ 1` through the proxy as a stream; returns (wire bytes, decoded bytes).
async fn fetch_partition(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    handle: &str,
    p: usize,
) -> Result<(u64, u64), BoxError> {
    let mut res = http
        .get(format!("{base}/{handle}?partition={p}"))
        .bearer_auth(key)
        .send()
        .await?;
    if res.status() != 200 {
        return Err(format!("partition {p}: {}", res.status()).into());
    }
    let gzip = res
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let mut decoder = flate2::write::GzDecoder::new(Counter::default());
    let mut wire = 0u64;
    let mut plain = 0u64;
    while let Some(chunk) = res.chunk().await? {
        wire += chunk.len() as u64;
        if gzip {
            std::io::Write::write_all(&mut decoder, &chunk)?;
        } else {
            plain += chunk.len() as u64;
        }
    }
    if gzip {
        plain = decoder.finish()?.0;
    }
    Ok((wire, plain))
}

/// Submits `statement` through the proxy and reads every partition with `parallel` fetchers.
async fn fetch_all(
    http: &reqwest::Client,
    broker: &str,
    key: &str,
    statement: &str,
    parallel: usize,
) -> Result<Fetched, BoxError> {
    let base = format!("{broker}/v1/connections/big/api/v2/statements");
    let started = Instant::now();
    let res = http
        .post(&base)
        .bearer_auth(key)
        .json(&json!({ "statement": statement }))
        .send()
        .await?;
    let status = res.status();
    let first = res.bytes().await?;
    if status != 200 {
        return Err(format!("submit: {status}: {}", String::from_utf8_lossy(&first)).into());
    }
    let body: Value = serde_json::from_slice(&first)?;
    let handle = body["statementHandle"]
        .as_str()
        .ok_or("no statementHandle")?
        .to_owned();
    let info = body["resultSetMetaData"]["partitionInfo"]
        .as_array()
        .ok_or("no partitionInfo")?;
    let declared_bytes: u64 = info
        .iter()
        .filter_map(|p| p["uncompressedSize"].as_u64())
        .sum();
    let rows: u64 = body["resultSetMetaData"]["numRows"].as_u64().unwrap_or(0);
    let count = info.len();
    let first_data = serde_json::to_string(&body["data"])?.len() as u64;
    drop(body);
    let next = Arc::new(AtomicU64::new(1));
    let mut workers = Vec::new();
    for _ in 0..parallel.max(1) {
        let (http, base, key, handle, next) = (
            http.clone(),
            base.clone(),
            key.to_owned(),
            handle.clone(),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let (mut wire, mut plain) = (0u64, 0u64);
            loop {
                let p = next.fetch_add(1, Ordering::Relaxed) as usize;
                if p >= count {
                    return Ok::<_, String>((wire, plain));
                }
                let (w, d) = fetch_partition(&http, &base, &key, &handle, p)
                    .await
                    .map_err(|e| e.to_string())?;
                wire += w;
                // `{"data":` + rows + `}` around each partition's data array.
                plain += d.saturating_sub(9);
            }
        }));
    }
    let (mut wire, mut decoded) = (first.len() as u64, first_data);
    for w in workers {
        let (a, b) = w.await??;
        wire += a;
        decoded += b;
    }
    Ok(Fetched {
        partitions: count,
        rows,
        declared_bytes,
        decoded_bytes: decoded,
        wire_bytes: wire,
        elapsed: started.elapsed(),
    })
}

async fn big_result_section() -> Result<(), BoxError> {
    let target_bytes = env_u64("BIG_BYTES", GIB);
    let partition_rows = env_u64("BIG_PARTITION_ROWS", 50_000) as usize;
    let key = tokio::task::spawn_blocking(KeyMaterial::generate).await??;
    let mut config = sim_config();
    config.partition_rows = partition_rows;
    for account in &mut config.accounts {
        for user in &mut account.users {
            if user.name == "JSMITH" {
                user.rsa_public_key = Some(key.public_key_b64.clone());
            }
        }
    }
    let sim = start_sim(config).await?;
    let data_dir = tempfile::tempdir()?;
    let admin = admin_key()?;
    let child = ChildBroker::spawn(&data_dir.path().join("data"), &random_master_key()?, &admin)?;
    support::wait_ready(&format!("{}/readyz", child.url), Duration::from_secs(30)).await?;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/v1/connections", child.url))
        .bearer_auth(&admin)
        .json(&json!({
            "name": "big", "kind": "keypair", "account": "xy12345.us-east-2.aws",
            "host": sim.base_url(), "user": "jsmith", "role": "ANALYST",
            "warehouse": "COMPUTE_WH", "private_key_pem": key.pkcs8_pem().as_str(),
        }))
        .send()
        .await?;
    if created.status() != 201 {
        return Err(format!("creating the connection: {}", created.text().await?).into());
    }
    let service = support::service_key(&http, &child.url, &admin, &["big"]).await?;
    // ~125 bytes per row: `["1234567","123456789","<100 characters>"],`.
    let rows = target_bytes / 125 + 1;
    let statement = |rows: u64| {
        format!(
            "SELECT SEQ8() AS ID, UNIFORM(1, 1000000000, RANDOM()) AS N, RANDSTR(100, RANDOM()) AS S \
             FROM TABLE(GENERATOR(ROWCOUNT => {rows}))"
        )
    };
    // Warm-up: pools, worker threads and allocator arenas exist before the baseline.
    fetch_all(&http, &child.url, &service, &statement(400_000), 4).await?;

    println!("## 1 GiB result through the proxy (broker as a separate process)\n");
    println!(
        "`{}` through the keypair route of `icebroker serve` (child process, pid {}), partitions of {partition_rows} rows (partition 0 inline, the rest gzip, streamed and decoded by the client).\n",
        statement(rows),
        child.pid()
    );
    println!("| fetchers | partitions | rows | JSON bytes (declared / decoded) | wire bytes | seconds | MiB/s (JSON) | broker RSS before | peak RSS | growth |");
    println!("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut worst = 0u64;
    for parallel in [1usize, 4] {
        let pid = child.pid();
        let before = support::proc_status_kb(pid, "VmRSS").ok_or("no VmRSS")?;
        support::reset_peak_rss(pid)?;
        // Sampled too, in case the high-water mark cannot be reset.
        let sampled = Arc::new(AtomicU64::new(before));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (sampled, stop) = (Arc::clone(&sampled), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = support::proc_status_kb(pid, "VmRSS") {
                        sampled.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let fetched = fetch_all(&http, &child.url, &service, &statement(rows), parallel).await;
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let fetched = fetched?;
        let hwm = support::proc_status_kb(pid, "VmHWM").ok_or("no VmHWM")?;
        let peak = hwm.max(sampled.load(Ordering::Relaxed));
        let growth = peak.saturating_sub(before);
        worst = worst.max(growth);
        println!(
            "| {parallel} | {} | {} | {} / {} ({:.3} GiB) | {} | {:.1} | {:.0} | {:.1} MiB | {:.1} MiB | **{:.1} MiB** |",
            fetched.partitions,
            fetched.rows,
            fetched.declared_bytes,
            fetched.decoded_bytes,
            fetched.declared_bytes as f64 / GIB as f64,
            fetched.wire_bytes,
            fetched.elapsed.as_secs_f64(),
            mib(fetched.decoded_bytes) / fetched.elapsed.as_secs_f64(),
            mib(before),
            mib(peak),
            mib(growth),
        );
        if fetched.decoded_bytes != fetched.declared_bytes {
            println!("\n(decoded bytes differ from partitionInfo: the stream was altered)\n");
        }
    }
    println!(
        "\ntarget: broker peak RSS growth ≤ 32 MiB for 1 GiB → {:.1} MiB ({})\n",
        mib(worst),
        if worst <= 32 << 20 { "met" } else { "MISSED" }
    );
    child.stop()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Vault scale

fn token_text(prefix: &str, i: u64, len: usize) -> String {
    // Token-shaped filler (Snowflake's are ~200-400 characters); distinct per account.
    let mut s = format!("ver:1-hint:{i}-{prefix}");
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(char::from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[(x % 62) as usize],
        ));
    }
    s
}

fn account_record(i: u64, now: u64) -> Vec<u8> {
    json!({
        "status": "active",
        "snowflake_user": "JSMITH",
        "scope": "refresh_token session:role:ANALYST",
        "access_token": token_text("at", i, 240),
        "refresh_token": token_text("rt", i, 240),
        "access_expires_at": now + 30 * 24 * 3600,
        "access_lifetime": 600,
        "refresh_expires_at": now + 90 * 24 * 3600,
        "connected_at": now,
        "last_refresh_at": null,
        "last_error": null,
        "linked_by": null,
        "created_at": now,
        "updated_at": now,
        "generation": 1,
    })
    .to_string()
    .into_bytes()
}

fn identifier(i: u64) -> String {
    format!("user-{i:07}")
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

async fn vault_section() -> Result<(), BoxError> {
    let n = env_u64("VAULT_ACCOUNTS", 1_000_000);
    let lookups = env_u64("VAULT_LOOKUPS", 10_000).min(n);
    let sim = start_sim(sim_config()).await?;
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let master = random_master_key()?;
    let admin = admin_key()?;
    // The connection and a service key, made over HTTP by the real binary (then stopped).
    let child = ChildBroker::spawn(&data_dir, &master, &admin)?;
    support::wait_ready(&format!("{}/readyz", child.url), Duration::from_secs(30)).await?;
    let http = reqwest::Client::new();
    support::create_oauth_connection(&http, &child.url, &admin, "scale", &sim.base_url()).await?;
    let service = support::service_key(&http, &child.url, &admin, &["scale"]).await?;
    child.stop()?;
    // The storage API in process, on the same data dir (the server is built, never served).
    let (broker, app) =
        start_broker(&data_dir, &master, &admin, Arc::new(SystemClock), false).await?;
    let app = app.ok_or("no application")?;

    // Insert: sealed records through the vault's batched put on two threads, one flush.
    let now = now_secs();
    let started = Instant::now();
    let threads = 2u64;
    std::thread::scope(|scope| -> Result<(), BoxError> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let vault = broker.state.vault.clone();
                scope.spawn(move || -> Result<(), String> {
                    let mut i = t;
                    while i < n {
                        let slot = Slot::new("oauth_account", "scale", &identifier(i), "record")
                            .map_err(|e| e.to_string())?;
                        vault
                            .put_batched(&slot, &account_record(i, now))
                            .map_err(|e| e.to_string())?;
                        i += threads;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "an insert thread panicked")??;
        }
        Ok(())
    })?;
    let put_time = started.elapsed();
    broker.state.vault.store().flush().await?;
    let insert_time = started.elapsed();

    // Token lookups through the token manager: cold (store read + open + decode), then cached.
    let connection = broker.state.connections.get("scale")?;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let sample: Vec<String> = (0..lookups)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            identifier(x % n)
        })
        .collect();
    let mut passes = Vec::new();
    for _ in ["cold", "cached"] {
        let mut times = Vec::with_capacity(sample.len());
        for id in &sample {
            let t = Instant::now();
            broker
                .state
                .oauth
                .tokens()
                .access_token(&connection, id)
                .await?;
            times.push(t.elapsed());
        }
        passes.push(summary_us(&mut times));
    }
    drop(connection);
    drop(broker);
    app.stop().await;
    let disk = dir_size(&data_dir);

    // Start-up of the real binary on that data dir, three times (SIGTERM in between).
    let mut starts = Vec::new();
    let mut rss_after_start = 0;
    let mut reads = (f64::NAN, f64::NAN, f64::NAN);
    let mut rss_after_reads = 0;
    let mut hwm = 0;
    for round in 0..3 {
        let spawned = Instant::now();
        let child = ChildBroker::spawn(&data_dir, &master, &admin)?;
        support::wait_ready(&format!("{}/readyz", child.url), Duration::from_secs(120)).await?;
        starts.push(spawned.elapsed());
        if round == 2 {
            let pid = child.pid();
            rss_after_start = support::proc_status_kb(pid, "VmRSS").unwrap_or(0);
            let client = reqwest::Client::new();
            let mut times = Vec::new();
            for id in &sample {
                let t = Instant::now();
                let res = client
                    .get(format!("{}/v1/connections/scale/accounts/{id}", child.url))
                    .bearer_auth(&service)
                    .send()
                    .await?;
                if res.status() != 200 {
                    return Err(format!("account read: {}", res.status()).into());
                }
                res.bytes().await?;
                times.push(t.elapsed());
            }
            reads = summary_us(&mut times);
            rss_after_reads = support::proc_status_kb(pid, "VmRSS").unwrap_or(0);
            hwm = support::proc_status_kb(pid, "VmHWM").unwrap_or(0);
        }
        child.stop()?;
    }

    println!("## Vault scale\n");
    println!(
        "{n} connected OAuth accounts (sealed record per account: two 240-character tokens, expiries, status), written with `Vault::put_batched` on {threads} threads then one flush; data dir {:.0} MiB on disk.\n",
        mib(disk)
    );
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!(
        "| insert {n} accounts (seal + put, 2 threads) | {:.1} s ({:.0} accounts/s) |",
        put_time.as_secs_f64(),
        n as f64 / put_time.as_secs_f64()
    );
    println!(
        "| the one flush after them | {:.2} s |",
        (insert_time - put_time).as_secs_f64()
    );
    for (name, (p50, p99, max)) in ["cold (store read, open, decode)", "cached"]
        .iter()
        .zip(&passes)
    {
        println!(
            "| token lookup, {name}, {lookups} random accounts: p50 / p99 / max | {p50:.1} µs / {p99:.1} µs / {max:.0} µs |"
        );
    }
    let start_ms: Vec<String> = starts
        .iter()
        .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
        .collect();
    println!(
        "| `icebroker serve` start-up to `/readyz` 200 (3 starts) | {} ms |",
        start_ms.join(" / ")
    );
    println!(
        "| broker RSS after start-up / after {lookups} account reads / peak | {:.1} / {:.1} / {:.1} MiB |",
        mib(rss_after_start),
        mib(rss_after_reads),
        mib(hwm)
    );
    println!(
        "| `GET …/accounts/{{id}}` over HTTP, one client: p50 / p99 / max | {:.0} µs / {:.0} µs / {:.0} µs |",
        reads.0, reads.1, reads.2
    );
    let cold_p99 = passes.first().map_or(f64::NAN, |p| p.1);
    let worst_start = starts.iter().max().copied().unwrap_or_default();
    println!(
        "\ntarget: token lookup p99 ≤ 1 ms at {n} accounts → {:.3} ms cold ({})",
        cold_p99 / 1e3,
        if cold_p99 <= 1000.0 { "met" } else { "MISSED" }
    );
    println!(
        "target: start-up ≤ 2 s → {:.2} s worst of 3 ({})\n",
        worst_start.as_secs_f64(),
        if worst_start <= Duration::from_secs(2) {
            "met"
        } else {
            "MISSED"
        }
    );
    drop(sim);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Keypair signatures

async fn sign_section() -> Result<(), BoxError> {
    let key = tokio::task::spawn_blocking(KeyMaterial::generate).await??;
    let der = key.pkcs8_der().to_vec();
    let identity = Identity {
        account: "XY12345".to_owned(),
        login_name: "JSMITH".to_owned(),
        fingerprint: key.fingerprint.clone(),
    };
    let load = |identity: Identity, der: Vec<u8>| {
        move || -> Result<(Identity, KeyMaterial), icebroker::keypair::JwtError> {
            let material = KeyMaterial::from_pkcs8_der(zeroize::Zeroizing::new(der))
                .map_err(|e| icebroker::keypair::JwtError::Load(e.to_string()))?;
            Ok((identity, material))
        }
    };

    println!("## Keypair JWT signatures\n");
    println!("| measure | value |");
    println!("| --- | ---: |");
    // Signing rate: the broker's cache re-signs on every call because its clock jumps 55 min.
    for tasks in [1usize, 2] {
        let clock = Arc::new(ManualClock::new(now_secs()));
        let cache = Arc::new(JwtCache::new(clock.clone()));
        let window = Duration::from_secs(3);
        let started = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (cache, clock, identity, der) = (
                Arc::clone(&cache),
                Arc::clone(&clock),
                identity.clone(),
                der.clone(),
            );
            handles.push(tokio::spawn(async move {
                let name = format!("conn-{t}");
                let mut durations = Vec::new();
                while started.elapsed() < window {
                    clock.advance(55 * 60);
                    let t0 = Instant::now();
                    cache
                        .token(&name, load(identity.clone(), der.clone()))
                        .await
                        .map_err(|e| e.to_string())?;
                    durations.push(t0.elapsed());
                }
                Ok::<_, String>(durations)
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await??);
        }
        let secs = started.elapsed().as_secs_f64();
        let signed = cache.signatures();
        let (p50, p99, _) = summary_us(&mut all);
        println!(
            "| RS256 signing rate through the JWT cache, {tasks} connection(s) in parallel | {:.0} signatures/s ({:.2} M/hour); per signature p50 {:.2} ms, p99 {:.2} ms |",
            signed as f64 / secs,
            signed as f64 / secs * 3600.0 / 1e6,
            p50 / 1e3,
            p99 / 1e3,
        );
    }
    // A simulated hour of c=64 on one connection: 64 callers keep asking while the clock runs.
    let clock = Arc::new(ManualClock::new(now_secs()));
    let cache = Arc::new(JwtCache::new(clock.clone()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..64 {
        let (cache, identity, der, done, calls) = (
            Arc::clone(&cache),
            identity.clone(),
            der.clone(),
            Arc::clone(&done),
            Arc::clone(&calls),
        );
        handles.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                cache
                    .token("busy", load(identity.clone(), der.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                calls.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            Ok::<_, String>(())
        }));
    }
    // 3,600 one-second steps.
    for _ in 0..3600 {
        clock.advance(1);
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    done.store(true, Ordering::Relaxed);
    for h in handles {
        h.await??;
    }
    println!(
        "| one simulated hour, 64 concurrent callers on one connection ({} token requests) | {} signatures (one at the start, one re-sign 5 min before the 59-min expiry) |",
        calls.load(Ordering::Relaxed),
        cache.signatures()
    );
    println!(
        "\n(The proxy bench prints the signatures the broker made under its c=1/16/64 load.)\n"
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let sections: Vec<String> = std::env::var("HARNESS_SECTIONS")
        .unwrap_or_else(|_| "storm,big,vault,sign".to_owned())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "# icebroker harness: {} cores, {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        sections.join(", ")
    );
    for section in &sections {
        let outcome = rt.block_on(async {
            match section.as_str() {
                "storm" => storm_section().await,
                "big" => big_result_section().await,
                "vault" => vault_section().await,
                "sign" => sign_section().await,
                other => Err(format!("unknown section {other:?}").into()),
            }
        });
        if let Err(e) = outcome {
            println!("\n**section {section} failed: {e}**\n");
            eprintln!("section {section} failed: {e}");
        }
    }
    rt.shutdown_background();
    Ok(())
}
