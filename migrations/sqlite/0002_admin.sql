-- API tokens for the admin endpoints: only a hash of the secret is kept.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    role         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- verify_password's lock-out: wrong tries in the current window, and until when the user is locked.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_since INTEGER;
ALTER TABLE users ADD COLUMN locked_until INTEGER;

CREATE INDEX audit_events_by_time ON audit_events (at);
