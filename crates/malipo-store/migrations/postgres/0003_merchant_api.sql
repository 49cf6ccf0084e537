-- The merchant API: API keys (only their SHA-256 digest) and Idempotency-Key records.

CREATE TABLE api_keys (
    id          TEXT    COLLATE "C" PRIMARY KEY,          -- key_…
    name        TEXT,
    environment TEXT    NOT NULL,             -- test | live
    prefix      TEXT    NOT NULL,             -- the first characters, safe to show
    key_hash    BYTEA   NOT NULL,             -- SHA-256 of the key
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);

CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,            -- the API key id: keys of two API keys never collide
    key          TEXT    NOT NULL,            -- the Idempotency-Key header
    request_hash BYTEA   NOT NULL,            -- SHA-256 of method, path and canonical body
    status       BIGINT,                      -- NULL while the first request runs
    body         BYTEA,
    created_at   BIGINT  NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
