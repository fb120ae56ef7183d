//! `trustpub serve`: the token exchange service.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::config::{LogFormat, Settings};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Database URL, `sqlite://PATH` (overrides `database`).
    #[arg(long)]
    pub database: Option<String>,
    /// Operator API token (overrides `admin_token`; prefer TRUSTPUB_ADMIN_TOKEN,
    /// as command lines are visible to other local users).
    #[arg(long)]
    pub admin_token: Option<String>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    pub log_json: bool,
}

impl ServeArgs {
    pub fn settings(&self) -> Result<Settings> {
        let mut overrides = Vec::new();
        if let Some(v) = &self.listen {
            overrides.push(("listen", toml::Value::String(v.clone())));
        }
        if let Some(v) = &self.database {
            overrides.push(("database", toml::Value::String(v.clone())));
        }
        if let Some(v) = &self.admin_token {
            overrides.push(("admin_token", toml::Value::String(v.clone())));
        }
        if self.log_json {
            overrides.push(("log_format", toml::Value::String("json".into())));
        }
        Ok(Settings::load(
            self.config.as_deref(),
            std::env::vars(),
            &overrides,
        )?)
    }
}

pub async fn run(settings: Settings) -> Result<()> {
    let server = crate::server::start(&settings)
        .await
        .context("cannot start")?;
    println!("trustpub listening on http://{}", server.addr);
    shutdown_signal().await?;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM as service managers and containers send it.
async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")
    }
}

/// Sets up `tracing` on stderr in the configured format.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRUSTPUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: escape codes in a log file or
    // the journal are noise to every reader and tool that greps them.
    let colours = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .with_env_filter(filter);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
