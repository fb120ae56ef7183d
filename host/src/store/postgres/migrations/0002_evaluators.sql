-- Evaluators distributed through the database: every version activated on
-- any host, by digest, and which one each provider runs. A change is
-- announced on channel `trustpub_evaluators`; hosts also compare
-- periodically, so a missed notification heals.
CREATE TABLE evaluator_versions (
    provider  TEXT   NOT NULL,
    digest    TEXT   NOT NULL,
    component BYTEA  NOT NULL,
    -- The detached signature (base64 text, as a file beside the component).
    signature BYTEA,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (provider, digest)
);

CREATE TABLE active_evaluators (
    provider     TEXT   PRIMARY KEY,
    digest       TEXT   NOT NULL,
    activated_at BIGINT NOT NULL,
    FOREIGN KEY (provider, digest) REFERENCES evaluator_versions (provider, digest)
);
