//! Helpers of the account-administration tests: SQL through the SQL API as a given user and role
//! (every body still validated against sqlapi.yaml by `TestSim::api`), result rows as strings,
//! RSA keys generated here with the `rsa` crate and keypair JWTs signed with `jsonwebtoken`,
//! independently of snowsim's verification code.

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use sha2::Digest;

use super::helpers::*;

/// An RSA key pair made for one test.
pub struct TestKey {
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// Base64 SPKI DER of the public key (what `RSA_PUBLIC_KEY` takes).
    pub public_b64: String,
    /// `SHA256:` + base64 SHA-256 of the SPKI DER.
    pub fingerprint: String,
}

pub fn rsa_key(bits: usize) -> TestKey {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, bits).expect("rsa keygen");
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let der = rsa::RsaPublicKey::from(&key).to_public_key_der().unwrap();
    let std = base64::engine::general_purpose::STANDARD;
    TestKey {
        private_pem,
        public_b64: std.encode(der.as_bytes()),
        fingerprint: format!(
            "SHA256:{}",
            std.encode(sha2::Sha256::digest(der.as_bytes()))
        ),
    }
}

/// The public key as PEM with armour and 64-column lines, as `openssl rsa -pubout` writes it.
pub fn public_pem(key: &TestKey) -> String {
    let lines: Vec<String> = key
        .public_b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A keypair JWT for `user` of the demo account, valid for a minute.
pub fn jwt_for(key: &TestKey, user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({
        "iss": format!("XY12345.{user}.{}", key.fingerprint),
        "sub": format!("XY12345.{user}"),
        "iat": now,
        "exp": now + 60,
    });
    let signing = EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims, &signing).unwrap()
}

/// Submits `sql` with `token` (its session role is the token's).
pub async fn run(sim: &TestSim, token: &str, sql: &str) -> Resp {
    sim.sql(token, sql).await
}

/// Submits `sql` as ADMIN with role ACCOUNTADMIN and requires success.
pub async fn admin(sim: &TestSim, sql: &str) -> Vec<Vec<Option<String>>> {
    let token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    let r = run(sim, &token, sql).await;
    assert_eq!(r.status, 200, "{sql}: {}", r.text());
    rows(&r)
}

/// The `data` rows of a 200 ResultSet.
pub fn rows(r: &Resp) -> Vec<Vec<Option<String>>> {
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The value column of a `DESC` result for `property` (column 1 of 4).
pub fn desc(rows: &[Vec<Option<String>>], property: &str, column: usize) -> Option<String> {
    rows.iter()
        .find(|r| r[0].as_deref() == Some(property))
        .unwrap_or_else(|| panic!("no {property} in {rows:?}"))[column]
        .clone()
}

/// Asserts a 422 with Snowflake's `code`, `sqlState` and a message containing `text`.
pub fn assert_sql_error(r: &Resp, code: &str, sql_state: &str, text: &str) {
    assert_eq!(r.status, 422, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["sqlState"], sql_state, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

/// Calls the SQL API with a keypair JWT.
pub async fn with_jwt(sim: &TestSim, jwt: &str, sql: &str) -> Resp {
    let body = json!({ "statement": sql });
    sim.api(
        reqwest::Method::POST,
        "/api/v2/statements",
        Some(jwt),
        Some(&body),
        &[("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")],
    )
    .await
}

/// The first cell of a 200 result.
pub fn scalar(r: &Resp) -> Value {
    r.json()["data"][0][0].clone()
}
