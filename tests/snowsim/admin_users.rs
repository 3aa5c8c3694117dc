//! `ALTER USER`, `DESC USER`, `SHOW USERS` and authentication policies, run as the SQL an admin
//! pastes, and their effect on keypair-JWT and OAuth authentication.

use super::admin_helpers::*;
use super::helpers::*;

const INSUFFICIENT_BOB: &str =
    "SQL access control error:\nInsufficient privileges to operate on user 'BOB'";

#[tokio::test]
async fn alter_user_set_rsa_public_key_enables_keypair_jwts_and_unset_disables_them() {
    let sim = spawn_demo().await;
    let (k1, k2) = (rsa_key(2048), rsa_key(2048));
    let (jwt1, jwt2) = (jwt_for(&k1, "BOB"), jwt_for(&k2, "BOB"));
    // Before: BOB has no key.
    let r = with_jwt(&sim, &jwt1, "SELECT CURRENT_USER()").await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Slot 1 as a bare base64 body, slot 2 as PEM with armour and line breaks.
    let sql = format!("ALTER USER BOB SET RSA_PUBLIC_KEY='{}'", k1.public_b64);
    assert_eq!(
        admin(&sim, &sql).await,
        vec![vec![Some("Statement executed successfully.".to_owned())]]
    );
    let sql = format!(
        "alter user bob set rsa_public_key_2 = '{}';",
        public_pem(&k2)
    );
    admin(&sim, &sql).await;
    for jwt in [&jwt1, &jwt2] {
        let r = with_jwt(&sim, jwt, "SELECT CURRENT_USER()").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(scalar(&r), "BOB");
    }
    let d = admin(&sim, "DESCRIBE USER BOB").await;
    assert_eq!(
        desc(&d, "RSA_PUBLIC_KEY", 1).as_deref(),
        Some(&*k1.public_b64)
    );
    assert_eq!(
        desc(&d, "RSA_PUBLIC_KEY_FP", 1).as_deref(),
        Some(&*k1.fingerprint)
    );
    assert_eq!(
        desc(&d, "RSA_PUBLIC_KEY_2", 1).as_deref(),
        Some(&*k2.public_b64)
    );
    assert_eq!(
        desc(&d, "RSA_PUBLIC_KEY_2_FP", 1).as_deref(),
        Some(&*k2.fingerprint)
    );
    let users = admin(&sim, "SHOW USERS LIKE 'BOB'").await;
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[0].last().unwrap().as_deref(),
        Some("true"),
        "has_rsa_public_key"
    );

    // UNSET slot 1: its JWT fails naming the key slots; slot 2 still works.
    admin(&sim, "ALTER USER BOB UNSET RSA_PUBLIC_KEY").await;
    let r = with_jwt(&sim, &jwt1, "SELECT 1").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["code"], "390144");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("RSA_PUBLIC_KEY"), "{message}");
    assert!(message.contains(&k1.fingerprint), "{message}");
    assert_eq!(with_jwt(&sim, &jwt2, "SELECT 1").await.status, 200);
    let d = admin(&sim, "DESC USER BOB").await;
    assert_eq!(desc(&d, "RSA_PUBLIC_KEY_FP", 1).as_deref(), Some("null"));
    sim.sim.stop().await;
}

#[tokio::test]
async fn alter_user_needs_a_user_admin_role_and_an_existing_user() {
    let sim = spawn_demo().await;
    let key = rsa_key(2048);
    let set = format!("ALTER USER BOB SET RSA_PUBLIC_KEY = '{}'", key.public_b64);
    let cases = [
        ("BOB", "REPORTER", 422),
        ("ADMIN", "SYSADMIN", 422),
        ("ADMIN", "SECURITYADMIN", 200),
        ("ADMIN", "USERADMIN", 200),
        ("ADMIN", "ACCOUNTADMIN", 200),
    ];
    for (user, role, status) in cases {
        let r = run(&sim, &sim.token(user, Some(role)), &set).await;
        assert_eq!(r.status, status, "{user}/{role}: {}", r.text());
        if status == 422 {
            assert_sql_error(&r, "003001", "42501", INSUFFICIENT_BOB);
        }
    }
    let token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    let r = run(&sim, &token, "ALTER USER NOBODY SET DISABLED = TRUE").await;
    assert_sql_error(
        &r,
        "002003",
        "02000",
        "User 'NOBODY' does not exist or not authorized.",
    );
    // Quoted identifiers are exact: "bob" is not BOB.
    let r = run(&sim, &token, "ALTER USER \"bob\" SET DISABLED = TRUE").await;
    assert_sql_error(&r, "002003", "02000", "User 'bob' does not exist");
    let r = run(
        &sim,
        &token,
        "ALTER USER IF EXISTS NOBODY SET DISABLED = TRUE",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = run(&sim, &token, "ALTER USER BOB SET NO_SUCH_PROPERTY = 1").await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = run(&sim, &token, "ALTER USER BOB SET").await;
    assert_sql_error(&r, "001003", "42000", "unexpected '<EOF>'");
    sim.sim.stop().await;
}

#[tokio::test]
async fn short_or_malformed_keys_are_refused_and_change_nothing() {
    let sim = spawn_demo().await;
    let token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    let short = rsa_key(1024);
    for value in [short.public_b64.as_str(), "bm90IGEga2V5", "%%%"] {
        let sql = format!("ALTER USER BOB SET RSA_PUBLIC_KEY = '{value}'");
        let r = run(&sim, &token, &sql).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.text().contains("New public key rejected"), "{}", r.text());
    }
    let d = admin(&sim, "DESC USER BOB").await;
    assert_eq!(desc(&d, "RSA_PUBLIC_KEY", 1).as_deref(), Some("null"));
    sim.sim.stop().await;
}

#[tokio::test]
async fn alter_user_defaults_and_disabled_show_in_desc_show_users_and_sessions() {
    let sim = spawn_demo().await;
    let bob = sim.token("BOB", Some("REPORTER"));
    admin(
        &sim,
        "ALTER USER BOB SET DEFAULT_WAREHOUSE = AUTO_WH DEFAULT_ROLE = 'REPORTER' LOGIN_NAME = 'bobby'",
    )
    .await;
    let d = admin(&sim, "DESC USER BOB").await;
    assert_eq!(desc(&d, "DEFAULT_WAREHOUSE", 1).as_deref(), Some("AUTO_WH"));
    assert_eq!(desc(&d, "DEFAULT_ROLE", 1).as_deref(), Some("REPORTER"));
    assert_eq!(desc(&d, "LOGIN_NAME", 1).as_deref(), Some("bobby"));
    let r = run(&sim, &bob, "SELECT CURRENT_WAREHOUSE()").await;
    assert_eq!(
        scalar(&r),
        "AUTO_WH",
        "the session default follows the change"
    );
    let users = admin(&sim, "SHOW USERS LIKE 'B%'").await;
    assert_eq!(
        users[0][2].as_deref(),
        Some("bobby"),
        "login_name: {users:?}"
    );

    // DESC USER on oneself is allowed, on someone else not.
    assert_eq!(run(&sim, &bob, "DESC USER BOB").await.status, 200);
    let r = run(&sim, &bob, "DESC USER ADMIN").await;
    assert_sql_error(&r, "003001", "42501", "user 'ADMIN'");

    admin(&sim, "ALTER USER BOB SET DISABLED = TRUE").await;
    let r = run(&sim, &bob, "SELECT 1").await;
    assert_eq!((r.status, r.json()["code"].clone()), (401, "390303".into()));
    admin(&sim, "ALTER USER BOB SET DISABLED = FALSE").await;
    assert_eq!(run(&sim, &bob, "SELECT 1").await.status, 200);
    sim.sim.stop().await;
}

#[tokio::test]
async fn authentication_policies_refuse_the_methods_they_exclude() {
    let sim = spawn_demo().await;
    let key = rsa_key(2048);
    let jwt = jwt_for(&key, "BOB");
    let bob_oauth = sim.token("BOB", Some("REPORTER"));
    admin(
        &sim,
        &format!("ALTER USER BOB SET RSA_PUBLIC_KEY = '{}'", key.public_b64),
    )
    .await;
    let created = admin(
        &sim,
        "CREATE AUTHENTICATION POLICY no_keypair AUTHENTICATION_METHODS = ('PASSWORD', 'OAUTH')",
    )
    .await;
    assert_eq!(
        created[0][0].as_deref(),
        Some("Authentication policy NO_KEYPAIR successfully created.")
    );
    admin(&sim, "ALTER USER BOB SET AUTHENTICATION POLICY no_keypair").await;
    let r = with_jwt(&sim, &jwt, "SELECT 1").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["code"], "390144");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("Authentication attempt rejected by the current authentication policy."),
        "{message}"
    );
    assert_eq!(
        run(&sim, &bob_oauth, "SELECT 1").await.status,
        200,
        "OAuth still allowed"
    );

    // A policy without OAUTH refuses bearer tokens the same way.
    admin(
        &sim,
        "CREATE OR REPLACE AUTHENTICATION POLICY no_keypair AUTHENTICATION_METHODS = ('KEYPAIR')",
    )
    .await;
    let r = run(&sim, &bob_oauth, "SELECT 1").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r
        .text()
        .contains("rejected by the current authentication policy"));
    assert_eq!(with_jwt(&sim, &jwt, "SELECT 1").await.status, 200);
    let d = admin(&sim, "DESC AUTHENTICATION POLICY NO_KEYPAIR").await;
    assert_eq!(
        desc(&d, "AUTHENTICATION_METHODS", 1).as_deref(),
        Some("[KEYPAIR]")
    );
    assert_eq!(admin(&sim, "SHOW AUTHENTICATION POLICIES").await.len(), 1);

    // Attached policies cannot be dropped; after UNSET everything works again and it can.
    let token = sim.token("ADMIN", Some("ACCOUNTADMIN"));
    assert_eq!(
        run(&sim, &token, "DROP AUTHENTICATION POLICY no_keypair")
            .await
            .status,
        422
    );
    admin(&sim, "ALTER USER BOB UNSET AUTHENTICATION POLICY").await;
    assert_eq!(run(&sim, &bob_oauth, "SELECT 1").await.status, 200);
    admin(&sim, "DROP AUTHENTICATION POLICY no_keypair").await;

    // Privileges and unknown objects.
    let r = run(
        &sim,
        &bob_oauth,
        "CREATE AUTHENTICATION POLICY p AUTHENTICATION_METHODS = ('ALL')",
    )
    .await;
    assert_sql_error(&r, "003001", "42501", "Insufficient privileges");
    let r = run(
        &sim,
        &token,
        "ALTER USER BOB SET AUTHENTICATION POLICY missing",
    )
    .await;
    assert_sql_error(
        &r,
        "002003",
        "02000",
        "Authentication policy 'MISSING' does not exist",
    );
    let r = run(
        &sim,
        &token,
        "CREATE AUTHENTICATION POLICY p AUTHENTICATION_METHODS = ('TELEPATHY')",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    sim.sim.stop().await;
}
