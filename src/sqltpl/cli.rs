//! `icebroker sql list` and `icebroker sql <template> [--connection NAME] [--set NAME=VALUE]…`:
//! print the templates and render one. With `--connection`, values come from that connection's
//! record in the data dir (opened like `icebroker api-key`, so the broker must be stopped);
//! `--set` overrides them. Nothing here logs or prints a secret: records hold none.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::{for_connection, TemplateInfo, Values};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::connections::ConnectionService;
use crate::startup;

/// Arguments of `icebroker sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// `list`, or the template to print (names: `icebroker sql list`).
    pub template: String,
    /// Take values from this connection's record in the data dir (stop the broker first).
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// A placeholder value (repeatable); overrides the connection's value.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Print what the template is for and its placeholders instead of the SQL.
    #[arg(long)]
    pub describe: bool,
}

/// Runs `icebroker sql …`; `config` is the `--config` file, read only with `--connection`.
pub fn run(config: Option<&Path>, args: SqlArgs) -> anyhow::Result<()> {
    if args.template == "list" {
        print!("{}", list_text(super::list()));
        return Ok(());
    }
    let info = super::get(&args.template).map_err(coded)?;
    if args.describe {
        print!("{}", describe_text(info));
        return Ok(());
    }
    let mut values = match &args.connection {
        Some(name) => connection_values(config, name)?,
        None => Values::new(),
    };
    for pair in &args.set {
        values.set_pair(pair).map_err(anyhow::Error::msg)?;
    }
    let text = super::render(&args.template, &values).map_err(coded)?;
    println!("{text}");
    Ok(())
}

fn coded(e: super::TemplateError) -> anyhow::Error {
    anyhow::anyhow!("{}: {e}", e.code())
}

fn connection_values(config: Option<&Path>, name: &str) -> anyhow::Result<Values> {
    let settings = Settings::load(config)?;
    // As for every command that opens the vault: the master key must not linger (SS-6).
    std::env::remove_var("ICEBROKER_MASTER_KEY");
    let public_url = settings.public_url();
    actix_web::rt::System::new().block_on(async move {
        let (vault, _) = startup::open_vault(&settings).await?;
        let connections = ConnectionService::load(
            vault,
            Arc::new(SystemClock),
            settings.upstream.allow_loopback,
        )
        .context("loading connections")?;
        let connection = connections
            .get(name)
            .map_err(|_| anyhow::anyhow!("connection_not_found: no connection named {name:?}"))?;
        Ok(for_connection(&connection, Some(&public_url)))
    })
}

/// The `sql list` table: name, statement count, title.
pub fn list_text(templates: &[TemplateInfo]) -> String {
    let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(4);
    let mut out = format!("{:<width$}  STMTS  TITLE\n", "NAME");
    for t in templates {
        out.push_str(&format!(
            "{:<width$}  {:>5}  {}\n",
            t.name, t.statements, t.title
        ));
    }
    out.push_str(
        "\nicebroker sql <NAME> --describe shows a template's placeholders; \
         icebroker sql <NAME> [--connection C] [--set NAME=VALUE]… prints it.\n",
    );
    out
}

/// The `sql <t> --describe` text: title, when/as/then, placeholders.
pub fn describe_text(t: &TemplateInfo) -> String {
    let mut out = format!(
        "{}\n\nWhen: {}\nAs:   {}\nThen: {}\n\nPlaceholders:\n",
        t.title, t.when, t.run_as, t.then
    );
    for p in &t.params {
        let default = match &p.default {
            Some(d) => format!(" (default {d})"),
            None => " (required)".to_owned(),
        };
        out.push_str(&format!(
            "  {} — {}{}: {}\n",
            p.name, p.kind, default, p.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_template_and_describe_names_every_placeholder() {
        let text = list_text(super::super::list());
        for t in super::super::list() {
            assert!(text.contains(&t.name), "{}", t.name);
            let d = describe_text(t);
            for p in &t.params {
                assert!(d.contains(&p.name), "{} {}", t.name, p.name);
            }
        }
    }
}
