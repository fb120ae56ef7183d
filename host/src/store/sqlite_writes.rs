//! What the SQLite engine writes on the hot path: a group of exchanges in
//! one transaction (the group commit's writer, `group_commit.rs`), and
//! audit records.
//!
//! Each exchange is checked (token id unused, policy present, pins agree,
//! every value storable) before anything of it is written, so an exchange
//! that is refused leaves nothing in the group's transaction. That is what
//! lets the exchanges share one transaction without a savepoint each: a
//! savepoint copies every page its exchange touches to a sub-journal, a
//! temporary file once it outgrows memory, all inside the one writer that
//! every exchange waits for. Without them the server spends 6-31 % less
//! CPU per exchange under load, most when the disk is busy
//! (docs/BENCHMARKS.md).

use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};

use super::audit_values::{AuditValues, audit_params};
use super::rows::{load_pins, scopes_json, to_i64};
use super::{AuditEvent, ExchangeCommit, StoreError};

/// Writes a group of exchanges in one `BEGIN IMMEDIATE` transaction; the
/// results are final only once the commit returned. Should a write itself
/// fail (the disk, not a check), part of that exchange is in the
/// transaction: then nothing of the group is kept and every exchange of it
/// fails, as when the commit fails.
pub(super) fn write_exchanges(
    conn: &mut Connection,
    batch: &[ExchangeCommit],
) -> Vec<Result<(), StoreError>> {
    let failed = |e: &dyn std::fmt::Display| {
        batch
            .iter()
            .map(|_| Err(StoreError::Database(e.to_string())))
            .collect()
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed(&e),
    };
    let mut results = Vec::with_capacity(batch.len());
    for x in batch {
        match check(&tx, x) {
            Ok(checked) => {
                if let Err(e) = write(&tx, x, &checked) {
                    // Dropping `tx` rolls the whole group back.
                    return failed(&e);
                }
                results.push(Ok(()));
            }
            Err(refused) => results.push(Err(refused)),
        }
    }
    match tx.commit() {
        Ok(()) => results,
        // Nothing of the group was kept: what had succeeded fails now.
        Err(e) => results
            .into_iter()
            .map(|r| r.and(Err(StoreError::Database(e.to_string()))))
            .collect(),
    }
}

/// An exchange's values as stored, all converted before the first write.
struct Checked<'a> {
    policy_id: i64,
    keep_until: i64,
    /// The pins to write: the policy's first use with pins wanted.
    new_pins: Vec<(String, String)>,
    scopes: String,
    key_policy_id: i64,
    created_at: i64,
    expires_at: i64,
    audit: AuditValues<'a>,
}

/// Reads only: why the exchange is refused, in the order a client is told
/// (a replayed token before anything about its policy).
fn check<'a>(tx: &Connection, x: &'a ExchangeCommit) -> Result<Checked<'a>, StoreError> {
    let policy_id = i64::try_from(x.policy_id)
        .map_err(|_| StoreError::NotFound(format!("policy {}", x.policy_id)))?;
    let keep_until = to_i64(x.keep_token_id_until)?;
    let key = &x.key;
    let checked = Checked {
        policy_id,
        keep_until,
        new_pins: Vec::new(),
        scopes: scopes_json(&key.scopes)?,
        key_policy_id: to_i64(key.policy_id)?,
        created_at: to_i64(key.created_at)?,
        expires_at: to_i64(key.expires_at)?,
        audit: AuditValues::of(&x.audit)?,
    };

    // The group's transaction holds the write lock: no other writer can
    // record this token id between this read and the insert.
    let used = tx
        .prepare_cached("SELECT 1 FROM used_token_ids WHERE issuer = ?1 AND token_id = ?2")?
        .query_row(params![x.issuer, x.token_id], |_| Ok(()))
        .optional()?;
    if used.is_some() {
        return Err(StoreError::Replay);
    }
    let exists = tx
        .prepare_cached("SELECT 1 FROM policies WHERE id = ?1")?
        .query_row([policy_id], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("policy {}", x.policy_id)));
    }
    let mut wanted_pins = x.pins.clone();
    wanted_pins.sort();
    let mut new_pins = Vec::new();
    if !wanted_pins.is_empty() {
        let current = load_pins(tx, policy_id)?;
        if current.is_empty() {
            new_pins = wanted_pins;
        } else if current != wanted_pins {
            return Err(StoreError::PinConflict);
        }
    }
    Ok(Checked {
        new_pins,
        ..checked
    })
}

/// The exchange's writes, after [`check`] passed. Cached statements:
/// `execute` would parse each text again per exchange.
fn write(tx: &Connection, x: &ExchangeCommit, c: &Checked<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO used_token_ids (issuer, token_id, keep_until) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![x.issuer, x.token_id, c.keep_until])?;
    if !c.new_pins.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO policy_pins (policy_id, name, value) VALUES (?1, ?2, ?3)",
        )?;
        for (name, value) in &c.new_pins {
            stmt.execute(params![c.policy_id, name, value])?;
        }
    }
    // Unchanged within a second: the policy's page is then not written
    // again for every exchange of a group.
    tx.prepare_cached(
        "UPDATE policies SET last_used_at = ?2 WHERE id = ?1 AND last_used_at IS NOT ?2",
    )?
    .execute(params![c.policy_id, c.created_at])?;
    let key = &x.key;
    tx.prepare_cached(
        "INSERT INTO api_keys (hash, username, owner, scopes, policy_id, provider, evaluator_digest, created_at, \
         expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        key.hash,
        key.username,
        key.owner,
        c.scopes,
        c.key_policy_id,
        key.provider,
        key.evaluator_digest,
        c.created_at,
        c.expires_at,
    ])?;
    insert_audit_values(tx, &c.audit)
}

pub(super) fn insert_audit(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    insert_audit_values(conn, &AuditValues::of(e)?)
}

pub(super) fn insert_audit_values(
    conn: &Connection,
    values: &AuditValues<'_>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_events (at, provider, username, outcome, detail, policy_id, evaluator_digest, subject, \
         client_addr, check_name, near_misses) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(&audit_params!(values, dyn ToSql)[..])?;
    Ok(())
}
