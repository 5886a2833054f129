-- Idempotency keys are scoped per caller (and target), and remember what
-- they were first used for: an HMAC (host key) of the request, so that the
-- same key sent with a different request is refused instead of replaying
-- the first operation. Rows from before carry no digest and replay as
-- they did.

ALTER TABLE operations ADD COLUMN request_digest TEXT;

DROP INDEX operations_idempotency;
CREATE UNIQUE INDEX operations_idempotency ON operations (target, submitted_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
