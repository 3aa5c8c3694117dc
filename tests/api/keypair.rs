//! Keypair connections end to end against snowsim: create → enrol the printed key → test →
//! connected → statements run; imported openssl keys; rotation without failed requests.

use std::process::Command;

use serde_json::json;

use crate::helpers::assert_error;
use crate::sim::spawn_with_snowsim;

const TOP_CUSTOMERS: &str = "SELECT c.C_CUSTKEY, c.C_NAME, SUM(o.O_TOTALPRICE) AS TOTAL_SPENT \
    FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER c JOIN SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS o \
    ON o.O_CUSTKEY = c.C_CUSTKEY GROUP BY 1, 2 ORDER BY TOTAL_SPENT DESC LIMIT 10";

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = input {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The fingerprint exactly as Snowflake's docs compute it with openssl.
fn openssl_fingerprint(private_pem: &[u8], passphrase: Option<&str>) -> String {
    let pass = passphrase.map(|p| format!("pass:{p}"));
    let mut args = vec!["pkey", "-pubout", "-outform", "DER"];
    if let Some(pass) = &pass {
        args.extend(["-passin", pass.as_str()]);
    }
    let der = openssl(&args, Some(private_pem));
    let digest = openssl(&["dgst", "-sha256", "-binary"], Some(&der));
    let b64 = openssl(&["enc", "-base64"], Some(&digest));
    format!("SHA256:{}", String::from_utf8(b64).unwrap().trim())
}

#[tokio::test]
async fn a_generated_key_goes_from_pending_to_connected_and_runs_statements() {
    let env = spawn_with_snowsim().await;
    let created = env.create_keypair("tenant-a", json!({})).await;
    assert_eq!(created["connection"]["status"], "pending_enrollment");
    assert_eq!(created["connection"]["account_claim"], "XY12345");
    let enrollment = &created["enrollment"];
    let alter = enrollment["alter_user_sql"].as_str().unwrap();
    assert!(
        alter.starts_with("ALTER USER \"JSMITH\" SET RSA_PUBLIC_KEY='MII"),
        "{alter}"
    );
    assert!(enrollment["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    assert!(!created.to_string().contains("PRIVATE KEY"));

    let (_, before) = env.admin_post("/v1/connections/tenant-a/test").await;
    assert_eq!(before["connection"]["status"], "error", "{before}");
    assert!(before["connection"]["last_test"]["hint"]
        .as_str()
        .unwrap()
        .contains("enrolled"));

    env.admin_sql(alter).await;
    let desc = env
        .admin_sql(enrollment["desc_user_sql"].as_str().unwrap())
        .await;
    assert!(desc
        .to_string()
        .contains(enrollment["fingerprint"].as_str().unwrap()));
    let (status, tested) = env.admin_post("/v1/connections/tenant-a/test").await;
    assert_eq!(status, 200);
    assert_eq!(tested["connection"]["status"], "connected", "{tested}");
    assert_eq!(tested["connection"]["last_test"]["user"], "JSMITH");
    assert_eq!(tested["connection"]["last_test"]["warehouse"], "COMPUTE_WH");

    let res = env
        .proxy_submit("tenant-a", &env.app.admin_key, TOP_CUSTOMERS)
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    assert_eq!(body["resultSetMetaData"]["rowType"][2]["type"], "fixed");
}

#[tokio::test]
async fn an_encrypted_pkcs8_key_from_the_openssl_cli_is_imported_with_its_fingerprint() {
    if !openssl_available() {
        eprintln!("SKIPPED: the openssl CLI is not installed");
        return;
    }
    let env = spawn_with_snowsim().await;
    let rsa = openssl(&["genrsa", "2048"], None);
    let encrypted = openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "des3",
            "-inform",
            "PEM",
            "-passout",
            "pass:s3cret",
        ],
        Some(&rsa),
    );
    let pem = String::from_utf8(encrypted.clone()).unwrap();
    assert!(pem.contains("ENCRYPTED PRIVATE KEY"));
    let created = env
        .create_keypair(
            "imported",
            json!({"private_key_pem": pem, "private_key_passphrase": "s3cret"}),
        )
        .await;
    assert_eq!(
        created["enrollment"]["fingerprint"],
        openssl_fingerprint(&encrypted, Some("s3cret"))
    );
    env.admin_sql(created["enrollment"]["alter_user_sql"].as_str().unwrap())
        .await;
    let (_, tested) = env.admin_post("/v1/connections/imported/test").await;
    assert_eq!(tested["connection"]["status"], "connected", "{tested}");
}

#[tokio::test]
async fn fingerprints_equal_openssls_for_three_keys() {
    if !openssl_available() {
        eprintln!("SKIPPED: the openssl CLI is not installed");
        return;
    }
    for (i, form) in ["pkcs8", "pkcs1", "pkcs8"].iter().enumerate() {
        let rsa = openssl(&["genrsa", "2048"], None);
        let pem = if *form == "pkcs8" {
            openssl(
                &["pkcs8", "-topk8", "-nocrypt", "-inform", "PEM"],
                Some(&rsa),
            )
        } else {
            openssl(&["rsa", "-traditional"], Some(&rsa))
        };
        let key =
            icebroker::keypair::KeyMaterial::from_pem(std::str::from_utf8(&pem).unwrap(), None)
                .unwrap_or_else(|e| panic!("key {i} ({form}): {e}"));
        assert_eq!(
            key.fingerprint,
            openssl_fingerprint(&pem, None),
            "key {i} ({form})"
        );
    }
}

#[tokio::test]
async fn bad_keys_are_refused_each_with_its_own_code() {
    let env = spawn_with_snowsim().await;
    let mut cases = vec![
        (json!({"private_key_pem": "hello"}), "invalid_private_key"),
        (
            json!({"private_key_pem": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"}),
            "public_key_given",
        ),
    ];
    if openssl_available() {
        let small = openssl(&["genrsa", "1024"], None);
        let small = openssl(&["pkcs8", "-topk8", "-nocrypt"], Some(&small));
        cases.push((
            json!({"private_key_pem": String::from_utf8(small).unwrap()}),
            "private_key_too_small",
        ));
        let rsa = openssl(&["genrsa", "2048"], None);
        let enc = String::from_utf8(openssl(
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-passout",
                "pass:right",
            ],
            Some(&rsa),
        ))
        .unwrap();
        cases.push((
            json!({"private_key_pem": enc.clone()}),
            "private_key_passphrase_required",
        ));
        cases.push((
            json!({"private_key_pem": enc, "private_key_passphrase": "wrong"}),
            "wrong_private_key_passphrase",
        ));
    }
    for (i, (extra, code)) in cases.into_iter().enumerate() {
        let mut body = json!({"name": format!("bad-{i}"), "kind": "keypair", "account": "xy12345", "user": "jsmith"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = env
            .app
            .client
            .post(format!("{}/v1/connections", env.app.address))
            .bearer_auth(&env.app.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, code).await;
    }
}

#[tokio::test]
async fn key_rotation_switches_keys_with_no_failed_request() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("rot").await;
    let key = env.app.admin_key.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (client, address, stop) = (
            env.app.client.clone(),
            env.app.address.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let res = client
                    .post(format!("{address}/v1/connections/rot/api/v2/statements"))
                    .bearer_auth(&key)
                    .json(&json!({"statement": "SELECT 1"}))
                    .send()
                    .await
                    .unwrap();
                if res.status() == 200 {
                    ok += 1
                } else {
                    failed += 1
                }
            }
            (ok, failed)
        })
    };
    let (status, started) = env.admin_post("/v1/connections/rot/rotate-key").await;
    assert_eq!(status, 200, "{started}");
    let next_sql = started["enrollment"]["alter_user_sql"].as_str().unwrap();
    assert!(next_sql.contains("RSA_PUBLIC_KEY_2="), "{next_sql}");
    let (status, early) = env
        .admin_post("/v1/connections/rot/rotate-key/complete")
        .await;
    assert_eq!(
        status, 409,
        "completing before enrolment must fail: {early}"
    );
    env.admin_sql(next_sql).await;
    let (status, done) = env
        .admin_post("/v1/connections/rot/rotate-key/complete")
        .await;
    assert_eq!(status, 200, "{done}");
    let unset = done["cleanup_sql"][0].as_str().unwrap();
    assert_eq!(unset, "ALTER USER \"JSMITH\" UNSET RSA_PUBLIC_KEY;");
    env.admin_sql(unset).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, failed) = load.await.unwrap();
    assert!(ok > 10, "the load loop ran ({ok})");
    assert_eq!(failed, 0, "no request failed during the rotation");
    assert_eq!(done["connection"]["keypair"]["active"]["slot"], 2);
}

#[tokio::test]
async fn a_fresh_connection_under_concurrent_load_signs_exactly_once() {
    let env = spawn_with_snowsim().await;
    let created = env.create_keypair("cold", json!({})).await;
    env.admin_sql(created["enrollment"]["alter_user_sql"].as_str().unwrap())
        .await;
    let before = env.app.state.connections.signatures();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (client, address, key) = (
            env.app.client.clone(),
            env.app.address.clone(),
            env.app.admin_key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{address}/v1/connections/cold/api/v2/statements"))
                .bearer_auth(key)
                .json(&json!({"statement": "SELECT 1"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok_and(|s| s == 200) {
            ok += 1;
        }
    }
    assert_eq!(ok, 1000);
    assert_eq!(
        env.app.state.connections.signatures() - before,
        1,
        "1,000 concurrent requests, one signature"
    );
}

#[tokio::test]
async fn disabled_connections_refuse_every_use_with_403() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("off").await;
    let (status, _) = env.admin_post("/v1/connections/off/disable").await;
    assert_eq!(status, 200);
    let res = env
        .proxy_submit("off", &env.app.admin_key, "SELECT 1")
        .await;
    assert_error(res, 403, "connection_disabled").await;
    let (_, enabled) = env.admin_post("/v1/connections/off/enable").await;
    assert_eq!(enabled["connection"]["status"], "connected");
    assert_eq!(
        env.proxy_submit("off", &env.app.admin_key, "SELECT 1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn deleting_a_connection_destroys_its_key_and_prints_the_unset() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("gone").await;
    let res = env
        .app
        .client
        .delete(format!("{}/v1/connections/gone", env.app.address))
        .bearer_auth(&env.app.admin_key)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["cleanup_sql"][0],
        "ALTER USER \"JSMITH\" UNSET RSA_PUBLIC_KEY;"
    );
    let slot = icebroker::vault::Slot::new("keypair", "gone", "", "rsa_private_key").unwrap();
    assert!(env.app.state.vault.get(&slot).unwrap().is_none());
    assert_error(
        env.app
            .get("/v1/connections/gone", Some(&env.app.admin_key))
            .await,
        404,
        "connection_not_found",
    )
    .await;
}

#[tokio::test]
async fn defaults_can_be_patched_and_connections_are_listed_without_secrets() {
    let env = spawn_with_snowsim().await;
    env.connected_keypair("p").await;
    let res = env
        .app
        .client
        .patch(format!("{}/v1/connections/p", env.app.address))
        .bearer_auth(&env.app.admin_key)
        .json(&json!({"warehouse": "AUTO_WH", "schema": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["connection"]["defaults"]["warehouse"], "AUTO_WH");
    assert!(
        body["connection"]["defaults"].get("schema").is_none(),
        "empty string clears"
    );
    let res = env
        .proxy_submit("p", &env.app.admin_key, "SELECT CURRENT_WAREHOUSE()")
        .await;
    let result: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        result["data"][0][0], "AUTO_WH",
        "the new default reaches Snowflake"
    );
    let list: serde_json::Value = env
        .app
        .get("/v1/connections", Some(&env.app.admin_key))
        .await
        .json()
        .await
        .unwrap();
    let listed = &list["connections"][0];
    assert_eq!(listed["name"], "p");
    assert_eq!(listed["status"], "connected");
    let text = list.to_string();
    assert!(
        !text.contains("PRIVATE") && !text.contains("private_key"),
        "{text}"
    );
    let (_, service_key) = env.app.create_key("service", &[]).await;
    assert_error(
        env.app.get("/v1/connections", Some(&service_key)).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_jwt_names_the_key_that_signed_it_even_from_a_stale_connection_record() {
    use base64::Engine as _;
    let env = spawn_with_snowsim().await;
    env.connected_keypair("race").await;
    let (_, started) = env.admin_post("/v1/connections/race/rotate-key").await;
    env.admin_sql(started["enrollment"]["alter_user_sql"].as_str().unwrap())
        .await;
    // A request that read the connection just before the rotation completed…
    let stale = env.app.state.connections.get("race").unwrap();
    let (status, done) = env
        .admin_post("/v1/connections/race/rotate-key/complete")
        .await;
    assert_eq!(status, 200, "{done}");
    // …signs after it: the JWT must carry the fingerprint of the key that signed it.
    let jwt = env.app.state.connections.jwt(&stale).await.unwrap();
    let token = secrecy::ExposeSecret::expose_secret(jwt.token.as_ref()).to_owned();
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let new_fp = done["connection"]["keypair"]["active"]["fingerprint"]
        .as_str()
        .unwrap();
    assert!(
        claims["iss"].as_str().unwrap().ends_with(new_fp),
        "{claims}"
    );
    let res = env
        .proxy_submit("race", &env.app.admin_key, "SELECT 1")
        .await;
    assert_eq!(res.status(), 200);
}
