//! The cluster engine: PostgreSQL, shared by every trustpub host behind a
//! load balancer.
//!
//! The sync `postgres` client behind an `r2d2` pool: the `Store` interface
//! is synchronous and called on blocking threads, so a blocking client fits
//! it without a second async runtime in the request path. Every call checks
//! a connection out of the pool, waiting at most the configured timeout; the
//! server ends any statement running longer (`statement_timeout`), so an
//! outage is a fast [`StoreError::Unavailable`], never a hang.
//!
//! The invariants match SQLite's: `used_token_ids` has a primary key on
//! (issuer, token_id), and `INSERT … ON CONFLICT DO NOTHING` waits for a
//! concurrent insert of the same id to commit or roll back, so across hosts a
//! token id is accepted once. An exchange locks its policy row (`FOR
//! UPDATE`) before reading pins, so pins are written once, and a deleted
//! policy mints nothing. A commit returns only after PostgreSQL made it
//! durable.

mod audit_columns;
mod commit;
mod errors;
mod evaluators;
mod rows;
mod schema;
pub(in crate::store) mod statements;

use std::str::FromStr;
use std::time::Duration;

use postgres::NoTls;
use r2d2::{Pool, PooledConnection};

pub(in crate::store) use self::errors::map;
use self::rows::{
    AUDIT_COLUMNS, POLICY_COLUMNS, audit_row, opt_u64_at, query_policies, scopes_at, u64_at,
};
use super::audit_values::AuditValues;
use super::group_commit::CommitQueue;
use super::rows::{scopes_json, to_i64};
use super::{
    ApiKeyRecord, AuditCount, AuditEvent, AuditKind, AuditOutcome, ExchangeCommit, NewPolicy,
    Store, StoreError, StoredEvaluator, StoredPolicy, User,
};

/// An exchange's candidates: the policies under any of its index keys.
static CANDIDATES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{POLICY_COLUMNS} WHERE p.id IN (SELECT policy_id FROM policy_index_keys \
         WHERE provider = $1 AND key = ANY($2)) \
         AND ($3::TEXT IS NULL OR lower(u.username) = lower($3)) ORDER BY p.id"
    )
});

/// How a PostgreSQL store connects.
#[derive(Debug, Clone, Copy)]
pub struct PostgresOptions {
    /// Longest wait for a connection, and longest statement, before the
    /// call fails as unavailable.
    pub timeout: Duration,
    /// Connections this host keeps at most.
    pub pool_size: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            pool_size: 16,
        }
    }
}

use self::audit_columns::{AuditColumns, INSERT_AUDIT_COLUMNS};
use self::statements::Manager;

pub struct PostgresStore {
    /// `None` only once dropped (see `Drop`).
    pool: Option<Pool<Manager>>,
    config: postgres::Config,
    /// The connection that LISTENs for evaluator changes.
    listener: std::sync::Mutex<Option<postgres::Client>>,
    commits: CommitQueue<ExchangeCommit>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it may hold a password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// A `postgres://` URL's configuration, with our timeouts added. Any error
/// message names the problem, never the URL (it may hold a password).
pub fn connection_config(
    url: &str,
    options: &PostgresOptions,
) -> Result<postgres::Config, StoreError> {
    let mut config = postgres::Config::from_str(url)
        .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.timeout);
    }
    let statement_ms = options.timeout.as_millis().max(1);
    let mut server_options = config.get_options().unwrap_or_default().to_string();
    // Idle in a transaction: only a host that died mid-call leaves one.
    server_options.push_str(&format!(
        " -c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={}",
        statement_ms * 2
    ));
    config.options(server_options.trim());
    if config.get_application_name().is_none() {
        config.application_name("trustpub");
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    Ok(config)
}

impl PostgresStore {
    /// Connects, applies pending migrations (under an advisory lock, so
    /// several hosts may start at once) and sets up the pool.
    pub fn open(url: &str, options: &PostgresOptions) -> Result<Self, StoreError> {
        let config = connection_config(url, options)?;
        let mut client = config.connect(NoTls).map_err(|e| match map(e) {
            StoreError::Unavailable(m) | StoreError::Database(m) => {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {m}"))
            }
            other => other,
        })?;
        schema::migrate(&mut client)?;
        drop(client);
        let manager = Manager::new(config.clone());
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.timeout)
            // A connection the server closed (restart) is found here, not
            // by the request that would have used it.
            .test_on_check_out(true)
            .error_handler(Box::new(PoolErrorLog))
            .build_unchecked(manager);
        Ok(Self {
            pool: Some(pool),
            config,
            listener: std::sync::Mutex::new(None),
            commits: CommitQueue::default(),
        })
    }

    pub(in crate::store) fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        match &self.pool {
            Some(pool) => pool.get().map_err(errors::pool),
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // A `postgres::Client` closes its connection by blocking on a runtime
        // of its own, which panics on a thread that drives tokio — where the
        // last reference may go at shutdown (the audit log's task holds one),
        // and a panic in a drop there aborts the process. The connections
        // are closed on a thread of their own then.
        let pool = self.pool.take();
        let listener = self
            .listener
            .get_mut()
            .map_or_else(|p| p.into_inner().take(), Option::take);
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("trustpub-pg-close".into())
                .spawn(move || drop((pool, listener)));
        }
    }
}

/// r2d2 reports failed connection attempts here; they go to our log.
#[derive(Debug)]
struct PoolErrorLog;

impl r2d2::HandleError<postgres::Error> for PoolErrorLog {
    fn handle_error(&self, error: postgres::Error) {
        tracing::warn!(error = %error, "cannot open a PostgreSQL connection");
    }
}

fn load_policy(
    client: &mut impl postgres::GenericClient,
    id: u64,
) -> Result<Option<StoredPolicy>, StoreError> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    let sql = format!("{POLICY_COLUMNS} WHERE p.id = $1");
    Ok(query_policies(client, sql.as_str(), &[&id])?.pop())
}

/// Advisory lock of the background purge: one host of a cluster purges per
/// round, the others skip it.
const PURGE_LOCK: i64 = 0x7472_7573_7470_7570;

impl Store for PostgresStore {
    fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.simple_query("SELECT 1").map_err(map)?;
        Ok(())
    }

    fn create_user(&self, username: &str, now: u64) -> Result<User, StoreError> {
        let now_i = to_i64(now)?;
        let mut conn = self.conn()?;
        let inserted = conn
            .execute(
                "INSERT INTO users (username, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&username, &now_i],
            )
            .map_err(map)?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "user '{username}' already exists"
            )));
        }
        Ok(User {
            username: username.to_string(),
            created_at: now,
        })
    }

    fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .query("SELECT username, created_at FROM users ORDER BY id", &[])
            .map_err(map)?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    username: r.get(0),
                    created_at: u64_at(r, 1)?,
                })
            })
            .collect()
    }

    fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.conn()?;
        let row = conn
            .query_opt(
                "SELECT username, created_at FROM users WHERE lower(username) = lower($1)",
                &[&username],
            )
            .map_err(map)?;
        row.map(|r| {
            Ok(User {
                username: r.get(0),
                created_at: u64_at(&r, 1)?,
            })
        })
        .transpose()
    }

    fn create_policy(&self, policy: &NewPolicy, now: u64) -> Result<StoredPolicy, StoreError> {
        let scopes = scopes_json(&policy.scopes)?;
        let now_i = to_i64(now)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        let user = tx
            .query_opt(
                "SELECT id, username FROM users WHERE lower(username) = lower($1)",
                &[&policy.username],
            )
            .map_err(map)?;
        let Some(user) = user else {
            return Err(StoreError::NotFound(format!("user {}", policy.username)));
        };
        let (user_id, username): (i64, String) = (user.get(0), user.get(1));
        let id: i64 = tx
            .query_one(
                "INSERT INTO policies (user_id, provider, owner, criteria, scopes, created_at, renewed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                &[&user_id, &policy.provider, &policy.owner, &policy.criteria, &scopes, &now_i],
            )
            .map_err(map)?
            .get(0);
        insert_index_keys(&mut tx, &policy.provider, id, &policy.index_keys)?;
        tx.commit().map_err(map)?;
        Ok(StoredPolicy {
            id: u64::try_from(id)
                .map_err(|_| StoreError::Database(format!("unexpected policy id {id}")))?,
            username,
            provider: policy.provider.clone(),
            owner: policy.owner.clone(),
            criteria: policy.criteria.clone(),
            scopes: policy.scopes.clone(),
            pins: Vec::new(),
            created_at: now,
            renewed_at: now,
            last_used_at: None,
        })
    }

    fn get_policy(&self, id: u64) -> Result<Option<StoredPolicy>, StoreError> {
        let mut conn = self.conn()?;
        load_policy(&mut **conn, id)
    }

    fn list_policies(&self, username: Option<&str>) -> Result<Vec<StoredPolicy>, StoreError> {
        let mut conn = self.conn()?;
        match username {
            Some(u) => query_policies(
                &mut **conn,
                format!("{POLICY_COLUMNS} WHERE lower(u.username) = lower($1) ORDER BY p.id")
                    .as_str(),
                &[&u],
            ),
            None => query_policies(
                &mut **conn,
                format!("{POLICY_COLUMNS} ORDER BY p.id").as_str(),
                &[],
            ),
        }
    }

    fn policies_for(
        &self,
        username: &str,
        provider: &str,
    ) -> Result<Vec<StoredPolicy>, StoreError> {
        let mut conn = self.conn()?;
        query_policies(
            &mut **conn,
            format!(
                "{POLICY_COLUMNS} WHERE lower(u.username) = lower($1) AND p.provider = $2 ORDER BY p.id"
            )
            .as_str(),
            &[&username, &provider],
        )
    }

    fn candidates(
        &self,
        provider: &str,
        keys: &[String],
        username: Option<&str>,
    ) -> Result<Vec<StoredPolicy>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        // Every exchange asks: prepared once per connection.
        let candidates = conn.prepared(CANDIDATES.as_str()).map_err(map)?;
        query_policies(&mut **conn, &candidates, &[&provider, &keys, &username])
    }

    fn provider_criteria(&self, provider: &str) -> Result<Vec<(u64, String)>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .query(
                "SELECT id, criteria FROM policies WHERE provider = $1 ORDER BY id",
                &[&provider],
            )
            .map_err(map)?;
        rows.iter().map(|r| Ok((u64_at(r, 0)?, r.get(1)))).collect()
    }

    fn index_digest(&self, provider: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn()?;
        Ok(conn
            .query_opt(
                "SELECT digest FROM provider_index WHERE provider = $1",
                &[&provider],
            )
            .map_err(map)?
            .map(|r| r.get(0)))
    }

    fn reindex(
        &self,
        provider: &str,
        digest: &str,
        keys: &[(u64, Vec<String>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        for (id, policy_keys) in keys {
            let id = to_i64(*id)?;
            tx.execute(
                "DELETE FROM policy_index_keys WHERE policy_id = $1 AND provider = $2",
                &[&id, &provider],
            )
            .map_err(map)?;
            insert_index_keys(&mut tx, provider, id, policy_keys)?;
        }
        tx.execute(
            "INSERT INTO provider_index (provider, digest) VALUES ($1, $2) \
             ON CONFLICT (provider) DO UPDATE SET digest = excluded.digest",
            &[&provider, &digest],
        )
        .map_err(map)?;
        tx.commit().map_err(map)?;
        Ok(())
    }

    fn delete_policy(&self, id: u64, now: u64) -> Result<u64, StoreError> {
        let not_found = || StoreError::NotFound(format!("policy {id}"));
        let Ok(id_i) = i64::try_from(id) else {
            return Err(not_found());
        };
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        // Pins and index keys go with it (ON DELETE CASCADE).
        if tx
            .execute("DELETE FROM policies WHERE id = $1", &[&id_i])
            .map_err(map)?
            == 0
        {
            return Err(not_found());
        }
        let revoked = tx
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE policy_id = $1 AND revoked_at IS NULL",
                &[&id_i, &now],
            )
            .map_err(map)?;
        tx.commit().map_err(map)?;
        Ok(revoked)
    }

    fn renew_policy(&self, id: u64, now: u64) -> Result<StoredPolicy, StoreError> {
        let not_found = || StoreError::NotFound(format!("policy {id}"));
        let Ok(id_i) = i64::try_from(id) else {
            return Err(not_found());
        };
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        if tx
            .execute(
                "UPDATE policies SET renewed_at = $2 WHERE id = $1",
                &[&id_i, &now],
            )
            .map_err(map)?
            == 0
        {
            return Err(not_found());
        }
        let policy = load_policy(&mut tx, id)?.ok_or_else(not_found)?;
        tx.commit().map_err(map)?;
        Ok(policy)
    }

    fn commit_exchange(&self, x: ExchangeCommit) -> Result<(), StoreError> {
        // Exchanges arriving while a group is written go in the next group:
        // one call, one transaction, one WAL flush (commit.rs). The caller
        // answers 200 only after this returned Ok: committed.
        self.commits.commit(
            x,
            || self.conn(),
            |conn, batch| commit::write_exchanges(conn, batch),
        )
    }

    fn token_id_used(&self, issuer: &str, token_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        Ok(conn
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM used_token_ids WHERE issuer = $1 AND token_id = $2)",
                &[&issuer, &token_id],
            )
            .map_err(map)?
            .get(0))
    }

    fn purge_used_token_ids(&self, now: u64) -> Result<u64, StoreError> {
        // Past i64::MAX every stored time has passed.
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.purge_once("DELETE FROM used_token_ids WHERE keep_until < $1", now)
    }

    fn purge_audit(&self, before: u64) -> Result<u64, StoreError> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.purge_once("DELETE FROM audit_events WHERE at < $1", before)
    }

    fn find_key(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut conn = self.conn()?;
        let row = conn
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"),
                &[&hash],
            )
            .map_err(map)?;
        row.map(|r| key_row(&r)).transpose()
    }

    /// Counted in SQL, not by reading the whole audit log (the trait's
    /// default); sorted here as the default sorts, whatever the collation.
    fn audit_counts(&self, since: u64) -> Result<Vec<AuditCount>, StoreError> {
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = conn
            .query(
                "SELECT provider, outcome, check_name, COUNT(*) FROM audit_events WHERE at >= $1 \
                 GROUP BY provider, outcome, check_name",
                &[&since],
            )
            .map_err(map)?;
        let mut counts: Vec<AuditCount> = rows
            .iter()
            .filter_map(|r| {
                // Actions are not exchange attempts; an outcome of a newer
                // build sharing the database is skipped, not fatal.
                let outcome =
                    AuditOutcome::parse(r.get::<_, &str>(1)).filter(|o| !o.is_action())?;
                Some(AuditCount {
                    provider: r.get(0),
                    outcome,
                    check: r.get(2),
                    count: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                })
            })
            .collect();
        counts.sort_by(|a, b| {
            (&a.provider, a.outcome.as_str(), &a.check).cmp(&(
                &b.provider,
                b.outcome.as_str(),
                &b.check,
            ))
        });
        Ok(counts)
    }

    fn live_keys(&self, now: u64) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL AND expires_at > $1 \
                     ORDER BY created_at DESC, hash"
                ),
                &[&now],
            )
            .map_err(map)?;
        rows.iter().map(key_row).collect()
    }

    fn revoke_key(&self, hash: &str, now: u64) -> Result<bool, StoreError> {
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let changed = conn
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
                &[&hash, &now],
            )
            .map_err(map)?;
        Ok(changed > 0)
    }

    fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.record_audit_batch(std::slice::from_ref(event))
    }

    fn record_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // One statement for the batch: a flood of refused tokens is one
        // round trip per batch, not one per event.
        let mut columns = AuditColumns::default();
        for event in events {
            columns.push(AuditValues::of(event)?);
        }
        let mut conn = self.conn()?;
        let statement = conn.prepared(INSERT_AUDIT_COLUMNS).map_err(map)?;
        conn.execute(&statement, &columns.params()).map_err(map)?;
        Ok(())
    }

    fn list_audit_of(
        &self,
        username: Option<&str>,
        kind: AuditKind,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let actions: Vec<&str> = AuditOutcome::ALL
            .iter()
            .filter(|o| o.is_action())
            .map(|o| o.as_str())
            .collect();
        let kind_filter = match kind {
            AuditKind::Exchanges => "NOT (outcome = ANY($1))",
            AuditKind::Actions => "outcome = ANY($1)",
            AuditKind::All => "$1::TEXT[] IS NOT NULL",
        };
        let limit = i64::from(limit);
        let mut conn = self.conn()?;
        let rows = conn
            .query(
                &format!(
                    "{AUDIT_COLUMNS} WHERE {kind_filter} \
                     AND ($2::TEXT IS NULL OR lower(username) = lower($2)) ORDER BY id DESC LIMIT $3"
                ),
                &[&actions, &username, &limit],
            )
            .map_err(map)?;
        rows.iter().map(audit_row).collect()
    }

    fn shares_evaluators(&self) -> bool {
        true
    }

    fn publish_evaluator(
        &self,
        provider: &str,
        version: &StoredEvaluator,
        now: u64,
    ) -> Result<(), StoreError> {
        self.publish(provider, version, now)
    }

    fn active_evaluators(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.active()
    }

    fn evaluator_version(
        &self,
        provider: &str,
        digest: &str,
    ) -> Result<Option<StoredEvaluator>, StoreError> {
        self.version(provider, digest)
    }

    fn wait_for_evaluator_change(&self, timeout: Duration) -> Result<bool, StoreError> {
        self.wait(timeout)
    }
}

impl PostgresStore {
    /// Runs one purge statement if no other host is purging right now
    /// (transaction-level advisory lock); 0 when another host has it.
    fn purge_once(&self, sql: &str, bound: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(map)?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PURGE_LOCK])
            .map_err(map)?
            .get(0);
        if !locked {
            return Ok(0);
        }
        let purged = tx.execute(sql, &[&bound]).map_err(map)?;
        tx.commit().map_err(map)?;
        Ok(purged)
    }
}

fn insert_index_keys(
    tx: &mut postgres::Transaction<'_>,
    provider: &str,
    policy_id: i64,
    keys: &[String],
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO policy_index_keys (provider, key, policy_id) \
         SELECT $1, k, $3 FROM UNNEST($2::TEXT[]) AS k ON CONFLICT DO NOTHING",
        &[&provider, &keys, &policy_id],
    )
    .map_err(map)?;
    Ok(())
}

const KEY_COLUMNS: &str = "hash, username, owner, scopes, policy_id, provider, evaluator_digest, \
     created_at, expires_at, revoked_at";

fn key_row(r: &postgres::Row) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        hash: r.get(0),
        username: r.get(1),
        owner: r.get(2),
        scopes: scopes_at(r, 3)?,
        policy_id: u64_at(r, 4)?,
        provider: r.get(5),
        evaluator_digest: r.get(6),
        created_at: u64_at(r, 7)?,
        expires_at: u64_at(r, 8)?,
        revoked_at: opt_u64_at(r, 9)?,
    })
}

#[cfg(test)]
mod tests;
