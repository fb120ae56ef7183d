-- Initial schema. Times are unix seconds. Applied once, in a transaction,
-- tracked by PRAGMA user_version (this file is version 1).

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    username   TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

-- AUTOINCREMENT: a deleted policy's id is never handed out again, so a
-- revoked key's policy_id never points at an unrelated newer policy.
CREATE TABLE policies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    provider     TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    criteria     TEXT    NOT NULL,
    -- JSON array of {"packages": ..., "actions": [...]}; empty: everything.
    scopes       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    renewed_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX policies_user_provider ON policies (user_id, provider, id);

CREATE TABLE policy_pins (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (policy_id, name)
);

-- policy_id is deliberately not a foreign key: keys outlive their deleted
-- policy as revoked records.
CREATE TABLE api_keys (
    hash             TEXT    PRIMARY KEY,
    username         TEXT    NOT NULL COLLATE NOCASE,
    owner            TEXT    NOT NULL,
    scopes           TEXT    NOT NULL,
    policy_id        INTEGER NOT NULL,
    provider         TEXT    NOT NULL,
    evaluator_digest TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    revoked_at       INTEGER
);
CREATE INDEX api_keys_policy ON api_keys (policy_id);

CREATE TABLE used_token_ids (
    issuer     TEXT    NOT NULL,
    token_id   TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, token_id)
);
CREATE INDEX used_token_ids_expiry ON used_token_ids (expires_at);

-- For a later feature (evaluator versions per provider).
CREATE TABLE evaluators (
    provider     TEXT    NOT NULL,
    digest       TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0,
    activated_at INTEGER,
    PRIMARY KEY (provider, digest)
);

CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    provider         TEXT,
    username         TEXT    NOT NULL COLLATE NOCASE,
    outcome          TEXT    NOT NULL,
    detail           TEXT,
    policy_id        INTEGER,
    evaluator_digest TEXT,
    subject          TEXT,
    client_addr      TEXT
);
CREATE INDEX audit_events_user ON audit_events (username, id);
