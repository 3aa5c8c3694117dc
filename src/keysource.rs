//! Where the master key comes from (SECURITY.md SS-6), in order: `ICEBROKER_MASTER_KEY`
//! (base64), `ICEBROKER_MASTER_KEY_FILE` (base64 text or 32 raw bytes, mode 0600/0400), an
//! existing `<data_dir>/master.key`, or — only for a brand-new data dir with
//! `vault.generate_master_key` on (the embedded default) — a freshly generated
//! `<data_dir>/master.key`. Anything else refuses to start.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::config::{check_private_permissions, Settings};
use crate::vault::MasterKey;

/// File name of a generated master key inside the data dir.
pub const GENERATED_KEY_FILE: &str = "master.key";

/// Which source supplied the key (for the start-up log line; never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `ICEBROKER_MASTER_KEY`.
    Env,
    /// `ICEBROKER_MASTER_KEY_FILE`.
    File(PathBuf),
    /// An earlier generated `<data_dir>/master.key`.
    DataDir(PathBuf),
    /// Generated just now into `<data_dir>/master.key`.
    Generated(PathBuf),
}

/// Why no usable master key was found.
#[derive(Debug, thiserror::Error)]
#[error("master key: {0}")]
pub struct KeySourceError(pub String);

/// Finds (or, for a new data dir, generates) the master key.
pub fn resolve(
    settings: &Settings,
    data_dir_is_new: bool,
) -> Result<(MasterKey, KeySource), KeySourceError> {
    if let Some(text) = &settings.master_key {
        let key = MasterKey::from_base64(text.expose_secret().trim())
            .map_err(|e| KeySourceError(format!("ICEBROKER_MASTER_KEY: {e}")))?;
        return Ok((key, KeySource::Env));
    }
    if let Some(path) = &settings.master_key_file {
        let key = read_key_file(path, "ICEBROKER_MASTER_KEY_FILE")?;
        return Ok((key, KeySource::File(path.clone())));
    }
    let generated = settings.storage.data_dir.join(GENERATED_KEY_FILE);
    if generated.exists() {
        let key = read_key_file(&generated, "master key file")?;
        return Ok((key, KeySource::DataDir(generated)));
    }
    if !data_dir_is_new {
        return Err(KeySourceError(format!(
            "the data dir {} holds a vault but no master key was given; set ICEBROKER_MASTER_KEY_FILE \
             (or ICEBROKER_MASTER_KEY) to the key it was created with",
            settings.storage.data_dir.display()
        )));
    }
    if !settings.vault.generate_master_key {
        return Err(KeySourceError(
            "no master key configured and vault.generate_master_key is false; set \
             ICEBROKER_MASTER_KEY_FILE to a file holding 32 random bytes in base64 \
             (e.g. `openssl rand -base64 32 > master.key && chmod 600 master.key`)"
                .to_owned(),
        ));
    }
    let key = MasterKey::generate().map_err(|e| KeySourceError(format!("generating: {e}")))?;
    write_new_key_file(&generated, &key)?;
    Ok((key, KeySource::Generated(generated)))
}

fn read_key_file(path: &Path, setting: &str) -> Result<MasterKey, KeySourceError> {
    check_private_permissions(path, setting).map_err(|e| KeySourceError(e.to_string()))?;
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
            KeySourceError(format!("{setting}: cannot read {}: {e}", path.display()))
        })?);
    let parsed = if bytes.len() == 32 {
        MasterKey::from_bytes(&bytes)
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            KeySourceError(format!(
                "{setting}: {} is neither 32 raw bytes nor base64 text",
                path.display()
            ))
        })?;
        MasterKey::from_base64(text.trim())
    };
    parsed.map_err(|e| KeySourceError(format!("{setting} {}: {e}", path.display())))
}

fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<(), KeySourceError> {
    let fail = |e: std::io::Error| KeySourceError(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(key.to_base64().as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)?;
    Ok(())
}
