//! `icebroker demo`: snowsim (the local Snowflake double) and the broker in one process, with a
//! keypair connection `demo` created, enrolled in snowsim exactly as an admin would (by running
//! the printed `ALTER USER … SET RSA_PUBLIC_KEY` there), tested, and a ready-to-paste `curl`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::api_keys::{ApiKeyRecord, Scope};
use crate::config::Settings;
use crate::connections::{probe, ConnectionService, Defaults, NewKeypair};
use crate::oauth::{LinkRequest, NewOAuth};
use crate::snowflake::{
    Credential, ResultSet, SqlApiClient, StatementRequest, SubmitOptions, Upstream,
};
use crate::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use crate::startup::Application;
use crate::state::AppState;

/// Name of the demo keypair connection.
pub const CONNECTION: &str = "demo";
/// Name of the demo OAuth connection.
pub const OAUTH_CONNECTION: &str = "demo-oauth";
const OAUTH_INTEGRATION: &str = "ICEBROKER_DEMO_OAUTH";
const CURL_KEY_NAME: &str = "demo curl key";

/// Runs the demo until SIGINT/SIGTERM.
pub async fn run(mut settings: Settings, sim_port: u16) -> anyhow::Result<()> {
    let sim = SnowSim::start(
        SimConfig::demo(),
        SocketAddr::from(([127, 0, 0, 1], sim_port)),
    )
    .await
    .context("starting snowsim")?;
    settings.upstream.allow_loopback = true;
    let mut app = Application::build(settings.clone()).await?;
    let admin_key = app.take_bootstrap_key();
    let state = app.state().clone();
    ensure_connection(&state, &sim).await?;
    let (curl_key, curl_record) = fresh_curl_key(&state).await?;
    let base = match &settings.server.public_url {
        Some(_) => settings.public_url(),
        None => format!("http://127.0.0.1:{}", app.port()),
    };
    let link = ensure_oauth_connection(&state, &sim, &base, &curl_record).await?;
    let admin = admin_key.as_ref().map(|k| k.expose());
    eprintln!("{}", banner(&base, &sim, admin, &curl_key, &link));
    let result = app.run_until_stopped().await;
    sim.stop().await;
    Ok(result?)
}

/// Creates (or re-creates, if it points elsewhere) the `demo` connection, enrols its key in
/// snowsim and tests it.
async fn ensure_connection(state: &AppState, sim: &RunningSnowSim) -> anyhow::Result<()> {
    let connections: &ConnectionService = &state.connections;
    if let Ok(existing) = connections.get(CONNECTION) {
        if existing.base_url != sim.base_url() {
            connections.delete(CONNECTION).await?;
        }
    }
    let connection = match connections.get(CONNECTION) {
        Ok(c) => c,
        Err(_) => {
            connections
                .create_keypair(NewKeypair {
                    name: CONNECTION.to_owned(),
                    account: "xy12345.us-east-2.aws".to_owned(),
                    host: Some(sim.base_url()),
                    user: "jsmith".to_owned(),
                    defaults: demo_defaults(),
                    ..NewKeypair::default()
                })
                .await?
        }
    };
    let keypair = connection
        .keypair
        .as_ref()
        .context("demo is a keypair connection")?;
    let (alter_user_sql, _) = ConnectionService::enrollment_sql(&connection, &keypair.active);
    // snowsim forgets enrolments when it stops: enrol again on every start, as the admin.
    run_as_snowflake_admin(state, sim, &alter_user_sql).await?;
    let jwt = connections.jwt(&connection).await?;
    let report = probe::run(&state.sql_api, &connection, &jwt, state.clock.now()).await;
    let ok = report.ok;
    let hint = report.hint.clone().or(report.error_message.clone());
    connections.record_test(CONNECTION, report).await?;
    if !ok {
        bail!(
            "the demo connection failed its test: {}",
            hint.unwrap_or_default()
        );
    }
    Ok(())
}

async fn run_as_snowflake_admin(
    state: &AppState,
    sim: &RunningSnowSim,
    sql: &str,
) -> anyhow::Result<ResultSet> {
    let token = sim
        .control()
        .mint_access_token("ADMIN", Some("ACCOUNTADMIN"))
        .map_err(anyhow::Error::msg)?;
    let client: SqlApiClient = state
        .sql_api
        .with_upstream(Upstream::parse(&sim.base_url())?);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    client
        .execute(
            &Credential::OAuth(SecretString::from(token)),
            &StatementRequest::new(sql),
            &SubmitOptions::default(),
            deadline,
        )
        .await
        .with_context(|| format!("running admin SQL in snowsim: {}", first_words(sql)))
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// A service key limited to the demo connections, replacing the one from the previous run.
async fn fresh_curl_key(state: &AppState) -> anyhow::Result<(String, ApiKeyRecord)> {
    let old_keys = state.api_keys.list();
    for old in old_keys.iter().filter(|k| k.name == CURL_KEY_NAME) {
        state.api_keys.revoke(&old.id).await?;
    }
    let connections = vec![CONNECTION.to_owned(), OAUTH_CONNECTION.to_owned()];
    let (record, key) = state
        .api_keys
        .create(CURL_KEY_NAME, Scope::Service, connections)
        .await?;
    Ok((key.expose().to_owned(), record))
}

/// Registers a fresh OAuth security integration in snowsim (as its admin would, by SQL), reads
/// its client credentials with `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS`, (re)creates `demo-oauth` with
/// them and returns an authorization link for identifier `demo-user`.
async fn ensure_oauth_connection(
    state: &AppState,
    sim: &RunningSnowSim,
    base: &str,
    caller: &ApiKeyRecord,
) -> anyhow::Result<String> {
    if state.connections.get(OAUTH_CONNECTION).is_ok() {
        // snowsim issues new client credentials on every start; old accounts cannot refresh.
        state.oauth.forget_connection(OAUTH_CONNECTION).await?;
        state.connections.delete(OAUTH_CONNECTION).await?;
    }
    let redirect_uri = format!("{base}/oauth/callback/{OAUTH_CONNECTION}");
    let create = format!(
        "CREATE OR REPLACE SECURITY INTEGRATION {OAUTH_INTEGRATION} TYPE = OAUTH \
         OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' \
         OAUTH_REDIRECT_URI = '{redirect_uri}' OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE \
         OAUTH_ISSUE_REFRESH_TOKENS = TRUE OAUTH_ENFORCE_PKCE = TRUE"
    );
    run_as_snowflake_admin(state, sim, &create).await?;
    let show = format!("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{OAUTH_INTEGRATION}')");
    let secrets = run_as_snowflake_admin(state, sim, &show).await?;
    let json = secrets
        .data
        .first()
        .and_then(|row| row.first().cloned().flatten())
        .context("SYSTEM$SHOW_OAUTH_CLIENT_SECRETS returned no row")?;
    let parsed: serde_json::Value = serde_json::from_str(&json)?;
    let field = |name: &str| {
        parsed[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{name} missing from the integration's secrets"))
    };
    let connection = state
        .oauth
        .create_connection(NewOAuth {
            name: OAUTH_CONNECTION.to_owned(),
            account: "xy12345.us-east-2.aws".to_owned(),
            host: Some(sim.base_url()),
            defaults: demo_defaults(),
            client_id: field("OAUTH_CLIENT_ID")?,
            client_secret: Zeroizing::new(field("OAUTH_CLIENT_SECRET")?),
            scopes: None,
            allowed_return_urls: Vec::new(),
            authorize_url: None,
            token_url: None,
            ca_file: None,
            single_use_refresh_tokens: true,
            integration: Some(OAUTH_INTEGRATION.to_owned()),
            refresh_token_validity_secs: None,
        })
        .await?;
    let derived = connection.oauth.as_ref().map(|o| o.redirect_uri.as_str());
    if derived != Some(redirect_uri.as_str()) {
        bail!("demo-oauth derived redirect URI {derived:?}, but {redirect_uri} was registered");
    }
    let request = LinkRequest {
        identifier: "demo-user".to_owned(),
        return_url: None,
        expires_in: Some(1800),
    };
    let link = state
        .oauth
        .issue_link(caller, OAUTH_CONNECTION, request)
        .await?;
    Ok(link.link)
}

/// Session defaults of both demo connections.
fn demo_defaults() -> Defaults {
    Defaults {
        role: Some("ANALYST".to_owned()),
        warehouse: Some("COMPUTE_WH".to_owned()),
        database: Some("SNOWFLAKE_SAMPLE_DATA".to_owned()),
        schema: Some("TPCH_SF1".to_owned()),
    }
}

fn banner(
    base: &str,
    sim: &RunningSnowSim,
    admin_key: Option<&str>,
    curl_key: &str,
    link: &str,
) -> String {
    let admin = match admin_key {
        Some(key) => format!("Admin API key (shown once, store it):\n    {key}\n"),
        None => "Admin API key: printed on the first start (only its hash is kept).\n".to_owned(),
    };
    let statement = "SELECT c.C_CUSTKEY, c.C_NAME, SUM(o.O_TOTALPRICE) AS TOTAL_SPENT \
        FROM CUSTOMER c JOIN ORDERS o ON o.O_CUSTKEY = c.C_CUSTKEY \
        WHERE o.O_ORDERDATE BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY TOTAL_SPENT DESC LIMIT 10";
    format!(
        "\n==================================================================\n\
         icebroker demo is running\n\
         - broker:  {base}\n\
         - snowsim: {sim_url} (local Snowflake double, TPC-H sample data)\n\
         - connection `demo` (keypair, user JSMITH) is enrolled and connected\n\n\
         {admin}\n\
         Top 10 customers of 1995 through the broker:\n\n\
         curl -s {base}/v1/connections/demo/api/v2/statements \\\n  \
           -H 'Authorization: Bearer {curl_key}' \\\n  \
           -H 'Content-Type: application/json' \\\n  \
           -d '{{\"statement\": \"{statement}\", \"bindings\": {{\"1\": {{\"type\": \"TEXT\", \"value\": \"1995-01-01\"}}, \"2\": {{\"type\": \"TEXT\", \"value\": \"1995-12-31\"}}}}}}'\n\n\
         OAuth: open this link in a browser to connect end user `demo-user` of connection\n\
         `demo-oauth` (log in to snowsim as jsmith / jsmith-pass, then Allow):\n\
             {link}\n\
         then query as that user at {base}/v1/connections/demo-oauth/accounts/demo-user/api/v2/statements\n\
         ==================================================================\n",
        sim_url = sim.base_url(),
    )
}
