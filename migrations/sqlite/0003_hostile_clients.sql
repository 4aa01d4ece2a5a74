-- verify_password's lock-out, per user and per client address (empty when
-- the login service names none), so one client's wrong tries lock only
-- that client out. Replaces the users.failed_logins, failed_since and
-- locked_until columns of 0002, which are no longer read.
CREATE TABLE login_failures (
    user_id       TEXT NOT NULL REFERENCES users(id),
    client        TEXT NOT NULL,
    failed_logins INTEGER NOT NULL,
    failed_since  INTEGER NOT NULL,
    locked_until  INTEGER,
    PRIMARY KEY (user_id, client)
);

-- Whether strangers may sign up as developers of this tenant (Akana
-- signupUser). Off for tenants created by an F5 signup; the configured
-- default tenant allows it whatever this says.
ALTER TABLE tenants ADD COLUMN developer_signup INTEGER NOT NULL DEFAULT 0;
