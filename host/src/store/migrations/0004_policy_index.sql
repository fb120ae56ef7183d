-- Contract 0.2: a token meets only the policies stored under one of its
-- index keys, so finding candidates costs the same at 10 or 10 million
-- policies, and an exchange needs no username.
CREATE TABLE policy_index_keys (
    provider  TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    PRIMARY KEY (provider, key, policy_id)
) WITHOUT ROWID;
CREATE INDEX policy_index_keys_policy ON policy_index_keys (policy_id);

-- Which evaluator (component digest) computed a provider's index keys: a
-- provider whose active evaluator differs is indexed again.
CREATE TABLE provider_index (
    provider TEXT PRIMARY KEY,
    digest   TEXT NOT NULL
);

-- Why a token was refused (the evaluator's check name) and, for an
-- unauthorized attempt, why each candidate policy did not match (JSON list
-- of {"policy_id", "reason"}); for operators and the policies' owners only.
ALTER TABLE audit_events ADD COLUMN check_name TEXT;
ALTER TABLE audit_events ADD COLUMN near_misses TEXT;
