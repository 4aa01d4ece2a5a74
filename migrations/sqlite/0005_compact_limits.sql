-- A rowid table keyed by TEXT keeps its key twice, in the table and in an
-- index of its own, so every per-recipient slot dirtied two random pages,
-- each written whole to the WAL at commit. WITHOUT ROWID keeps one B-tree.
-- (PostgreSQL has no rowid; its table is unchanged.)
CREATE TABLE email_limits_compact (
    key       TEXT PRIMARY KEY,
    last_at   INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    day_count INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO email_limits_compact (key, last_at, day, day_count) SELECT key, last_at, day, day_count FROM email_limits;
DROP TABLE email_limits;
ALTER TABLE email_limits_compact RENAME TO email_limits;
