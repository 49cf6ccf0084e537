-- malipo schema, version 8: local copies of provider resources, and resumable syncs.

-- One row per provider resource (a Paystack customer, plan, subscription, transfer, dedicated
-- account), merged from verified webhooks and from `malipo paystack sync`. Times are Unix
-- milliseconds; `data` is the merged JSON object.
CREATE TABLE records (
    provider      TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    updated_at    INTEGER,
    source        TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, account, record_id)
) WITHOUT ROWID;

-- Listing a kind newest first without sorting the whole table.
CREATE INDEX records_recent ON records (provider, kind, last_seen_at DESC);

-- Where each sync of a kind got to: the page after the last one stored, written in the same
-- transaction as that page's records.
CREATE TABLE sync_checkpoints (
    provider   TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    since      TEXT    NOT NULL,
    next_page  INTEGER NOT NULL,
    synced     INTEGER NOT NULL,
    total      INTEGER,
    done       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, account, kind)
) WITHOUT ROWID;
