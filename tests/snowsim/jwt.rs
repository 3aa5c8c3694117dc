//! Keypair JWTs built here with `jsonwebtoken` and fixture keys, independently of any icebroker
//! signing code, against the SQL API's 390144 rejections.

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::Digest;

use super::helpers::*;

const KEY1: &str = include_str!("../fixtures/snowsim_jwt_key1.pkcs8.txt");
const KEY2: &str = include_str!("../fixtures/snowsim_jwt_key2.pkcs8.txt");
const PUB1: &str = include_str!("../fixtures/snowsim_jwt_key1.spki.txt");
const PUB2: &str = include_str!("../fixtures/snowsim_jwt_key2.spki.txt");

fn fingerprint(spki_b64: &str) -> String {
    let der = base64::engine::general_purpose::STANDARD
        .decode(spki_b64.trim())
        .unwrap();
    let digest = sha2::Sha256::digest(&der);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn jwt(key_pem: &str, account: &str, user: &str, fp: &str, iat: i64, exp: i64) -> String {
    let claims = json!({
        "iss": format!("{account}.{user}.{fp}"),
        "sub": format!("{account}.{user}"),
        "iat": iat,
        "exp": exp,
    });
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

/// JSMITH gets key 1 in RSA_PUBLIC_KEY; BOB gets key 2 in RSA_PUBLIC_KEY_2.
async fn sim_with_keys() -> TestSim {
    let mut cfg = config();
    cfg.accounts[0].users[0].rsa_public_key = Some(PUB1.trim().to_owned());
    cfg.accounts[0].users[1].rsa_public_key_2 = Some(PUB2.trim().to_owned());
    spawn(cfg).await
}

async fn call(sim: &TestSim, token: &str, token_type: Option<&str>) -> Resp {
    let mut extra = vec![];
    if let Some(t) = token_type {
        extra.push(("X-Snowflake-Authorization-Token-Type", t));
    }
    let body = json!({"statement": "SELECT CURRENT_USER()"});
    sim.api(
        reqwest::Method::POST,
        "/api/v2/statements",
        Some(token),
        Some(&body),
        &extra,
    )
    .await
}

#[tokio::test]
async fn an_independently_built_keypair_jwt_is_accepted_from_either_key_slot() {
    let sim = sim_with_keys().await;
    let t = now();
    let token = jwt(KEY1, "XY12345", "JSMITH", &fingerprint(PUB1), t, t + 60);
    let r = call(&sim, &token, Some("KEYPAIR_JWT")).await;
    assert_ne!(r.status, 401, "{}", r.text());
    // Token type inferred when the header is absent.
    assert_ne!(call(&sim, &token, None).await.status, 401);
    // The org-account form of the account is accepted too.
    let token = jwt(
        KEY1,
        "MYORG-MYACCOUNT",
        "JSMITH",
        &fingerprint(PUB1),
        t,
        t + 3600,
    );
    assert_ne!(call(&sim, &token, Some("KEYPAIR_JWT")).await.status, 401);
    let token = jwt(KEY2, "XY12345", "BOB", &fingerprint(PUB2), t, t + 60);
    assert_ne!(
        call(&sim, &token, Some("KEYPAIR_JWT")).await.status,
        401,
        "RSA_PUBLIC_KEY_2"
    );
}

#[tokio::test]
async fn bad_keypair_jwts_are_each_rejected_with_390144_and_a_reason() {
    let sim = sim_with_keys().await;
    let t = now();
    let fp1 = fingerprint(PUB1);
    let cases = [
        (
            "fingerprint",
            jwt(KEY1, "XY12345", "JSMITH", &fingerprint(PUB2), t, t + 60),
        ),
        (
            "account_region",
            jwt(KEY1, "XY12345.US-EAST-2", "JSMITH", &fp1, t, t + 60),
        ),
        (
            "expired",
            jwt(KEY1, "XY12345", "JSMITH", &fp1, t - 4000, t - 3000),
        ),
        (
            "lifetime",
            jwt(KEY1, "XY12345", "JSMITH", &fp1, t, t + 3601),
        ),
        ("signature", jwt(KEY2, "XY12345", "JSMITH", &fp1, t, t + 60)),
        ("case", jwt(KEY1, "xy12345", "JSMITH", &fp1, t, t + 60)),
        ("user", jwt(KEY1, "XY12345", "NOBODY", &fp1, t, t + 60)),
    ];
    sim.sim.reset_counters();
    for (kind, token) in &cases {
        for token_type in [Some("KEYPAIR_JWT"), None] {
            let r = call(&sim, token, token_type).await;
            assert_eq!(r.status, 401, "{kind}: {}", r.text());
            let body = r.json();
            assert_eq!(body["code"], "390144", "{kind}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("JWT token is invalid. "),
                "{body}"
            );
        }
    }
    let counters = sim.sim.counters();
    for (kind, _) in &cases {
        assert_eq!(
            counters.jwt_rejections.get(*kind).copied(),
            Some(2),
            "{kind}: {counters:?}"
        );
    }
    // A JWT sent as an OAuth token is an invalid OAuth token.
    let good = jwt(KEY1, "XY12345", "JSMITH", &fp1, t, t + 60);
    let r = call(&sim, &good, Some("OAUTH")).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (401, Some("390303")));
}
