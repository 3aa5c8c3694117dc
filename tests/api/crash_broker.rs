//! The real `icebroker` binary as a child process of the test, for tests that signal it
//! (graceful shutdown) or `kill -9` it (crash harness) and start it again on the same data dir.
//! Configuration comes only from the environment set here; the test's own `ICEBROKER_*`
//! variables are removed so nothing leaks in.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How a broker child is started: the same values on every restart.
#[derive(Clone)]
pub struct BrokerSpec {
    pub data_dir: PathBuf,
    pub master_key: String,
    pub admin_key: String,
    /// `127.0.0.1:0` for any port, or a fixed address to keep URLs stable across restarts.
    pub listen: String,
    /// Extra `ICEBROKER_*` settings.
    pub env: Vec<(String, String)>,
}

impl BrokerSpec {
    /// A spec for a fresh data dir inside `dir`, any port, a random master key and admin key.
    pub fn new(dir: &std::path::Path) -> Self {
        Self {
            data_dir: dir.join("data"),
            master_key: crate::helpers::random_master_key(),
            admin_key: icebroker::api_keys::PlaintextApiKey::generate()
                .unwrap()
                .expose()
                .to_owned(),
            listen: "127.0.0.1:0".to_owned(),
            env: vec![
                ("ICEBROKER_UPSTREAM__ALLOW_LOOPBACK".into(), "true".into()),
                ("ICEBROKER_SERVER__WORKERS".into(), "2".into()),
            ],
        }
    }

    /// Opens the (stopped) broker's vault in this process.
    pub async fn open_vault(&self) -> icebroker::vault::Vault {
        let master = icebroker::vault::MasterKey::from_base64(&self.master_key).unwrap();
        icebroker::startup::open_vault_with(&self.data_dir, master)
            .await
            .expect("the vault opens after the broker stopped")
    }
}

/// A running broker child.
pub struct Broker {
    child: Child,
    pub port: u16,
    pub address: String,
}

impl Broker {
    /// Starts the binary and waits (up to 30 s) for its listening line.
    pub fn start(spec: &BrokerSpec) -> Broker {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_icebroker"));
        for (name, _) in std::env::vars() {
            if name.starts_with("ICEBROKER_") || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        cmd.env("ICEBROKER_STORAGE__DATA_DIR", &spec.data_dir)
            .env("ICEBROKER_MASTER_KEY", &spec.master_key)
            .env("ICEBROKER_ADMIN_KEY", &spec.admin_key)
            .env("ICEBROKER_SERVER__LISTEN", &spec.listen)
            .env("RUST_LOG", "info")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining after the port is known so the broker never blocks on a full pipe.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("[broker] {line}");
                }
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        loop {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
                let _ = child.kill();
                let status = child.wait();
                panic!("the broker never printed its listening line ({status:?}): {seen:#?}");
            };
            if let Some(port) = line.split("port=").nth(1) {
                let port: u16 = port
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                return Broker {
                    child,
                    port,
                    address: format!("http://127.0.0.1:{port}"),
                };
            }
            seen.push(line);
        }
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// `kill -9`: no handler runs, nothing is flushed that was not flushed already.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the broker did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // A failing test must not leave a broker running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
