-- Settlement: what a callback is compared with before it may move a payment.

-- The provider's second id of the request (MerchantRequestID of an STK push,
-- OriginatorConversationID of a B2C payment, transfer_code of a Paystack transfer), checked
-- against every callback together with provider_reference.
ALTER TABLE payments ADD COLUMN provider_request_id TEXT;
-- How much of the payment went back to the payer, in its minor units: a refund smaller than
-- what remains leaves it partially refunded.
ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
-- (SQLite's version 2 also added a count row for suspicious events; no counts are kept here.)
