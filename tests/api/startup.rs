//! Master-key handling at start (SECURITY.md SS-6): every bad configuration refuses to start
//! with a message naming the problem, and leaves the data dir byte-for-byte unchanged.

use icebroker::config::Settings;
use icebroker::startup::{open_vault, Application};
use secrecy::SecretString;

use crate::helpers::{hash_tree, random_master_key, test_settings};

async fn populated_data_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = random_master_key();
    let settings = test_settings(dir.path(), &key);
    let (vault, _) = open_vault(&settings).await.unwrap();
    let keys = icebroker::api_keys::ApiKeyService::load(vault.clone()).unwrap();
    keys.create("k", icebroker::api_keys::Scope::Service, vec![])
        .await
        .unwrap();
    drop(keys);
    drop(vault);
    (dir, key)
}

async fn refuses(settings: Settings, expect_in_message: &str) {
    let dir = settings.storage.data_dir.clone();
    let before = hash_tree(&dir);
    let err = match Application::build(settings).await {
        Ok(_) => panic!("started although it must refuse ({expect_in_message})"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.to_lowercase()
            .contains(&expect_in_message.to_lowercase()),
        "message {err:?} should mention {expect_in_message:?}"
    );
    assert_eq!(
        before,
        hash_tree(&dir),
        "data dir changed by a refused start"
    );
}

#[tokio::test]
async fn a_different_master_key_refuses_to_start_and_changes_nothing() {
    let (dir, _) = populated_data_dir().await;
    refuses(
        test_settings(dir.path(), &random_master_key()),
        "master key",
    )
    .await;
}

#[tokio::test]
async fn a_short_master_key_refuses_to_start_and_changes_nothing() {
    let (dir, _) = populated_data_dir().await;
    let short = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 31]);
    refuses(test_settings(dir.path(), &short), "32").await;
}

#[tokio::test]
async fn a_missing_master_key_for_an_existing_vault_refuses_to_start() {
    let (dir, _) = populated_data_dir().await;
    let mut settings = test_settings(dir.path(), "unused");
    settings.master_key = None;
    refuses(settings, "no master key was given").await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_master_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key) = populated_data_dir().await;
    let key_dir = tempfile::tempdir().unwrap();
    let path = key_dir.path().join("master.key");
    std::fs::write(&path, &key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut settings = test_settings(dir.path(), "unused");
    settings.master_key = None;
    settings.master_key_file = Some(path.clone());
    refuses(settings, "chmod 600").await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut settings = test_settings(dir.path(), "unused");
    settings.master_key = None;
    settings.master_key_file = Some(path);
    Application::build(settings).await.unwrap().stop().await;
}

#[tokio::test]
async fn a_fresh_data_dir_without_a_key_generates_a_private_master_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), "unused");
    settings.master_key = None;
    let mut app = Application::build(settings).await.unwrap();
    assert!(app.take_bootstrap_key().is_some());
    let key_file = dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(key_file.exists());
}

#[tokio::test]
async fn generation_can_be_switched_off_for_production() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), "unused");
    settings.master_key = None;
    settings.vault.generate_master_key = false;
    refuses(settings, "ICEBROKER_MASTER_KEY_FILE").await;
}

#[tokio::test]
async fn the_admin_key_is_handed_out_only_on_the_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = random_master_key();
    let mut first = Application::build(test_settings(dir.path(), &key))
        .await
        .unwrap();
    assert!(first.take_bootstrap_key().is_some());
    assert!(first.take_bootstrap_key().is_none());
    first.stop().await;
    let mut second = Application::build(test_settings(dir.path(), &key))
        .await
        .unwrap();
    assert!(second.take_bootstrap_key().is_none());
}

#[tokio::test]
async fn a_configured_admin_key_is_installed_instead_of_a_generated_one() {
    let dir = tempfile::tempdir().unwrap();
    let chosen = icebroker::api_keys::PlaintextApiKey::generate().unwrap();
    let mut settings = test_settings(dir.path(), &random_master_key());
    settings.admin_key = Some(SecretString::from(chosen.expose().to_owned()));
    let mut app = Application::build(settings).await.unwrap();
    assert!(app.take_bootstrap_key().is_none());
    assert!(app.state().api_keys.authenticate(chosen.expose()).is_ok());
}

#[tokio::test]
async fn a_malformed_configured_admin_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), &random_master_key());
    settings.admin_key = Some(SecretString::from("too-simple".to_owned()));
    let err = Application::build(settings)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ICEBROKER_ADMIN_KEY"), "{err}");
}
