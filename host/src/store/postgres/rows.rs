//! How store values map to PostgreSQL rows: BIGINT times and ids, JSON
//! scopes and near misses, policies with their pins.

use postgres::{GenericClient, Row, ToStatement};

use super::errors::map;
use crate::store::{AuditEvent, AuditNearMiss, AuditOutcome, Scope, StoreError, StoredPolicy};

pub(super) fn u64_at(row: &Row, idx: usize) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(idx).map_err(map)?;
    u64::try_from(v)
        .map_err(|_| StoreError::Database(format!("negative value {v} in column {idx}")))
}

pub(super) fn opt_u64_at(row: &Row, idx: usize) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = row.try_get(idx).map_err(map)?;
    v.map(|v| {
        u64::try_from(v)
            .map_err(|_| StoreError::Database(format!("negative value {v} in column {idx}")))
    })
    .transpose()
}

pub(super) fn scopes_at(row: &Row, idx: usize) -> Result<Vec<Scope>, StoreError> {
    let text: String = row.try_get(idx).map_err(map)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Database(format!("cannot decode scopes: {e}")))
}

/// A policy with its pins in one row: one statement, one round trip, where
/// a second query for the pins made every exchange's lookup two.
pub(super) const POLICY_COLUMNS: &str = "SELECT p.id, u.username, p.provider, p.owner, p.criteria, p.scopes, \
     p.created_at, p.renewed_at, p.last_used_at, pins.names, pins.pin_values \
     FROM policies p JOIN users u ON u.id = p.user_id \
     LEFT JOIN LATERAL (SELECT array_agg(name ORDER BY name) AS names, \
     array_agg(value ORDER BY name) AS pin_values \
     FROM policy_pins WHERE policy_id = p.id) pins ON true";

fn policy_row(row: &Row) -> Result<StoredPolicy, StoreError> {
    // No pins: the aggregates of no rows are NULL.
    let names: Option<Vec<String>> = row.try_get(9).map_err(map)?;
    let values: Option<Vec<String>> = row.try_get(10).map_err(map)?;
    Ok(StoredPolicy {
        id: u64_at(row, 0)?,
        username: row.try_get(1).map_err(map)?,
        provider: row.try_get(2).map_err(map)?,
        owner: row.try_get(3).map_err(map)?,
        criteria: row.try_get(4).map_err(map)?,
        scopes: scopes_at(row, 5)?,
        pins: names
            .unwrap_or_default()
            .into_iter()
            .zip(values.unwrap_or_default())
            .collect(),
        created_at: u64_at(row, 6)?,
        renewed_at: u64_at(row, 7)?,
        last_used_at: opt_u64_at(row, 8)?,
    })
}

/// Runs a query selecting [`POLICY_COLUMNS`] (as text or prepared).
pub(super) fn query_policies<Q>(
    client: &mut impl GenericClient,
    sql: &Q,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<StoredPolicy>, StoreError>
where
    Q: ToStatement + ?Sized,
{
    let rows = client.query(sql, params).map_err(map)?;
    rows.iter().map(policy_row).collect()
}

pub(super) const AUDIT_COLUMNS: &str = "SELECT at, provider, username, outcome, detail, policy_id, evaluator_digest, \
     subject, client_addr, check_name, near_misses FROM audit_events";

pub(super) fn audit_row(row: &Row) -> Result<AuditEvent, StoreError> {
    let outcome: String = row.try_get(3).map_err(map)?;
    let outcome = AuditOutcome::parse(&outcome)
        .ok_or_else(|| StoreError::Database(format!("unknown audit outcome '{outcome}'")))?;
    let near_misses: Option<String> = row.try_get(10).map_err(map)?;
    Ok(AuditEvent {
        at: u64_at(row, 0)?,
        provider: row.try_get(1).map_err(map)?,
        username: row.try_get(2).map_err(map)?,
        outcome,
        detail: row.try_get(4).map_err(map)?,
        policy_id: opt_u64_at(row, 5)?,
        evaluator_digest: row.try_get(6).map_err(map)?,
        subject: row.try_get(7).map_err(map)?,
        client_addr: row.try_get(8).map_err(map)?,
        check: row.try_get(9).map_err(map)?,
        near_misses: match near_misses {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Vec<AuditNearMiss>>(&text)
                .map_err(|e| StoreError::Database(format!("cannot decode near misses: {e}")))?,
        },
    })
}
