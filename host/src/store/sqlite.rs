//! The embedded engine: one SQLite file in WAL mode.
//!
//! One writing connection behind a mutex: SQLite serializes writers anyway,
//! and every call here is short. Beside it, a read-only connection for the
//! exchanges' candidate lookups, and one on a thread of its own that copies
//! the log into the database (`sqlite_checkpoints.rs`). Writes that must be
//! atomic run in `BEGIN IMMEDIATE` transactions, so another process sharing
//! the file waits (busy timeout) instead of failing half-way.
//! `synchronous = FULL` makes a commit durable before the call returns.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::group_commit::CommitQueue;

use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::policy_index;
use super::rows::{
    POLICY_COLUMNS, get_opt_u64, get_scopes, get_u64, query_policies, scopes_json, to_i64,
};
use super::sqlite_checkpoints::{self, WRITER_CHECKPOINT_PAGES};
use super::sqlite_writes::{insert_audit, write_exchanges};
use super::{
    ApiKeyRecord, AuditCount, AuditEvent, AuditKind, AuditNearMiss, AuditOutcome, ExchangeCommit,
    NewPolicy, Store, StoreError, StoredPolicy, User,
};

/// Schema migrations, in order; `PRAGMA user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_audit_retention.sql"),
    include_str!("migrations/0003_token_id_retention.sql"),
    include_str!("migrations/0004_policy_index.sql"),
];

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The exchanges' candidate lookups read on a connection of their own:
    /// in WAL mode they see every committed write and need not wait while
    /// the writer holds `conn` through a commit's sync to disk. `None` for
    /// an in-memory database, which a second connection would not share.
    reader: Option<Mutex<Connection>>,
    commits: CommitQueue<ExchangeCommit>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, sets it up and
    /// applies pending migrations. The directory must exist.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        if let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            return Err(StoreError::Database(format!(
                "cannot open '{path}': directory '{}' does not exist",
                dir.display()
            )));
        }
        // No SQLITE_OPEN_URI: the argument is a file path.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Database(format!("cannot open '{path}': {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && path != ":memory:" {
            return Err(StoreError::Database(format!(
                "cannot open '{path}': WAL journal mode unavailable (got '{mode}')"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        stable_plans(&conn)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        let reader = if path == ":memory:" {
            None
        } else {
            let reader = Connection::open_with_flags(path, flags)
                .map_err(|e| StoreError::Database(format!("cannot open '{path}': {e}")))?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            reader.pragma_update(None, "query_only", "ON")?;
            stable_plans(&reader)?;
            Some(Mutex::new(reader))
        };
        if reader.is_some() {
            sqlite_checkpoints::start(path, flags, &mut conn)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            reader,
            commits: CommitQueue::default(),
        })
    }

    pub(super) fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Database("store connection lock poisoned".to_string()))
    }

    /// The read-only connection (the main one for an in-memory database).
    fn reader(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        match &self.reader {
            Some(reader) => reader
                .lock()
                .map_err(|_| StoreError::Database("store reader lock poisoned".to_string())),
            None => self.conn(),
        }
    }
}

/// Plans independent of bound values (SQLite's query planner stability
/// guarantee): otherwise a cached statement whose plan looked at a parameter
/// is prepared again whenever that parameter changes — every exchange.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
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
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Database(format!("migration {}: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", to_i64(i as u64 + 1)?)?;
    }
    tx.commit()?;
    Ok(())
}

fn load_policy(conn: &Connection, id: u64) -> Result<Option<StoredPolicy>, StoreError> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    let sql = format!("{POLICY_COLUMNS} WHERE p.id = ?1");
    Ok(query_policies(conn, &sql, [id])?.pop())
}

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let outcome: String = row.get(3)?;
    let outcome = AuditOutcome::parse(&outcome).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            Type::Text,
            format!("unknown audit outcome '{outcome}'").into(),
        )
    })?;
    Ok(AuditEvent {
        at: get_u64(row, 0)?,
        provider: row.get(1)?,
        username: row.get(2)?,
        outcome,
        detail: row.get(4)?,
        policy_id: get_opt_u64(row, 5)?,
        evaluator_digest: row.get(6)?,
        subject: row.get(7)?,
        client_addr: row.get(8)?,
        check: row.get(9)?,
        near_misses: match row.get::<_, Option<String>>(10)? {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Vec<AuditNearMiss>>(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(10, Type::Text, Box::new(e))
            })?,
        },
    })
}

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    fn create_user(&self, username: &str, now: u64) -> Result<User, StoreError> {
        let conn = self.conn()?;
        let inserted = conn.execute(
            "INSERT INTO users (username, created_at) VALUES (?1, ?2) ON CONFLICT (username) DO NOTHING",
            params![username, to_i64(now)?],
        )?;
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
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT username, created_at FROM users ORDER BY id")?;
        let users = stmt
            .query_map([], |r| {
                Ok(User {
                    username: r.get(0)?,
                    created_at: get_u64(r, 1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<User>>>()?;
        Ok(users)
    }

    fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn()?;
        let user = conn
            .query_row(
                "SELECT username, created_at FROM users WHERE username = ?1",
                [username],
                |r| {
                    Ok(User {
                        username: r.get(0)?,
                        created_at: get_u64(r, 1)?,
                    })
                },
            )
            .optional()?;
        Ok(user)
    }

    fn create_policy(&self, policy: &NewPolicy, now: u64) -> Result<StoredPolicy, StoreError> {
        let scopes = scopes_json(&policy.scopes)?;
        let now_i = to_i64(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, username FROM users WHERE username = ?1",
                [&policy.username],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((user_id, username)) = user else {
            return Err(StoreError::NotFound(format!("user {}", policy.username)));
        };
        tx.execute(
            "INSERT INTO policies (user_id, provider, owner, criteria, scopes, created_at, renewed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![user_id, policy.provider, policy.owner, policy.criteria, scopes, now_i],
        )?;
        let id = tx.last_insert_rowid();
        policy_index::insert_keys(&tx, &policy.provider, id, &policy.index_keys)?;
        tx.commit()?;
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
        let conn = self.conn()?;
        load_policy(&conn, id)
    }

    fn list_policies(&self, username: Option<&str>) -> Result<Vec<StoredPolicy>, StoreError> {
        let conn = self.conn()?;
        match username {
            Some(u) => query_policies(
                &conn,
                &format!("{POLICY_COLUMNS} WHERE u.username = ?1 ORDER BY p.id"),
                [u],
            ),
            None => query_policies(&conn, &format!("{POLICY_COLUMNS} ORDER BY p.id"), []),
        }
    }

    fn policies_for(
        &self,
        username: &str,
        provider: &str,
    ) -> Result<Vec<StoredPolicy>, StoreError> {
        let conn = self.conn()?;
        query_policies(
            &conn,
            &format!("{POLICY_COLUMNS} WHERE u.username = ?1 AND p.provider = ?2 ORDER BY p.id"),
            [username, provider],
        )
    }

    fn candidates(
        &self,
        provider: &str,
        keys: &[String],
        username: Option<&str>,
    ) -> Result<Vec<StoredPolicy>, StoreError> {
        let conn = self.reader()?;
        policy_index::candidates(&conn, provider, keys, username)
    }

    fn provider_criteria(&self, provider: &str) -> Result<Vec<(u64, String)>, StoreError> {
        let conn = self.conn()?;
        policy_index::provider_criteria(&conn, provider)
    }

    fn index_digest(&self, provider: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        policy_index::index_digest(&conn, provider)
    }

    fn reindex(
        &self,
        provider: &str,
        digest: &str,
        keys: &[(u64, Vec<String>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        policy_index::reindex(&tx, provider, digest, keys)?;
        tx.commit()?;
        Ok(())
    }

    fn delete_policy(&self, id: u64, now: u64) -> Result<u64, StoreError> {
        let not_found = || StoreError::NotFound(format!("policy {id}"));
        let Ok(id_i) = i64::try_from(id) else {
            return Err(not_found());
        };
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM policy_pins WHERE policy_id = ?1", [id_i])?;
        if tx.execute("DELETE FROM policies WHERE id = ?1", [id_i])? == 0 {
            return Err(not_found());
        }
        let revoked = tx.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE policy_id = ?1 AND revoked_at IS NULL",
            [id_i, now],
        )?;
        tx.commit()?;
        Ok(revoked as u64)
    }

    fn renew_policy(&self, id: u64, now: u64) -> Result<StoredPolicy, StoreError> {
        let not_found = || StoreError::NotFound(format!("policy {id}"));
        let Ok(id_i) = i64::try_from(id) else {
            return Err(not_found());
        };
        let now = to_i64(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if tx.execute(
            "UPDATE policies SET renewed_at = ?2 WHERE id = ?1",
            [id_i, now],
        )? == 0
        {
            return Err(not_found());
        }
        let policy = load_policy(&tx, id)?.ok_or_else(not_found)?;
        tx.commit()?;
        Ok(policy)
    }

    /// Concurrent commits share one transaction and one sync to disk
    /// (`group_commit.rs`); each exchange is checked before anything of it
    /// is written, so a replay or pin conflict leaves nothing of its own
    /// (`sqlite_writes.rs`).
    fn commit_exchange(&self, x: ExchangeCommit) -> Result<(), StoreError> {
        self.commits.commit(
            x,
            || self.conn(),
            |conn, batch| write_exchanges(conn, batch),
        )
    }

    fn token_id_used(&self, issuer: &str, token_id: &str) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        let used = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM used_token_ids WHERE issuer = ?1 AND token_id = ?2)",
            [issuer, token_id],
            |r| r.get(0),
        )?;
        Ok(used)
    }

    fn purge_used_token_ids(&self, now: u64) -> Result<u64, StoreError> {
        // Past i64::MAX every stored time has passed.
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let conn = self.conn()?;
        let purged = conn.execute("DELETE FROM used_token_ids WHERE keep_until < ?1", [now])?;
        Ok(purged as u64)
    }

    fn purge_audit(&self, before: u64) -> Result<u64, StoreError> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let conn = self.conn()?;
        let purged = conn.execute("DELETE FROM audit_events WHERE at < ?1", [before])?;
        Ok(purged as u64)
    }

    fn find_key(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let conn = self.conn()?;
        let key = conn
            .query_row(
                "SELECT hash, username, owner, scopes, policy_id, provider, evaluator_digest, created_at, expires_at, \
                 revoked_at FROM api_keys WHERE hash = ?1",
                [hash],
                key_row,
            )
            .optional()?;
        Ok(key)
    }

    fn revoke_key(&self, hash: &str, now: u64) -> Result<bool, StoreError> {
        let now = to_i64(now)?;
        let conn = self.conn()?;
        let changed = conn.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
            params![hash, now],
        )?;
        Ok(changed > 0)
    }

    fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let conn = self.conn()?;
        insert_audit(&conn, event)
    }

    fn record_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for event in events {
            insert_audit(&tx, event)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn list_audit_of(
        &self,
        username: Option<&str>,
        kind: AuditKind,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        const COLUMNS: &str = "SELECT at, provider, username, outcome, detail, policy_id, evaluator_digest, subject, client_addr, \
             check_name, near_misses FROM audit_events";
        // The outcome names are our own constants, never client input.
        let actions: Vec<String> = AuditOutcome::ALL
            .iter()
            .filter(|o| o.is_action())
            .map(|o| format!("'{}'", o.as_str()))
            .collect();
        let kind_filter = match kind {
            AuditKind::Exchanges => format!("outcome NOT IN ({})", actions.join(",")),
            AuditKind::Actions => format!("outcome IN ({})", actions.join(",")),
            AuditKind::All => "1".to_string(),
        };
        let conn = self.conn()?;
        let limit = i64::from(limit);
        let events = match username {
            Some(u) => conn
                .prepare_cached(&format!(
                    "{COLUMNS} WHERE username = ?1 AND {kind_filter} ORDER BY id DESC LIMIT ?2"
                ))?
                .query_map(params![u, limit], audit_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => conn
                .prepare_cached(&format!(
                    "{COLUMNS} WHERE {kind_filter} ORDER BY id DESC LIMIT ?1"
                ))?
                .query_map([limit], audit_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(events)
    }

    fn audit_counts(&self, since: u64) -> Result<Vec<AuditCount>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT provider, outcome, check_name, COUNT(*) FROM audit_events WHERE at >= ?1 \
             GROUP BY provider, outcome, check_name ORDER BY provider, outcome, check_name",
        )?;
        let rows = stmt
            .query_map([to_i64(since)?], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    get_u64(r, 3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Operator actions are not exchange attempts; unknown outcomes
        // (from a newer build sharing the file) are skipped, not fatal.
        Ok(rows
            .into_iter()
            .filter_map(|(provider, outcome, check, count)| {
                let outcome = AuditOutcome::parse(&outcome).filter(|o| !o.is_action())?;
                Some(AuditCount {
                    provider,
                    outcome,
                    check,
                    count,
                })
            })
            .collect())
    }

    fn live_keys(&self, now: u64) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT hash, username, owner, scopes, policy_id, provider, evaluator_digest, created_at, expires_at, \
             revoked_at FROM api_keys WHERE revoked_at IS NULL AND expires_at > ?1 ORDER BY created_at DESC, hash",
        )?;
        let keys = stmt
            .query_map([to_i64(now)?], key_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(keys)
    }
}

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        hash: r.get(0)?,
        username: r.get(1)?,
        owner: r.get(2)?,
        scopes: get_scopes(r, 3)?,
        policy_id: get_u64(r, 4)?,
        provider: r.get(5)?,
        evaluator_digest: r.get(6)?,
        created_at: get_u64(r, 7)?,
        expires_at: get_u64(r, 8)?,
        revoked_at: get_opt_u64(r, 9)?,
    })
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
