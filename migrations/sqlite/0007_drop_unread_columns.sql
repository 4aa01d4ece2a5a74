-- Columns nothing reads or writes: the lock-out of 0002 moved to
-- login_failures in 0003, and a one-time token's wrong tries were never
-- counted (its codes are links, not something a person types).
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN failed_since;
ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE one_time_tokens DROP COLUMN failed_attempts;
