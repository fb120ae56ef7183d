//! Versioned migrations for PostgreSQL, applied at start. Several hosts may
//! start at once: each takes one session-level advisory lock before looking
//! at the schema, so exactly one applies a migration and the others find it
//! applied.

use postgres::Client;

use super::errors::map;
use crate::store::StoreError;

/// Schema migrations, in order; `schema_migrations` records the applied ones.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_evaluators.sql"),
    include_str!("migrations/0003_commit_exchange.sql"),
    include_str!("migrations/0004_commit_exchanges.sql"),
];

/// Any constant both hosts agree on; it names the lock, nothing else.
const MIGRATION_LOCK: i64 = 0x7472_7573_7470_7562; // "trustpub"

pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    // Waiting for another host's migration, or running a long one, is not
    // an outage: no statement timeout on this session.
    client
        .batch_execute("SET statement_timeout = 0")
        .map_err(map)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(map)?;
    let result = apply_pending(client);
    // A failed unlock only matters while this session lives; it ends soon.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result
}

fn apply_pending(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
             version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(map)?;
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(map)?
        .get(0);
    let known = MIGRATIONS.len();
    let applied = usize::try_from(version)
        .ok()
        .filter(|v| *v <= known)
        .ok_or_else(|| {
            StoreError::Database(format!(
                "database schema version {version} is not one this build knows (0..={known})"
            ))
        })?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let number =
            i32::try_from(i + 1).map_err(|_| StoreError::Database("too many migrations".into()))?;
        let mut tx = client.transaction().map_err(map)?;
        tx.batch_execute(sql)
            .map_err(|e| StoreError::Database(format!("migration {number}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&number],
        )
        .map_err(map)?;
        tx.commit().map_err(map)?;
        tracing::info!(version = number, "database migration applied");
    }
    Ok(())
}
