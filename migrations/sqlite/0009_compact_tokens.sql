-- As email_limits in 0005: a rowid table keyed by TEXT keeps its key twice,
-- in the table and in an index of its own, so every minted link dirtied a
-- random page of that index and the table's last page, and the prune's
-- walk in key order read the table a row at a time out of order. WITHOUT
-- ROWID keeps one B-tree in key order. (PostgreSQL's table is unchanged.)
CREATE TABLE one_time_tokens_compact (
    id_hash       TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    superseded_at INTEGER
) WITHOUT ROWID;
INSERT INTO one_time_tokens_compact (id_hash, purpose, subject, issued_at, expires_at, used_at, superseded_at)
    SELECT id_hash, purpose, subject, issued_at, expires_at, used_at, superseded_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_compact RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_live ON one_time_tokens (purpose, subject) WHERE used_at IS NULL AND superseded_at IS NULL;
