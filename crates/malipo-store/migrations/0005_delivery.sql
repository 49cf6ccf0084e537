-- malipo schema, version 5: merchant endpoints and per-endpoint deliveries.

-- Where payment changes are delivered. The secret is the Standard Webhooks signing key
-- (`whsec_…`): it must be readable to sign, so it is stored as is; protect the database file.
-- While a secret rotates, the previous one keeps signing until `previous_secret_until`.
CREATE TABLE endpoints (
    id                    TEXT    PRIMARY KEY,
    name                  TEXT    NOT NULL UNIQUE,
    url                   TEXT    NOT NULL,
    secret                TEXT    NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    -- Space-separated event types (`payment.succeeded payout.*`); empty: every payment, payout
    -- and refund event (not `event.suspicious`, which must be asked for by name).
    event_types           TEXT    NOT NULL DEFAULT '',
    enabled               INTEGER NOT NULL DEFAULT 1,
    allow_private         INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- One delivery row per endpoint per change (fan-out at enqueue): each endpoint has its own
-- retry state, and a dead endpoint never holds another's back. Rows queued before this version
-- (and ones queued when no endpoint existed) have no endpoint and are never sent.
ALTER TABLE deliveries ADD COLUMN endpoint_id TEXT;

-- A payment's deliveries to one endpoint go out in insertion (rowid) order: a pending one holds
-- the later ones of the same payment and endpoint back.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 0;
CREATE INDEX deliveries_order ON deliveries (endpoint_id, payment_id) WHERE status = 0;
