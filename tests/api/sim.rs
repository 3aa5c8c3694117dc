//! A broker wired to a snowsim (the Snowflake double) on loopback, plus helpers that act as the
//! Snowflake admin: run the SQL the broker prints, exactly as a person would paste it.

use icebroker::snowsim::{RunningSnowSim, SimConfig, SnowSim};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// A broker and the snowsim it talks to.
pub struct SimEnv {
    pub app: TestApp,
    pub sim: RunningSnowSim,
}

/// Starts snowsim with its demo account and a broker allowed to reach it over loopback http,
/// with fast retries so fault tests stay quick.
pub async fn spawn_with_snowsim() -> SimEnv {
    spawn_with_config(SimConfig::demo()).await
}

/// Like [`spawn_with_snowsim`] with a custom snowsim configuration.
pub async fn spawn_with_config(config: SimConfig) -> SimEnv {
    let sim = SnowSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("snowsim starts");
    let app = spawn_app_with(|s| {
        s.upstream.allow_loopback = true;
        s.proxy.retry_base_ms = 5;
        s.proxy.retry_cap_ms = 50;
    })
    .await;
    SimEnv { app, sim }
}

impl SimEnv {
    /// Runs `sql` in snowsim as user ADMIN with role ACCOUNTADMIN; returns the result body.
    pub async fn admin_sql(&self, sql: &str) -> Value {
        run_admin_sql(&self.sim, sql).await
    }

    /// Creates a keypair connection `name` for JSMITH on the demo account; returns the body.
    pub async fn create_keypair(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({
            "name": name,
            "kind": "keypair",
            "account": "xy12345.us-east-2.aws",
            "host": self.sim.base_url(),
            "user": "jsmith",
            "role": "ANALYST",
            "warehouse": "COMPUTE_WH",
            "database": "SNOWFLAKE_SAMPLE_DATA",
            "schema": "TPCH_SF1",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = self
            .app
            .client
            .post(format!("{}/v1/connections", self.app.address))
            .bearer_auth(&self.app.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// POST to a broker path with the admin key; returns (status, body).
    pub async fn admin_post(&self, path: &str) -> (u16, Value) {
        let res = self
            .app
            .client
            .post(format!("{}{}", self.app.address, path))
            .bearer_auth(&self.app.admin_key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }

    /// Creates, enrols and tests a keypair connection; returns the connected connection body.
    pub async fn connected_keypair(&self, name: &str) -> Value {
        let created = self.create_keypair(name, json!({})).await;
        self.admin_sql(created["enrollment"]["alter_user_sql"].as_str().unwrap())
            .await;
        let (status, tested) = self
            .admin_post(&format!("/v1/connections/{name}/test"))
            .await;
        assert_eq!(status, 200, "{tested}");
        assert_eq!(tested["connection"]["status"], "connected", "{tested}");
        tested
    }

    /// Submits a statement through the broker's proxy with `key`.
    pub async fn proxy_submit(
        &self,
        connection: &str,
        key: &str,
        statement: &str,
    ) -> reqwest::Response {
        self.app
            .client
            .post(format!(
                "{}/v1/connections/{connection}/api/v2/statements",
                self.app.address
            ))
            .bearer_auth(key)
            .json(&json!({ "statement": statement }))
            .send()
            .await
            .unwrap()
    }
}

/// Runs `sql` in `sim` as user ADMIN with role ACCOUNTADMIN (as a Snowflake admin pastes it);
/// asserts success and returns the result body.
pub async fn run_admin_sql(sim: &RunningSnowSim, sql: &str) -> Value {
    let token = sim
        .control()
        .mint_access_token("ADMIN", Some("ACCOUNTADMIN"))
        .unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/api/v2/statements", sim.base_url()))
        .bearer_auth(token)
        .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
        .header("User-Agent", "icebroker-tests/1.0")
        .header("Accept", "application/json")
        .json(&json!({ "statement": sql }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "admin SQL {sql:?} failed: {body}");
    body
}
