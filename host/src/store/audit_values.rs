//! An audit record's column values, converted once for either engine.

use super::rows::{opt_i64, to_i64};
use super::{AuditEvent, StoreError};

/// An audit record's values in the column order of `audit_events` (at,
/// provider, username, outcome, detail, policy_id, evaluator_digest, subject,
/// client_addr, check_name, near_misses). Converting first means a value that
/// cannot be stored is refused before anything of its exchange is written;
/// each engine binds them in that order ([`audit_params`]).
pub(super) struct AuditValues<'a> {
    pub(super) event: &'a AuditEvent,
    pub(super) at: i64,
    pub(super) outcome: &'static str,
    pub(super) policy_id: Option<i64>,
    pub(super) near_misses: Option<String>,
}

impl<'a> AuditValues<'a> {
    pub(super) fn of(event: &'a AuditEvent) -> Result<Self, StoreError> {
        Ok(Self {
            event,
            at: to_i64(event.at)?,
            outcome: event.outcome.as_str(),
            policy_id: opt_i64(event.policy_id)?,
            near_misses: near_misses_json(event)?,
        })
    }
}

/// The values of an [`AuditValues`] as `[&$to_sql; 11]` in column order,
/// for SQLite's `ToSql`. PostgreSQL binds the same values as one array per
/// column (`postgres/audit_columns.rs`); the store suite reads every field
/// back on both engines.
macro_rules! audit_params {
    ($values:expr, $to_sql:ty) => {{
        let v = $values;
        let e = v.event;
        let params: [&$to_sql; 11] = [
            &v.at,
            &e.provider,
            &e.username,
            &v.outcome,
            &e.detail,
            &v.policy_id,
            &e.evaluator_digest,
            &e.subject,
            &e.client_addr,
            &e.check,
            &v.near_misses,
        ];
        params
    }};
}
pub(super) use audit_params;

/// The near misses as stored: JSON text, or NULL when there are none.
fn near_misses_json(e: &AuditEvent) -> Result<Option<String>, StoreError> {
    if e.near_misses.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&e.near_misses)
        .map(Some)
        .map_err(|e| StoreError::Database(format!("cannot encode near misses: {e}")))
}
