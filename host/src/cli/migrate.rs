//! `trustpub migrate`: moves a single host's SQLite database into
//! PostgreSQL, for a cluster. The hosts must be stopped while it runs.

use anyhow::{Context, bail};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite database to copy, `sqlite://PATH`.
    #[arg(long)]
    pub from: String,
    /// An empty PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(long)]
    pub to: String,
}

/// Copies, verifies the counts and prints them, one table a line.
pub fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    let Some(path) = args.from.strip_prefix("sqlite://") else {
        bail!("--from must be a sqlite://PATH URL");
    };
    if !std::path::Path::new(path).is_file() {
        bail!("--from: no SQLite database at '{path}'");
    }
    if !crate::store::is_postgres_url(&args.to) {
        bail!("--to must be a postgres:// URL");
    }
    let copied = crate::store::sqlite_to_postgres(path, &args.to)
        .context("migration failed; the PostgreSQL database was left unchanged")?;
    for table in &copied {
        println!(
            "{:<18} {:>10} rows copied and verified",
            table.table, table.rows
        );
    }
    println!("migrated {path} into PostgreSQL");
    Ok(())
}
