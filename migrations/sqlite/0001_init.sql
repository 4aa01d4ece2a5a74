-- Times are Unix milliseconds (INTEGER) so that the same queries run on
-- SQLite and PostgreSQL. Ids are random text.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    cname       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    tenant_type TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    email          TEXT NOT NULL,
    email_norm     TEXT NOT NULL,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    contact_number TEXT,
    locale         TEXT NOT NULL,
    state          TEXT NOT NULL,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, email_norm)
);
CREATE INDEX users_by_email ON users (email_norm);

CREATE TABLE signups (
    id           TEXT PRIMARY KEY,
    cname        TEXT NOT NULL,
    email        TEXT NOT NULL,
    email_norm   TEXT NOT NULL,
    tenant_type  TEXT NOT NULL,
    locale       TEXT NOT NULL,
    details      TEXT NOT NULL,
    state        TEXT NOT NULL,
    tenant_id    TEXT REFERENCES tenants(id),
    created_at   INTEGER NOT NULL,
    completed_at INTEGER
);

-- A one-time token is known here only by a hash of its id.
CREATE TABLE one_time_tokens (
    id_hash         TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    superseded_at   INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX one_time_tokens_by_subject ON one_time_tokens (purpose, subject);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    tenant          TEXT,
    locale          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claimed_by      TEXT,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Per (flow, recipient): the last email and the count of the current UTC day.
CREATE TABLE email_limits (
    key       TEXT PRIMARY KEY,
    last_at   INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    day_count INTEGER NOT NULL
);

-- Per client address and minute window.
CREATE TABLE client_limits (
    client       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (client, window_start)
);

CREATE TABLE dev_mailbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    client_addr TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT
);
