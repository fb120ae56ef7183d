//! The PostgreSQL engine's group commit writer: the exchanges that waited
//! while the previous group was written go to PostgreSQL in one call of
//! `trustpub_commit_exchanges` (migrations/0004_commit_exchanges.sql): one
//! round trip, one transaction, one WAL flush for the group.
//!
//! Without it, exchanges of one policy queued on its row lock, each holding
//! it through its own WAL flush, so one policy's exchanges went one flush
//! at a time, whatever PostgreSQL's own flush sharing could do
//! (docs/BENCHMARKS.md).

use postgres::types::ToSql;

use super::audit_columns::AuditColumns;
use super::errors::map;
use super::statements::CachedClient;
use crate::store::audit_values::AuditValues;
use crate::store::rows::{scopes_json, to_i64};
use crate::store::{ExchangeCommit, StoreError};

const COMMIT_EXCHANGES: &str = "SELECT trustpub_commit_exchanges($1, $2, $3, $4, $5, $6, $7, $8, \
     $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)";

/// Writes a group of exchanges in one transaction; each gets its own
/// outcome, final once the call returned (PostgreSQL answers after the
/// commit). An exchange whose values cannot be stored fails alone; should
/// the call fail, nothing of the group was written and every exchange sent
/// fails with that error.
pub(super) fn write_exchanges(
    conn: &mut CachedClient,
    batch: &[ExchangeCommit],
) -> Vec<Result<(), StoreError>> {
    let mut results: Vec<Result<(), StoreError>> = batch.iter().map(|_| Ok(())).collect();
    // Token ids in one order on every host: two groups holding some of the
    // same ids wait for each other in that order, never in a cycle.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|&a, &b| {
        (&batch[a].issuer, &batch[a].token_id).cmp(&(&batch[b].issuer, &batch[b].token_id))
    });
    let mut columns = Columns::default();
    let mut sent = Vec::with_capacity(batch.len());
    for i in order {
        match columns.push(&batch[i]) {
            Ok(()) => sent.push(i),
            Err(e) => results[i] = Err(e),
        }
    }
    if sent.is_empty() {
        return results;
    }
    let outcomes = conn
        .prepared(COMMIT_EXCHANGES)
        .and_then(|statement| conn.query_one(&statement, &columns.params()))
        .and_then(|row| row.try_get::<_, Vec<String>>(0))
        .map_err(map)
        .and_then(|outcomes| {
            if outcomes.len() == sent.len() {
                Ok(outcomes)
            } else {
                Err(StoreError::Database(format!(
                    "trustpub_commit_exchanges answered {} outcomes for {} exchanges",
                    outcomes.len(),
                    sent.len()
                )))
            }
        });
    match outcomes {
        Ok(outcomes) => {
            for (i, outcome) in sent.into_iter().zip(outcomes) {
                results[i] = outcome_of(&outcome, batch[i].policy_id);
            }
        }
        Err(e) => {
            for i in sent {
                results[i] = Err(e.for_another());
            }
        }
    }
    results
}

fn outcome_of(outcome: &str, policy_id: u64) -> Result<(), StoreError> {
    match outcome {
        "ok" => Ok(()),
        "replay" => Err(StoreError::Replay),
        "not-found" => Err(StoreError::NotFound(format!("policy {policy_id}"))),
        "pin-conflict" => Err(StoreError::PinConflict),
        other => Err(StoreError::Database(format!(
            "trustpub_commit_exchanges answered '{other}'"
        ))),
    }
}

/// The group as the function's parameters: one array per column.
#[derive(Default)]
struct Columns<'a> {
    issuer: Vec<&'a str>,
    token_id: Vec<&'a str>,
    keep_until: Vec<i64>,
    policy_id: Vec<i64>,
    pin_count: Vec<i32>,
    pin_names: Vec<&'a str>,
    pin_values: Vec<&'a str>,
    key_hash: Vec<&'a str>,
    key_username: Vec<&'a str>,
    key_owner: Vec<&'a str>,
    key_scopes: Vec<String>,
    key_policy_id: Vec<i64>,
    key_provider: Vec<&'a str>,
    key_digest: Vec<&'a str>,
    key_created_at: Vec<i64>,
    key_expires_at: Vec<i64>,
    audit: AuditColumns<'a>,
}

impl<'a> Columns<'a> {
    /// Adds `x`, or nothing if one of its values cannot be stored.
    fn push(&mut self, x: &'a ExchangeCommit) -> Result<(), StoreError> {
        let policy_id = i64::try_from(x.policy_id)
            .map_err(|_| StoreError::NotFound(format!("policy {}", x.policy_id)))?;
        let keep_until = to_i64(x.keep_token_id_until)?;
        let key = &x.key;
        let (scopes, key_policy_id) = (scopes_json(&key.scopes)?, to_i64(key.policy_id)?);
        let (created_at, expires_at) = (to_i64(key.created_at)?, to_i64(key.expires_at)?);
        let audit = AuditValues::of(&x.audit)?;
        let mut pins: Vec<&(String, String)> = x.pins.iter().collect();
        pins.sort();
        let pin_count =
            i32::try_from(pins.len()).map_err(|_| StoreError::Database("too many pins".into()))?;

        self.issuer.push(&x.issuer);
        self.token_id.push(&x.token_id);
        self.keep_until.push(keep_until);
        self.policy_id.push(policy_id);
        self.pin_count.push(pin_count);
        for (name, value) in pins {
            self.pin_names.push(name);
            self.pin_values.push(value);
        }
        self.key_hash.push(&key.hash);
        self.key_username.push(&key.username);
        self.key_owner.push(&key.owner);
        self.key_scopes.push(scopes);
        self.key_policy_id.push(key_policy_id);
        self.key_provider.push(&key.provider);
        self.key_digest.push(&key.evaluator_digest);
        self.key_created_at.push(created_at);
        self.key_expires_at.push(expires_at);
        self.audit.push(audit);
        Ok(())
    }

    /// In the function's parameter order.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let exchange: [&(dyn ToSql + Sync); 16] = [
            &self.issuer,
            &self.token_id,
            &self.keep_until,
            &self.policy_id,
            &self.pin_count,
            &self.pin_names,
            &self.pin_values,
            &self.key_hash,
            &self.key_username,
            &self.key_owner,
            &self.key_scopes,
            &self.key_policy_id,
            &self.key_provider,
            &self.key_digest,
            &self.key_created_at,
            &self.key_expires_at,
        ];
        exchange.into_iter().chain(self.audit.params()).collect()
    }
}
