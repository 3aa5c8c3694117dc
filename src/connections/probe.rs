//! Connection tests: run `SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_ACCOUNT(),
//! CURRENT_WAREHOUSE()` through a connection and turn Snowflake's answer into a [`TestReport`]
//! with a hint a person can act on.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::model::{Connection, TestReport};
use crate::keypair::SignedJwt;
use crate::snowflake::{
    Credential, SnowflakeError, SqlApiClient, StatementRequest, SubmitOptions, Upstream,
};

const PROBE_SQL: &str =
    "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_ACCOUNT(), CURRENT_WAREHOUSE()";
const PROBE_WAIT: Duration = Duration::from_secs(30);

/// Runs the probe with `jwt` and reports what Snowflake said.
pub async fn run(
    client: &SqlApiClient,
    connection: &Connection,
    jwt: &SignedJwt,
    now: u64,
) -> TestReport {
    let credential =
        Credential::KeypairJwt(SecretString::from(jwt.token.expose_secret().to_owned()));
    let upstream = match Upstream::parse(&connection.base_url) {
        Ok(upstream) => upstream,
        Err(e) => return failure(now, None, format!("invalid base URL: {e}"), None),
    };
    let mut request = StatementRequest::new(PROBE_SQL);
    request.role = connection.defaults.role.clone();
    request.warehouse = connection.defaults.warehouse.clone();
    request.database = connection.defaults.database.clone();
    request.schema = connection.defaults.schema.clone();
    let deadline = tokio::time::Instant::now() + PROBE_WAIT;
    let result = client
        .with_upstream(upstream)
        .execute(&credential, &request, &SubmitOptions::default(), deadline)
        .await;
    match result {
        Ok(rows) => {
            let row = rows.data.first().cloned().unwrap_or_default();
            let cell = |i: usize| row.get(i).cloned().flatten();
            TestReport {
                ok: true,
                at: now,
                user: cell(0),
                role: cell(1),
                account: cell(2),
                warehouse: cell(3),
                error_code: None,
                error_message: None,
                hint: None,
            }
        }
        Err(err) => {
            let hint = hint_for(&err, connection);
            failure(now, err.code().map(str::to_owned), err.to_string(), hint)
        }
    }
}

fn failure(now: u64, code: Option<String>, message: String, hint: Option<String>) -> TestReport {
    TestReport {
        ok: false,
        at: now,
        user: None,
        role: None,
        account: None,
        warehouse: None,
        error_code: code,
        error_message: Some(message),
        hint,
    }
}

/// A human hint for the failures admins actually hit.
pub fn hint_for(err: &SnowflakeError, connection: &Connection) -> Option<String> {
    let message = err.to_string().to_ascii_lowercase();
    let user = connection
        .keypair
        .as_ref()
        .map(|k| k.user.to_uppercase())
        .unwrap_or_default();
    let hint = if message.contains("authentication policy") {
        "the user's authentication policy does not allow KEYPAIR_JWT; add it to \
         AUTHENTICATION_METHODS (see the authentication-policy SQL template)"
            .to_owned()
    } else if message.contains("fingerprint") || message.contains("public key") {
        format!(
            "the public key is not enrolled on user {user} or its fingerprint differs: run the \
             enrollment's alter_user_sql and compare DESC USER's RSA_PUBLIC_KEY_FP with the \
             connection's fingerprint"
        )
    } else if message.contains("account") && message.contains("region") {
        "the account in the JWT must not carry a region; use the account locator or org-account \
         name (icebroker normalises it: check the connection's account_claim)"
            .to_owned()
    } else if message.contains("user")
        && (message.contains("not exist") || message.contains("not found"))
    {
        format!(
            "Snowflake does not know LOGIN_NAME {user}: the connection's user must be the LOGIN_NAME \
             (DESC USER shows NAME and LOGIN_NAME, which can differ)"
        )
    } else if message.contains("warehouse")
        && (message.contains("suspend") || message.contains("no active warehouse"))
    {
        "the warehouse is suspended and AUTO_RESUME is off: run ALTER WAREHOUSE … RESUME or \
         ALTER WAREHOUSE … SET AUTO_RESUME = TRUE, or pick another default warehouse"
            .to_owned()
    } else if err.is_auth() {
        format!(
            "Snowflake rejected the JWT: check that user {user}'s RSA_PUBLIC_KEY matches the \
             connection's public key and that the account is right"
        )
    } else if matches!(
        err,
        SnowflakeError::Transport(_) | SnowflakeError::Unavailable { .. } | SnowflakeError::Timeout
    ) {
        format!("Snowflake at {} could not be reached", connection.base_url)
    } else {
        return None;
    };
    Some(hint)
}
