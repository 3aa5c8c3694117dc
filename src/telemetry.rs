//! Log subscriber set-up. Filtering follows `RUST_LOG` when set, else `[log] level`. Nothing in
//! the codebase logs secrets; request logs carry no query strings, headers or bodies.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber (once per process; later calls are ignored).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.level.clone()));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
