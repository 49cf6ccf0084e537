-- malipo schema, version 8: local copies of provider resources, and resumable syncs.

-- One row per provider resource (a Paystack customer, plan, subscription, transfer, dedicated
-- account), merged from verified webhooks and from `malipo paystack sync`. Times are Unix
-- milliseconds; `data` is the merged JSON object (jsonb, whose `||` is the key-by-key merge).
CREATE TABLE records (
    provider      TEXT   NOT NULL,
    account       TEXT   NOT NULL,
    kind          TEXT   NOT NULL,
    record_id     TEXT   NOT NULL,
    data          JSONB  NOT NULL,
    updated_at    BIGINT,
    source        TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, kind, account, record_id)
);

CREATE INDEX records_recent ON records (provider, kind, last_seen_at DESC);

CREATE TABLE sync_checkpoints (
    provider   TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    since      TEXT    NOT NULL,
    next_page  BIGINT  NOT NULL,
    synced     BIGINT  NOT NULL,
    total      BIGINT,
    done       BOOLEAN NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, account, kind)
);
