-- malipo schema, version 1 (PostgreSQL): the same tables, columns and indexes as the SQLite
-- schema's version 1, in PostgreSQL's types. Times are milliseconds since the Unix epoch (UTC)
-- in BIGINT; statuses are the small integer codes of malipo_core's enums (BIGINT, so they bind
-- as the i64 the Rust code uses everywhere); ids are the typed ids' text (`evt_…`).
--
-- Ids are `COLLATE "C"`: listings page through them newest first, which is their byte order;
-- a database whose default collation is linguistic (en_US.UTF-8) must not reorder them, and
-- byte comparison is the cheapest besides.
--
-- SQLite's version 1 also kept per-status event counts with triggers, which its version 6
-- removed; they are never created here (version 6 is kept, empty, so versions match).

-- Inbound provider events. `seq` orders rows by insertion as SQLite's rowid does.
CREATE TABLE events (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT    COLLATE "C" NOT NULL UNIQUE,
    provider    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL,
    body        BYTEA   NOT NULL,
    received_at BIGINT  NOT NULL,
    source_ip   TEXT,
    status      BIGINT  NOT NULL,
    attempts    BIGINT  NOT NULL DEFAULT 0,
    last_error  TEXT,
    payment_id  TEXT,
    updated_at  BIGINT  NOT NULL
);
-- The dedup key: one event per provider and key, however many instances ingest it at once.
CREATE UNIQUE INDEX events_dedup ON events (provider, dedup_key);
-- Failed and rejected events are few and are what operators list; processed ones are not indexed.
CREATE INDEX events_attention ON events (status, id) WHERE status >= 2;
CREATE INDEX events_payment ON events (payment_id) WHERE payment_id IS NOT NULL;

-- The outbox: one row per queued processing job, deleted when done. A claim moves `run_at` to
-- the end of the lease, so "due" is simply run_at <= now and an expired lease is due again.
CREATE TABLE jobs (
    id          TEXT    COLLATE "C" PRIMARY KEY,
    event_id    TEXT    NOT NULL,
    kind        BIGINT  NOT NULL,
    run_at      BIGINT  NOT NULL,
    attempts    BIGINT  NOT NULL DEFAULT 0,
    lease_owner TEXT,
    last_error  TEXT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at);

CREATE TABLE payments (
    id                 TEXT    COLLATE "C" PRIMARY KEY,
    provider           TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    state              BIGINT  NOT NULL,
    amount_minor       BIGINT  NOT NULL,
    currency           TEXT    NOT NULL,
    msisdn             TEXT,
    email              TEXT,
    merchant_reference TEXT,
    provider_reference TEXT,
    description        TEXT,
    metadata           TEXT,
    receipt            TEXT,
    result_code        TEXT,
    result_desc        TEXT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);
-- Not partial (unlike SQLite's `WHERE provider_reference IS NOT NULL`): PostgreSQL's unique
-- indexes never treat NULLs as equal, so the two say the same, and a plain index is one
-- `ON CONFLICT (provider, provider_reference)` can name.
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, provider_reference);
CREATE INDEX payments_pending ON payments (created_at) WHERE state = 0;
CREATE INDEX payments_merchant_ref ON payments (merchant_reference)
    WHERE merchant_reference IS NOT NULL;

-- Outbound notifications to the merchant; one row per notification, its attempts counted on it.
-- `seq` is insertion order (SQLite's rowid), which a payment's deliveries to one endpoint
-- follow: ids made in the same millisecond do not sort by creation.
CREATE TABLE deliveries (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY,
    id              TEXT    COLLATE "C" PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    payload         BYTEA   NOT NULL,
    payment_id      TEXT,
    event_id        TEXT,
    status          BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_owner     TEXT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0;
CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 2;
CREATE INDEX deliveries_payment ON deliveries (payment_id) WHERE payment_id IS NOT NULL;
