//! Evaluator versions shared by the hosts of a cluster (migration 0002):
//! publishing one stores it by digest, makes it active and notifies channel
//! `trustpub_evaluators` in one transaction (PostgreSQL delivers the
//! notification at commit); each host listens on a connection of its own.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::PostgresStore;
use super::errors::map;
use crate::store::rows::to_i64;
use crate::store::{StoreError, StoredEvaluator};

const CHANNEL: &str = "trustpub_evaluators";

impl PostgresStore {
    pub(super) fn publish(
        &self,
        provider: &str,
        version: &StoredEvaluator,
        now: u64,
    ) -> Result<(), StoreError> {
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        tx.execute(
            "INSERT INTO evaluator_versions (provider, digest, component, signature, stored_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, digest) DO UPDATE SET signature = excluded.signature",
            &[&provider, &version.digest, &version.component, &version.signature, &now],
        )
        .map_err(map)?;
        tx.execute(
            "INSERT INTO active_evaluators (provider, digest, activated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider) DO UPDATE SET digest = excluded.digest, activated_at = excluded.activated_at",
            &[&provider, &version.digest, &now],
        )
        .map_err(map)?;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &provider])
            .map_err(map)?;
        tx.commit().map_err(map)?;
        Ok(())
    }

    pub(super) fn active(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .query(
                "SELECT provider, digest FROM active_evaluators ORDER BY provider",
                &[],
            )
            .map_err(map)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(super) fn version(
        &self,
        provider: &str,
        digest: &str,
    ) -> Result<Option<StoredEvaluator>, StoreError> {
        let mut conn = self.conn()?;
        let row = conn
            .query_opt(
                "SELECT component, signature FROM evaluator_versions WHERE provider = $1 AND digest = $2",
                &[&provider, &digest],
            )
            .map_err(map)?;
        Ok(row.map(|r| StoredEvaluator {
            digest: digest.to_string(),
            component: r.get(0),
            signature: r.get(1),
        }))
    }

    /// Waits on the listening connection (opened on first use, and again
    /// after it broke).
    pub(super) fn wait(&self, timeout: Duration) -> Result<bool, StoreError> {
        let mut listener = self
            .listener
            .lock()
            .map_err(|_| StoreError::Database("listener lock poisoned".into()))?;
        if listener.is_none() {
            let mut client: Client = self.config.connect(NoTls).map_err(map)?;
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(map)?;
            *listener = Some(client);
            // Changes made before LISTEN are found by the caller's compare.
            return Ok(true);
        }
        let Some(client) = listener.as_mut() else {
            return Ok(false);
        };
        let outcome = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next();
            if let Ok(Some(_)) = first {
                // Several changes at once need one compare.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            first.map(|n| n.is_some())
        };
        match outcome {
            Ok(true) => Ok(true),
            Ok(false) if client.is_closed() => {
                *listener = None;
                Err(StoreError::Unavailable(
                    "the listening connection closed".into(),
                ))
            }
            Ok(false) => Ok(false),
            Err(e) => {
                *listener = None;
                Err(map(e))
            }
        }
    }
}
