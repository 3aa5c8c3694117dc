//! `icebroker sql …` as an admin runs it: the real binary lists the templates, renders one with
//! `--set` values, names missing and unknown placeholders with stable codes, and with
//! `--connection` prints exactly the text the connection API shows for that connection.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use icebroker::clock::SystemClock;
use icebroker::connections::{ConnectionService, Defaults, NewKeypair};
use icebroker::vault::MasterKey;

use crate::helpers::random_master_key;

fn icebroker(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_icebroker"));
    cmd.current_dir(cwd).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("ICEBROKER_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn sql_list_names_every_template_with_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let out = icebroker(dir.path(), &["sql", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for t in icebroker::sqltpl::list() {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(t.name.as_str()))
            .unwrap_or_else(|| panic!("{} missing:\n{stdout}", t.name));
        assert!(line.contains(&t.title), "{line}");
    }
    // Listing needs no data dir and creates none.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn sql_renders_a_template_with_set_values_quoted_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let out = icebroker(
        dir.path(),
        &[
            "sql",
            "oauth_create_security_integration",
            "--set",
            "integration=icebroker_sales",
            "--set",
            "redirect_uri=https://broker.example.com/oauth/callback/it's\\",
            "--set",
            "blocked_roles=SYSADMIN,ACCOUNTADMIN",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("-- Create the Snowflake OAuth"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-- When:") && stdout.contains("-- Then:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CREATE SECURITY INTEGRATION ICEBROKER_SALES\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "OAUTH_REDIRECT_URI = 'https://broker.example.com/oauth/callback/it''s\\\\'\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("OAUTH_ENFORCE_PKCE = TRUE"), "{stdout}");
    assert!(
        stdout.contains("BLOCKED_ROLES_LIST = ('SYSADMIN', 'ACCOUNTADMIN');"),
        "{stdout}"
    );

    let described = icebroker(dir.path(), &["sql", "spcs_service", "--describe"]);
    assert!(described.status.success());
    let described = text(&described.stdout);
    assert!(
        described.contains("public_url — url (required)"),
        "{described}"
    );
    assert!(
        described.contains("image_tag — tag (default latest)"),
        "{described}"
    );
}

#[test]
fn missing_unknown_and_invalid_values_fail_with_codes_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = icebroker(dir.path(), &["sql", "spcs_service"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("sql_value_missing"), "{stderr}");
    assert!(stderr.contains("spcs_database, public_url"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing half-rendered is printed");

    for (args, code, names) in [
        (vec!["sql", "nope"], "sql_template_not_found", "nope"),
        (
            vec![
                "sql",
                "keypair_desc_user",
                "--set",
                "user=JSMITH",
                "--set",
                "usr=x",
            ],
            "sql_placeholder_unknown",
            "usr",
        ),
        (
            vec!["sql", "keypair_desc_user", "--set", "user=a\nb"],
            "sql_value_invalid",
            "user",
        ),
        (
            vec![
                "sql",
                "spcs_image_repository",
                "--set",
                "spcs_database=x$$y",
            ],
            "sql_value_invalid",
            "spcs_database",
        ),
        (
            vec!["sql", "keypair_desc_user", "--set", "user"],
            "NAME=VALUE",
            "user",
        ),
    ] {
        let out = icebroker(dir.path(), &args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(code) && stderr.contains(names),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn with_connection_the_cli_prints_exactly_the_sql_the_api_shows() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let master = random_master_key();
    let (api_alter, api_desc) = {
        let vault = icebroker::startup::open_vault_with(
            &data_dir,
            MasterKey::from_base64(&master).unwrap(),
        )
        .await
        .unwrap();
        let connections = ConnectionService::load(vault, Arc::new(SystemClock), true).unwrap();
        let created = connections
            .create_keypair(NewKeypair {
                name: "sales".into(),
                account: "xy12345.us-east-2.aws".into(),
                user: "jsmith".into(),
                defaults: Defaults {
                    role: Some("ANALYST".into()),
                    warehouse: Some("COMPUTE_WH".into()),
                    database: Some("SNOWFLAKE_SAMPLE_DATA".into()),
                    schema: Some("TPCH_SF1".into()),
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let active = &created.keypair.as_ref().unwrap().active;
        ConnectionService::enrollment_sql(&created, active)
    };
    // The vault is closed; the CLI opens the same data dir like `icebroker api-key` does.
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_icebroker"));
        for (name, _) in std::env::vars() {
            if name.starts_with("ICEBROKER_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(dir.path())
            .env("ICEBROKER_STORAGE__DATA_DIR", &data_dir)
            .env("ICEBROKER_MASTER_KEY", &master)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["sql", "keypair_set_public_key", "--connection", "sales"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.trim_end().ends_with(&api_alter),
        "{stdout}\n--- api:\n{api_alter}"
    );
    assert!(api_alter.starts_with("ALTER USER \"JSMITH\" SET RSA_PUBLIC_KEY='MII"));

    let out = run(&["sql", "keypair_desc_user", "--connection", "sales"]);
    assert!(text(&out.stdout).trim_end().ends_with(&api_desc));

    // --set overrides the record; the record's other values still fill the rest.
    let out = run(&[
        "sql",
        "keypair_service_user",
        "--connection",
        "sales",
        "--set",
        "role=icebroker_reader",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("CREATE ROLE IF NOT EXISTS \"ICEBROKER_READER\";"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GRANT USAGE ON SCHEMA \"SNOWFLAKE_SAMPLE_DATA\".\"TPCH_SF1\" TO ROLE \"ICEBROKER_READER\";"),
        "{stdout}"
    );
    assert!(stdout.contains("RSA_PUBLIC_KEY = 'MII"), "{stdout}");

    // Values the record cannot give are named.
    let out = run(&["sql", "auth_policy_keypair_oauth", "--connection", "sales"]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sql_value_missing")
            && stderr.contains("policy_database, policy_schema, policy"),
        "{stderr}"
    );
    let out = run(&["sql", "keypair_desc_user", "--connection", "nobody"]);
    assert!(text(&out.stderr).contains("connection_not_found"));
}
