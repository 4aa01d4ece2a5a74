-- The worker takes due rows oldest first, `ORDER BY next_attempt_at, id`, a
-- batch at a time. With `id` missing from the index, PostgreSQL read every
-- due row and sorted them to keep one batch: under a backlog of 2,500 a
-- claim read all 2,500, and each batch cost more than the last. With it,
-- the index gives the order and the scan stops at the batch.
CREATE INDEX outbox_due_in_order ON outbox (status, next_attempt_at, id);
DROP INDEX outbox_due;
ALTER INDEX outbox_due_in_order RENAME TO outbox_due;
