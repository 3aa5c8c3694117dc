//! `icebroker demo`: snowsim (the local Snowflake double) and the broker in one process, with a
//! keypair connection `demo` created, enrolled in snowsim exactly as an admin would (by running
//! the printed `ALTER USER … SET RSA_PUBLIC_KEY` there), tested, and a ready-to-paste `curl`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::SecretString;

use crate::api_keys::Scope;
use crate::config::Settings;
use crate::connections::{probe, ConnectionService, Defaults, NewKeypair};
use crate::snowflake::{Credential, SqlApiClient, StatementRequest, SubmitOptions, Upstream};
use crate::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use crate::startup::Application;
use crate::state::AppState;

/// Name of the demo connection.
pub const CONNECTION: &str = "demo";
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
    let curl_key = fresh_curl_key(&state).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    eprintln!(
        "{}",
        banner(
            &base,
            &sim,
            admin_key.as_ref().map(|k| k.expose()),
            &curl_key
        )
    );
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
                    defaults: Defaults {
                        role: Some("ANALYST".to_owned()),
                        warehouse: Some("COMPUTE_WH".to_owned()),
                        database: Some("SNOWFLAKE_SAMPLE_DATA".to_owned()),
                        schema: Some("TPCH_SF1".to_owned()),
                    },
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
) -> anyhow::Result<()> {
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
        .context("enrolling the demo key in snowsim")?;
    Ok(())
}

/// A service key limited to `demo`, replacing the one from the previous run.
async fn fresh_curl_key(state: &AppState) -> anyhow::Result<String> {
    for old in state
        .api_keys
        .list()
        .into_iter()
        .filter(|k| k.name == CURL_KEY_NAME)
    {
        state.api_keys.revoke(&old.id).await?;
    }
    let (_, key) = state
        .api_keys
        .create(CURL_KEY_NAME, Scope::Service, vec![CONNECTION.to_owned()])
        .await?;
    Ok(key.expose().to_owned())
}

fn banner(base: &str, sim: &RunningSnowSim, admin_key: Option<&str>, curl_key: &str) -> String {
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
           -d '{{\"statement\": \"{statement}\", \"bindings\": {{\"1\": {{\"type\": \"TEXT\", \"value\": \"1995-01-01\"}}, \"2\": {{\"type\": \"TEXT\", \"value\": \"1995-12-31\"}}}}}}'\n\
         ==================================================================\n",
        sim_url = sim.base_url(),
    )
}
