//! SQLite side of the policy index (migration 0004): the keys each policy
//! is stored under, and which evaluator computed them.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::rows::{POLICY_FIELDS, query_policies, to_i64};
use super::{StoreError, StoredPolicy};

pub(super) fn insert_keys(
    conn: &Connection,
    provider: &str,
    policy_id: i64,
    keys: &[String],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO policy_index_keys (provider, key, policy_id) VALUES (?1, ?2, ?3)",
    )?;
    for key in keys {
        stmt.execute(params![provider, key, policy_id])?;
    }
    Ok(())
}

pub(super) fn candidates(
    conn: &Connection,
    provider: &str,
    keys: &[String],
    username: Option<&str>,
) -> Result<Vec<StoredPolicy>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = candidates_sql(keys.len(), username.is_some());
    let mut values: Vec<&str> = vec![provider];
    values.extend(username);
    values.extend(keys.iter().map(String::as_str));
    // One statement: the policies and their pins from one snapshot.
    let mut policies = query_policies(conn, &sql, params_from_iter(values))?;
    // Oldest first, once each (a policy stored under two of the keys comes
    // twice).
    policies.sort_unstable_by_key(|p| p.id);
    policies.dedup_by_key(|p| p.id);
    Ok(policies)
}

/// The lookup's text for `keys` index keys, restricted to one user's
/// policies when `of_user`: `?1` provider, `?2` username (when given), then
/// the keys. Two texts rather than `?2 IS NULL OR …`, whose plan cannot know
/// whether a username is bound (the connections keep plans independent of
/// bound values: `stable_plans` in sqlite.rs).
///
/// From the index to the policies, with no ORDER BY: for one key SQLite then
/// reads three b-trees and builds no temporary one (an `IN (subquery)` or an
/// `ORDER BY` each cost one per lookup, visible in the exchange's profile);
/// [`candidates`] orders them and keeps one row per policy.
pub(super) fn candidates_sql(keys: usize, of_user: bool) -> String {
    let first_key = if of_user { 3 } else { 2 };
    let placeholders: Vec<String> = (0..keys).map(|i| format!("?{}", i + first_key)).collect();
    let user = if of_user { " AND u.username = ?2" } else { "" };
    format!(
        "{POLICY_FIELDS} FROM policy_index_keys k JOIN policies p ON p.id = k.policy_id \
         JOIN users u ON u.id = p.user_id WHERE k.provider = ?1 AND k.key IN ({}){user}",
        placeholders.join(", ")
    )
}

pub(super) fn provider_criteria(
    conn: &Connection,
    provider: &str,
) -> Result<Vec<(u64, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, criteria FROM policies WHERE provider = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([provider], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, c)| u64::try_from(id).ok().map(|id| (id, c)))
        .collect())
}

pub(super) fn index_digest(
    conn: &Connection,
    provider: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT digest FROM provider_index WHERE provider = ?1",
            [provider],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn reindex(
    conn: &Connection,
    provider: &str,
    digest: &str,
    keys: &[(u64, Vec<String>)],
) -> Result<(), StoreError> {
    let mut delete = conn
        .prepare_cached("DELETE FROM policy_index_keys WHERE policy_id = ?1 AND provider = ?2")?;
    for (id, policy_keys) in keys {
        let id = to_i64(*id)?;
        delete.execute(params![id, provider])?;
        insert_keys(conn, provider, id, policy_keys)?;
    }
    conn.execute(
        "INSERT INTO provider_index (provider, digest) VALUES (?1, ?2) \
         ON CONFLICT (provider) DO UPDATE SET digest = excluded.digest",
        params![provider, digest],
    )?;
    Ok(())
}
