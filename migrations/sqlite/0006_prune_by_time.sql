-- The prune step finds old dev-mailbox rows by time instead of reading the whole table.
CREATE INDEX dev_mailbox_by_time ON dev_mailbox (created_at);
