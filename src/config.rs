//! Settings: built-in defaults → optional TOML file (`--config`) → environment variables
//! `ICEBROKER_<SECTION>__<KEY>` (top-level keys: `ICEBROKER_<KEY>`). Unknown keys anywhere are
//! an error, so a typo never silently falls back to a default. Every secret may also be given
//! as a path in `<NAME>_FILE`; secrets are held as [`SecretString`] and never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// Errors that stop the process before it serves anything; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layered configuration could not be parsed (unknown key, wrong type, bad TOML).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A secret (or its `_FILE`) could not be read.
    #[error("{0}")]
    Secret(String),
}

/// The whole configuration tree.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener and limits.
    #[serde(default)]
    pub server: ServerSettings,
    /// Where the vault's data lives.
    #[serde(default)]
    pub storage: StorageSettings,
    /// Logging output.
    #[serde(default)]
    pub log: LogSettings,
    /// Master-key policy.
    #[serde(default)]
    pub vault: VaultSettings,
    /// Where connections may send requests.
    #[serde(default)]
    pub upstream: UpstreamSettings,
    /// SQL API proxy limits, timeouts and retries.
    #[serde(default)]
    pub proxy: ProxySettings,
    /// Master key, base64 of 32 bytes (env `ICEBROKER_MASTER_KEY`). Prefer `master_key_file`.
    #[serde(default, skip_serializing)]
    pub master_key: Option<SecretString>,
    /// File holding the master key (env `ICEBROKER_MASTER_KEY_FILE`); must not be readable by
    /// group or others.
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// An admin API key to install on first start instead of generating one
    /// (env `ICEBROKER_ADMIN_KEY`).
    #[serde(default, skip_serializing)]
    pub admin_key: Option<SecretString>,
    /// File holding `admin_key` (env `ICEBROKER_ADMIN_KEY_FILE`).
    #[serde(default)]
    pub admin_key_file: Option<PathBuf>,
    /// Request-rate limits and the upstream concurrency cap.
    #[serde(default)]
    pub limits: LimitsSettings,
    /// The `/metrics` endpoint.
    #[serde(default)]
    pub metrics: MetricsSettings,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL at which browsers and apps reach this broker (links, OAuth redirect URI). Defaults
    /// to `http://<listen>`.
    pub public_url: Option<Url>,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Largest accepted JSON request body in bytes (larger → 413 `payload_too_large`).
    pub json_limit_bytes: usize,
    /// How long a client may take to send request headers, in seconds (slowloris guard).
    pub header_read_timeout_secs: u64,
    /// Idle keep-alive in seconds.
    pub keep_alive_secs: u64,
    /// Graceful-shutdown drain window in seconds.
    pub shutdown_timeout_secs: u64,
    /// How long a client may take to send a request body, in seconds, counted from the start
    /// of the request (slow-body guard; exceeded → 408 `request_timeout`, connection closed).
    pub body_read_timeout_secs: u64,
    /// Open connections per worker before new ones wait to be accepted.
    pub max_connections: usize,
    /// New connections per worker being set up at once (TLS handshakes) before others wait.
    pub max_connection_rate: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            workers: 0,
            json_limit_bytes: 1024 * 1024,
            header_read_timeout_secs: 10,
            keep_alive_secs: 60,
            shutdown_timeout_secs: 30,
            body_read_timeout_secs: 30,
            max_connections: 25_000,
            max_connection_rate: 256,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Data directory (sled database, keyring, generated master key).
    pub data_dir: PathBuf,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (local use).
    #[default]
    Pretty,
    /// One JSON object per line (production).
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Default filter directive when `RUST_LOG` is not set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// `[vault]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// When no master key is configured and the data dir is new, generate
    /// `<data_dir>/master.key`. Production deployments set this to false and supply a key.
    pub generate_master_key: bool,
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self {
            generate_master_key: true,
        }
    }
}

/// `[upstream]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// Allow connection hosts of the form `http://127.0.0.1:<port>` (snowsim, tests, the demo).
    /// Never in production: real Snowflake hosts are always https.
    pub allow_loopback: bool,
}

/// `[proxy]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    /// Largest statement body accepted, in bytes (larger → 413).
    pub max_body_bytes: usize,
    /// Upstream connect timeout in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for any upstream read in milliseconds; above Snowflake's 45 s synchronous
    /// window so a long statement answers 202 rather than timing out here.
    pub read_timeout_ms: u64,
    /// Attempts per request, first included (transport errors, 429, 5xx).
    pub max_attempts: u32,
    /// Backoff base in milliseconds (full jitter, doubling).
    pub retry_base_ms: u64,
    /// Backoff cap in milliseconds.
    pub retry_cap_ms: u64,
    /// Total time budget for retries of one request in milliseconds.
    pub retry_budget_ms: u64,
    /// Days to keep audit entries of proxied calls.
    pub audit_retention_days: u64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 75_000,
            max_attempts: 5,
            retry_base_ms: 200,
            retry_cap_ms: 30_000,
            retry_budget_ms: 60_000,
            audit_retention_days: 30,
        }
    }
}

/// `[limits]`: applied to the SQL API proxy, tools and MCP. A rate or cap of 0 switches that
/// limit off. Rates are requests per second; a burst is how many requests may arrive at once
/// (0 = the rate). Over a rate → 429 `rate_limited`; over the cap → 429 `connection_busy`; both
/// with `Retry-After`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Requests per second per API key.
    pub api_key_per_second: u32,
    /// Burst per API key.
    pub api_key_burst: u32,
    /// Requests per second per end user: `(connection, identifier)` for OAuth connections and
    /// `(connection, X-Icebroker-Identifier)` on keypair connections when that header is sent.
    pub identifier_per_second: u32,
    /// Burst per end user.
    pub identifier_burst: u32,
    /// Upstream requests in flight per connection.
    pub connection_max_concurrent: u32,
}

/// `[metrics]`: `GET /metrics` (Prometheus/OpenMetrics text).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Bearer token scrapers must send (env `ICEBROKER_METRICS__TOKEN`); unset = open.
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
    /// File holding the token (env `ICEBROKER_METRICS__TOKEN_FILE`).
    pub token_file: Option<PathBuf>,
}

impl Settings {
    /// Loads defaults, then `config_file` (if any), then the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(config_file))
    }

    /// The layered provider chain; exposed so tests can add their own layers.
    pub fn figment(config_file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Self::defaults()));
        if let Some(path) = config_file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(Env::prefixed("ICEBROKER_").split("__"))
    }

    /// Extracts and validates settings from a provider chain.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults (what runs with zero configuration).
    pub fn defaults() -> Self {
        Self {
            server: ServerSettings::default(),
            storage: StorageSettings::default(),
            log: LogSettings::default(),
            vault: VaultSettings::default(),
            upstream: UpstreamSettings::default(),
            proxy: ProxySettings::default(),
            master_key: None,
            master_key_file: None,
            admin_key: None,
            admin_key_file: None,
            limits: LimitsSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.master_key.is_some() && self.master_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "both ICEBROKER_MASTER_KEY and ICEBROKER_MASTER_KEY_FILE are set; give exactly one"
                    .into(),
            ));
        }
        if self.admin_key.is_some() && self.admin_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "both ICEBROKER_ADMIN_KEY and ICEBROKER_ADMIN_KEY_FILE are set; give exactly one"
                    .into(),
            ));
        }
        if self.metrics.token.is_some() && self.metrics.token_file.is_some() {
            return Err(ConfigError::Invalid(
                "both metrics.token and metrics.token_file are set; give exactly one".into(),
            ));
        }
        if self.server.json_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.json_limit_bytes must be greater than 0".into(),
            ));
        }
        if let Some(url) = &self.server.public_url {
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::Invalid(format!(
                    "server.public_url must be an absolute http(s) URL, got {url}"
                )));
            }
        }
        Ok(())
    }

    /// The externally visible base URL (no trailing slash).
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.server.listen),
        }
    }

    /// Header-read timeout as a [`Duration`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.server.header_read_timeout_secs)
    }

    /// The admin bootstrap key from `admin_key` or `admin_key_file`, if configured.
    pub fn admin_bootstrap_key(&self) -> Result<Option<SecretString>, ConfigError> {
        match (&self.admin_key, &self.admin_key_file) {
            (Some(key), _) => Ok(Some(key.clone())),
            (None, Some(path)) => read_secret_file(path, "ICEBROKER_ADMIN_KEY_FILE")
                .map(|text| Some(SecretString::from(text.trim().to_owned()))),
            (None, None) => Ok(None),
        }
    }
}

impl Settings {
    /// The `/metrics` bearer token from `metrics.token` or `metrics.token_file`, if configured.
    pub fn metrics_token(&self) -> Result<Option<SecretString>, ConfigError> {
        let token = match (&self.metrics.token, &self.metrics.token_file) {
            (Some(token), _) => secrecy::ExposeSecret::expose_secret(token)
                .trim()
                .to_owned(),
            (None, Some(path)) => read_secret_file(path, "ICEBROKER_METRICS__TOKEN_FILE")?
                .trim()
                .to_owned(),
            (None, None) => return Ok(None),
        };
        if token.is_empty() {
            return Err(ConfigError::Invalid(
                "the metrics token is empty; set a non-empty metrics.token or remove it".into(),
            ));
        }
        Ok(Some(SecretString::from(token)))
    }

    /// Request-body read timeout as a [`Duration`].
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.server.body_read_timeout_secs)
    }
}

/// Reads a secret file, refusing one that group or others may read (SECURITY.md SS-6).
pub fn read_secret_file(path: &Path, setting: &str) -> Result<String, ConfigError> {
    check_private_permissions(path, setting)?;
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Secret(format!("{setting}: cannot read {}: {e}", path.display())))
}

/// Fails when `path` is readable or writable by group or others.
pub fn check_private_permissions(path: &Path, setting: &str) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::Secret(format!("{setting}: cannot read {}: {e}", path.display()))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::Secret(format!(
                "{setting}: {} has mode {mode:o}, which lets group/others read it; run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    fn load_with(jail: &mut figment::Jail, toml: Option<&str>) -> Result<Settings, ConfigError> {
        let path = toml.map(|text| {
            jail.create_file("icebroker.toml", text).unwrap();
            PathBuf::from("icebroker.toml")
        });
        Settings::load(path.as_deref())
    }

    #[test]
    fn zero_configuration_listens_on_loopback_8080_with_data_dir_data() {
        figment::Jail::expect_with(|jail| {
            let s = load_with(jail, None).unwrap();
            assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(s.storage.data_dir, PathBuf::from("./data"));
            assert_eq!(s.public_url(), "http://127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ICEBROKER_SERVER__LISTEN", "127.0.0.1:9999");
            let s = load_with(
                jail,
                Some("[server]\nlisten = \"127.0.0.1:7000\"\nworkers = 3\n"),
            )
            .unwrap();
            assert_eq!(s.server.listen.port(), 9999);
            assert_eq!(s.server.workers, 3);
            Ok(())
        });
    }

    #[test]
    fn the_example_file_documents_valid_keys_with_their_defaults() {
        let example = include_str!("../icebroker.example.toml");
        let from_example = Settings::from_figment(
            Figment::from(Serialized::defaults(Settings::defaults())).merge(Toml::string(example)),
        )
        .unwrap();
        let defaults = Settings::defaults();
        assert_eq!(
            serde_json::to_value(&from_example).unwrap(),
            serde_json::to_value(&defaults).unwrap(),
            "every value in icebroker.example.toml is the default"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_in_files_and_env() {
        figment::Jail::expect_with(|jail| {
            let err = load_with(jail, Some("[server]\nlisen = \"x\"\n")).unwrap_err();
            assert!(err.to_string().contains("lisen"), "{err}");
            jail.set_env("ICEBROKER_SERVR__LISTEN", "1");
            let err = load_with(jail, None).unwrap_err();
            assert!(err.to_string().contains("servr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn master_key_from_env_is_secret_and_not_in_debug_output() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ICEBROKER_MASTER_KEY", "c2VjcmV0LWNhbmFyeS12YWx1ZQ==");
            let s = load_with(jail, None).unwrap();
            assert!(s.master_key.is_some());
            assert!(!format!("{s:?}").contains("c2VjcmV0"));
            Ok(())
        });
    }

    #[test]
    fn both_key_and_key_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ICEBROKER_MASTER_KEY", "x");
            jail.set_env("ICEBROKER_MASTER_KEY_FILE", "/tmp/x");
            assert!(load_with(jail, None).is_err());
            Ok(())
        });
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file(&path, "X_FILE").unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&path, "X_FILE").unwrap(), "secret");
    }
}
