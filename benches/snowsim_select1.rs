//! Keep-alive load on snowsim's SQL API: `SELECT 1` through `POST /api/v2/statements` at
//! concurrency 1, 16 and 64, printing statements/s and p50/p99 latency.
//!
//! Run: `cargo bench --bench snowsim_select1` (env `SNOWSIM_BENCH_SECS`, default 3 s per level;
//! `SNOWSIM_BENCH_WORKERS`, default 2 server workers). The client runs in the same process on
//! the same cores, so the figure is a floor for what the server alone can do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use icebroker::snowsim::{SimConfig, SnowSim};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn level(client: &reqwest::Client, url: &str, token: &str, concurrency: usize, secs: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, stop) = (
            client.clone(),
            url.to_owned(),
            token.to_owned(),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = match client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
                    .header("User-Agent", "snowsim-bench/1.0")
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .body(r#"{"statement":"SELECT 1"}"#)
                    .send()
                    .await
                {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "concurrency {concurrency:>3}: {:>8.0} statements/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} ok, {errors} errors, {elapsed:.1} s)",
        all.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.len(),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut config = SimConfig::demo();
        config.tpch_scale = 0.001;
        config.workers = env_num("SNOWSIM_BENCH_WORKERS", 2) as usize;
        let sim = SnowSim::start(config, "127.0.0.1:0".parse()?).await?;
        let token = sim.mint_access_token("JSMITH", None)?;
        let url = format!("{}/api/v2/statements", sim.base_url());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()?;
        let secs = env_num("SNOWSIM_BENCH_SECS", 3);
        println!(
            "snowsim SELECT 1, keep-alive, {} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for c in [1, 16, 64] {
            level(&client, &url, &token, c, secs).await;
        }
        sim.stop().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
