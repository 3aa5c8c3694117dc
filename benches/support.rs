//! Helpers shared by the benches (`#[path]`-included): the OAuth connection made through the real
//! browser flow against snowsim, percentiles, and process memory from `/proc`.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};

/// Boxed error of the benches.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the OAuth flow returns the browser to (must be in the connection's allow-list).
pub const RETURN_URL: &str = "https://app.example.com/oauth/done";

/// snowsim's demo integration credentials (the OAuth connection's client id and secret).
pub use icebroker::snowsim::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};

/// An integration for connection `conn` of the broker at `broker` (snowsim must know the
/// broker's redirect URI before the flow runs, as a Snowflake admin would have set it up).
pub fn integration(broker: &str, conn: &str) -> icebroker::snowsim::model::OAuthIntegrationModel {
    let mut i = icebroker::snowsim::model::OAuthIntegrationModel::new(
        &format!("ICEBROKER_{}", conn.to_ascii_uppercase()),
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        &format!("{broker}/oauth/callback/{conn}"),
    );
    i.enforce_pkce = true;
    i
}

async fn ok_json(res: reqwest::Response, want: u16, what: &str) -> Result<Value, BoxError> {
    let status = res.status().as_u16();
    let text = res.text().await?;
    if status != want {
        return Err(format!("{what}: expected {want}, got {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// `POST /v1/connections` for an OAuth connection `name` on snowsim at `sim_base`.
pub async fn create_oauth_connection(
    http: &reqwest::Client,
    broker: &str,
    admin_key: &str,
    name: &str,
    sim_base: &str,
) -> Result<(), BoxError> {
    let res = http
        .post(format!("{broker}/v1/connections"))
        .bearer_auth(admin_key)
        .json(&json!({
            "name": name, "kind": "oauth", "account": "xy12345.us-east-2.aws",
            "host": sim_base, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "scopes": ["session:role:ANALYST"], "allowed_return_urls": [RETURN_URL],
            "warehouse": "COMPUTE_WH",
        }))
        .send()
        .await?;
    ok_json(res, 201, "creating the OAuth connection").await?;
    Ok(())
}

/// A service API key limited to `connections`.
pub async fn service_key(
    http: &reqwest::Client,
    broker: &str,
    admin_key: &str,
    connections: &[&str],
) -> Result<String, BoxError> {
    let res = http
        .post(format!("{broker}/v1/api-keys"))
        .bearer_auth(admin_key)
        .json(&json!({"name": "bench", "scope": "service", "connections": connections}))
        .send()
        .await?;
    let body = ok_json(res, 201, "creating the API key").await?;
    body["key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no key in {body}").into())
}

fn header(res: &reqwest::Response, name: &str) -> Result<String, BoxError> {
    Ok(res
        .headers()
        .get(name)
        .ok_or_else(|| format!("no {name} header"))?
        .to_str()?
        .to_owned())
}

fn form_token(html: &str) -> Result<String, BoxError> {
    let marker = "name=\"form_token\" value=\"";
    let start = html.find(marker).ok_or("no form_token on the page")? + marker.len();
    let end = html[start..].find('"').ok_or("unterminated form_token")? + start;
    Ok(html[start..end].to_owned())
}

/// Connects `identifier` on OAuth connection `conn` the way an end user does: the app asks for
/// an authorization link, the browser follows it to snowsim, logs in as JSMITH, allows, and is
/// sent back to the broker's callback, which exchanges the code and stores the tokens.
pub async fn connect_account(
    broker: &str,
    sim_base: &str,
    service_key: &str,
    conn: &str,
    identifier: &str,
) -> Result<(), BoxError> {
    let http = reqwest::Client::new();
    let res = http
        .post(format!(
            "{broker}/v1/connections/{conn}/authorization-links"
        ))
        .bearer_auth(service_key)
        .json(&json!({ "identifier": identifier, "return_url": RETURN_URL }))
        .send()
        .await?;
    let link = ok_json(res, 201, "requesting a link").await?["link"]
        .as_str()
        .ok_or("no link")?
        .to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    let res = browser.get(&link).send().await?;
    let authorize = header(&res, "location")?;
    let page = browser.get(&authorize).send().await?.text().await?;
    let form = |fields: Vec<(&'static str, String)>| {
        browser
            .post(format!("{sim_base}/oauth/authorize"))
            .form(&fields)
            .send()
    };
    let consent = form(vec![
        ("form_token", form_token(&page)?),
        ("username", "jsmith".into()),
        ("password", "jsmith-pass".into()),
        ("action", "login".into()),
    ])
    .await?
    .text()
    .await?;
    let done = form(vec![
        ("form_token", form_token(&consent)?),
        ("action", "allow".into()),
    ])
    .await?;
    let callback = header(&done, "location")?;
    let landed = browser.get(&callback).send().await?;
    if landed.status() != 303 {
        return Err(format!(
            "the callback answered {}: {}",
            landed.status(),
            landed.text().await?
        )
        .into());
    }
    Ok(())
}

/// The `p`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[rank]
}

/// Sorts and returns (p50, p99, max) of durations, in microseconds.
pub fn summary_us(durations: &mut [Duration]) -> (f64, f64, f64) {
    durations.sort_unstable();
    let us: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    (
        quantile(&us, 0.50),
        quantile(&us, 0.99),
        us.last().copied().unwrap_or(f64::NAN),
    )
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Resets the peak RSS (`VmHWM`) of `pid` to its current RSS.
pub fn reset_peak_rss(pid: u32) -> std::io::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
}

/// Mebibytes, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A free loopback port (bound, then released for a child process to take).
pub fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `url` until it answers 200 or `limit` passes; returns the time it took.
pub async fn wait_ready(url: &str, limit: Duration) -> Result<Duration, BoxError> {
    let started = std::time::Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()?;
    loop {
        if let Ok(res) = http.get(url).send().await {
            if res.status() == 200 {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > limit {
            return Err(format!("{url} not ready after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
