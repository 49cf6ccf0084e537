-- Several provider accounts per deployment: the account a payment belongs to (NULL: the
-- section's own, "default"), and the account whose route an event came in on.
ALTER TABLE payments ADD COLUMN account TEXT;
ALTER TABLE events ADD COLUMN account TEXT;
-- The dashboard finds a payment by its receipt.
CREATE INDEX payments_receipt ON payments (receipt) WHERE receipt IS NOT NULL;
-- ...and by the last four digits of the payer's number (SQLite's substr(msisdn, -4)).
CREATE INDEX payments_phone_tail ON payments (right(msisdn, 4)) WHERE msisdn IS NOT NULL;
