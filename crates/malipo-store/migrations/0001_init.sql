-- malipo schema, version 1.
-- Times are milliseconds since the Unix epoch (UTC); statuses are the small integer codes of
-- malipo_core's enums; ids are the typed ids' text (`evt_…`), time-sortable.

-- Inbound provider events. `seq` keeps the body-carrying rows in a rowid b-tree (appends);
-- the text id and the dedup key get their own unique indexes.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    provider    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    source_ip   TEXT,
    status      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    payment_id  TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_dedup ON events (provider, dedup_key);
-- Failed and rejected events are few and are what operators list; processed ones are not indexed.
CREATE INDEX events_attention ON events (status, id) WHERE status >= 2;
CREATE INDEX events_payment ON events (payment_id) WHERE payment_id IS NOT NULL;

-- Event counts by status, kept by triggers so /metrics never counts the table.
CREATE TABLE event_counts (
    status INTEGER PRIMARY KEY,
    n      INTEGER NOT NULL
);
INSERT INTO event_counts (status, n) VALUES (0, 0), (1, 0), (2, 0), (3, 0);
CREATE TRIGGER events_count_insert AFTER INSERT ON events BEGIN
    UPDATE event_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER events_count_update AFTER UPDATE OF status ON events
WHEN OLD.status <> NEW.status BEGIN
    UPDATE event_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE event_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER events_count_delete AFTER DELETE ON events BEGIN
    UPDATE event_counts SET n = n - 1 WHERE status = OLD.status;
END;

-- The outbox: one row per queued processing job, deleted when done. A claim moves `run_at` to
-- the end of the lease, so "due" is simply run_at <= now and an expired lease is due again.
CREATE TABLE jobs (
    id          TEXT    PRIMARY KEY,
    event_id    TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    run_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    last_error  TEXT,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX jobs_due ON jobs (run_at);
-- A received event's first job is written by the very statement that writes the event, so the
-- pair is atomic on its own (no savepoint per request in a group commit). The job id reuses the
-- event id's time and random bits under the job prefix.
CREATE TRIGGER events_enqueue AFTER INSERT ON events WHEN NEW.status = 0 BEGIN
    INSERT INTO jobs (id, event_id, kind, run_at, attempts, created_at)
    VALUES ('job_' || substr(NEW.id, 5), NEW.id, 0, NEW.received_at, 0, NEW.received_at);
END;

CREATE TABLE payments (
    id                 TEXT    PRIMARY KEY,
    provider           TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    state              INTEGER NOT NULL,
    amount_minor       INTEGER NOT NULL,
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
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, provider_reference)
    WHERE provider_reference IS NOT NULL;
CREATE INDEX payments_pending ON payments (created_at) WHERE state = 0;
CREATE INDEX payments_merchant_ref ON payments (merchant_reference)
    WHERE merchant_reference IS NOT NULL;

-- Outbound notifications to the merchant; one row per notification, its attempts counted on it.
CREATE TABLE deliveries (
    id              TEXT    PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    payment_id      TEXT,
    event_id        TEXT,
    status          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0;
CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 2;
CREATE INDEX deliveries_payment ON deliveries (payment_id) WHERE payment_id IS NOT NULL;
