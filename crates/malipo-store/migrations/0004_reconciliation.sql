-- Reconciliation: how a payment was settled, the reconciler's schedule, and refunds' parents.

-- How the final state was learnt: from the provider's callback or webhook, or from the
-- reconciler asking the provider (STK query, Paystack verify). NULL while pending, and for a
-- payment the provider refused at start (nothing was settled).
ALTER TABLE payments ADD COLUMN settled_by TEXT CHECK (settled_by IN ('callback', 'query'));
-- The payment a refund or reversal gives money back from.
ALTER TABLE payments ADD COLUMN parent_id TEXT REFERENCES payments (id);
-- The reconciler's schedule lives on the payment row itself rather than in a table of its own:
-- a payment has at most one pending check, the check ends exactly when the state leaves
-- pending (the same row, so no orphaned schedule and no join in the due query), and the
-- partial index below holds only payments that are still pending.
-- When the reconciler next asks the provider; NULL until it first sees the payment.
ALTER TABLE payments ADD COLUMN next_check_at INTEGER;
-- How many times the provider was asked.
ALTER TABLE payments ADD COLUMN check_attempts INTEGER NOT NULL DEFAULT 0;
-- What the last question brought (the provider's answer, or why the payment is held).
ALTER TABLE payments ADD COLUMN check_note TEXT;
-- 1 when the provider's answer disagrees with the payment (amount, currency): the reconciler
-- stops asking and leaves it for a person.
ALTER TABLE payments ADD COLUMN check_held INTEGER NOT NULL DEFAULT 0;

CREATE INDEX payments_checks_due ON payments (next_check_at) WHERE state = 0 AND check_held = 0;
CREATE INDEX payments_parent ON payments (parent_id) WHERE parent_id IS NOT NULL;
