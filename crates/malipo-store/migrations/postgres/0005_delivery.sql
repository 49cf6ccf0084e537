-- malipo schema, version 5: merchant endpoints and per-endpoint deliveries.

-- Where payment changes are delivered. The secret is the Standard Webhooks signing key
-- (`whsec_…`): it must be readable to sign, so it is stored as is; protect the database.
CREATE TABLE endpoints (
    id                    TEXT    COLLATE "C" PRIMARY KEY,
    name                  TEXT    NOT NULL UNIQUE,
    url                   TEXT    NOT NULL,
    secret                TEXT    NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    -- Space-separated event types; empty: every payment, payout and refund event.
    event_types           TEXT    NOT NULL DEFAULT '',
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    allow_private         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);

-- One delivery row per endpoint per change (fan-out at enqueue).
ALTER TABLE deliveries ADD COLUMN endpoint_id TEXT;

-- A payment's deliveries to one endpoint go out in insertion (seq) order.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 0;
CREATE INDEX deliveries_order ON deliveries (endpoint_id, payment_id) WHERE status = 0;
