//! How store values map to SQLite rows: integers, scopes, policies with
//! their pins. Shared by the engine (`sqlite.rs`) and the policy index.

use rusqlite::types::Type;
use rusqlite::{Connection, Row};

use super::{Scope, StoreError, StoredPolicy};

/// Every u64 is stored as an SQLite INTEGER (i64).
pub(super) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Database(format!("value {v} is too large to store")))
}

pub(super) fn opt_i64(v: Option<u64>) -> Result<Option<i64>, StoreError> {
    v.map(to_i64).transpose()
}

pub(super) fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

pub(super) fn get_opt_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}

pub(super) fn get_scopes(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<Scope>> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

pub(super) fn scopes_json(scopes: &[Scope]) -> Result<String, StoreError> {
    serde_json::to_string(scopes)
        .map_err(|e| StoreError::Database(format!("cannot encode scopes: {e}")))
}

/// A policy's columns with its pins, in one statement: one statement reads
/// one snapshot, so a lookup needs neither an explicit read transaction nor
/// a second query per policy (both showed in the exchange's profile). Pins
/// come as one JSON array of `[name, value]` pairs which [`policy_row`]
/// sorts by name: an `ORDER BY` inside the aggregate costs SQLite a
/// temporary b-tree for every policy read. Needs `p` and `u` in the query.
macro_rules! policy_fields {
    () => {
        "SELECT p.id, u.username, p.provider, p.owner, p.criteria, p.scopes, \
         p.created_at, p.renewed_at, p.last_used_at, \
         (SELECT json_group_array(json_array(name, value)) FROM policy_pins WHERE policy_id = p.id)"
    };
}
pub(super) const POLICY_FIELDS: &str = policy_fields!();
/// [`POLICY_FIELDS`] of every policy, to which a query adds its conditions.
pub(super) const POLICY_COLUMNS: &str = concat!(
    policy_fields!(),
    " FROM policies p JOIN users u ON u.id = p.user_id"
);

fn policy_row(row: &Row<'_>) -> rusqlite::Result<StoredPolicy> {
    Ok(StoredPolicy {
        id: get_u64(row, 0)?,
        username: row.get(1)?,
        provider: row.get(2)?,
        owner: row.get(3)?,
        criteria: row.get(4)?,
        scopes: get_scopes(row, 5)?,
        pins: get_pins(row, 9)?,
        created_at: get_u64(row, 6)?,
        renewed_at: get_u64(row, 7)?,
        last_used_at: get_opt_u64(row, 8)?,
    })
}

fn get_pins(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<(String, String)>> {
    let text: String = row.get(idx)?;
    let mut pins: Vec<(String, String)> = serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))?;
    // By name, as `ORDER BY name` would (binary collation is byte order).
    pins.sort_unstable();
    Ok(pins)
}

pub(super) fn load_pins(
    conn: &Connection,
    policy_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT name, value FROM policy_pins WHERE policy_id = ?1 ORDER BY name")?;
    let pins = stmt
        .query_map([policy_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    Ok(pins)
}

/// Runs a policy query (one built on [`POLICY_COLUMNS`]).
pub(super) fn query_policies(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredPolicy>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let policies = stmt
        .query_map(params, policy_row)?
        .collect::<rusqlite::Result<Vec<StoredPolicy>>>()?;
    Ok(policies)
}
