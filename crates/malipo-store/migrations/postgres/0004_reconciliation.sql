-- Reconciliation: how a payment was settled, the reconciler's schedule, and refunds' parents.

-- How the final state was learnt: from the provider's callback or webhook, or from the
-- reconciler asking the provider. NULL while pending.
ALTER TABLE payments ADD COLUMN settled_by TEXT CHECK (settled_by IN ('callback', 'query'));
-- The payment a refund or reversal gives money back from.
ALTER TABLE payments ADD COLUMN parent_id TEXT REFERENCES payments (id);
-- The reconciler's schedule lives on the payment row (see the SQLite migration for why).
ALTER TABLE payments ADD COLUMN next_check_at BIGINT;
ALTER TABLE payments ADD COLUMN check_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN check_note TEXT;
-- True when the provider's answer disagrees with the payment: left for a person.
ALTER TABLE payments ADD COLUMN check_held BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX payments_checks_due ON payments (next_check_at) WHERE state = 0 AND NOT check_held;
CREATE INDEX payments_parent ON payments (parent_id) WHERE parent_id IS NOT NULL;
