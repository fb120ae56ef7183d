//! Audit records as one array per column: a batch of them goes to
//! PostgreSQL as the parameters of one statement (`unnest` on the server)
//! instead of one statement each.

use postgres::types::ToSql;

use crate::store::audit_values::AuditValues;

/// The columns of `audit_events`, in its order (at, provider, username,
/// outcome, detail, policy_id, evaluator_digest, subject, client_addr,
/// check_name, near_misses), record `i` at index `i` of each.
#[derive(Default)]
pub(super) struct AuditColumns<'a> {
    at: Vec<i64>,
    provider: Vec<Option<&'a str>>,
    username: Vec<&'a str>,
    outcome: Vec<&'static str>,
    detail: Vec<Option<&'a str>>,
    policy_id: Vec<Option<i64>>,
    digest: Vec<Option<&'a str>>,
    subject: Vec<Option<&'a str>>,
    client_addr: Vec<Option<&'a str>>,
    check: Vec<Option<&'a str>>,
    near_misses: Vec<Option<String>>,
}

/// Inserts the records of an [`AuditColumns`] (its 11 parameters).
pub(super) const INSERT_AUDIT_COLUMNS: &str = "INSERT INTO audit_events (at, provider, username, \
     outcome, detail, policy_id, evaluator_digest, subject, client_addr, check_name, near_misses) \
     SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], \
     $6::BIGINT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[])";

impl<'a> AuditColumns<'a> {
    pub(super) fn push(&mut self, values: AuditValues<'a>) {
        let e = values.event;
        self.at.push(values.at);
        self.provider.push(e.provider.as_deref());
        self.username.push(&e.username);
        self.outcome.push(values.outcome);
        self.detail.push(e.detail.as_deref());
        self.policy_id.push(values.policy_id);
        self.digest.push(e.evaluator_digest.as_deref());
        self.subject.push(e.subject.as_deref());
        self.client_addr.push(e.client_addr.as_deref());
        self.check.push(e.check.as_deref());
        self.near_misses.push(values.near_misses);
    }

    /// In column order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.at,
            &self.provider,
            &self.username,
            &self.outcome,
            &self.detail,
            &self.policy_id,
            &self.digest,
            &self.subject,
            &self.client_addr,
            &self.check,
            &self.near_misses,
        ]
    }
}
