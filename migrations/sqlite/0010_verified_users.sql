-- A user counts as an account only once the mailbox was proven: a signup
-- link completed, an activation code spent, or a password set through a
-- link. Until then (a developer who signed up and never activated) the
-- address is free for every other flow, and the row is pruned after
-- retention_unverified_users.
ALTER TABLE users ADD COLUMN verified_at INTEGER;

-- Rows of earlier releases: whoever has a password or is not pending, the
-- first user of a completed signup, and anyone once activated or given a
-- password (the audit trail says so) proved the mailbox.
UPDATE users SET verified_at = updated_at
 WHERE password_hash IS NOT NULL
    OR state <> 'pending'
    OR EXISTS (SELECT 1 FROM signups s WHERE s.tenant_id = users.tenant_id AND s.email_norm = users.email_norm)
    OR EXISTS (SELECT 1 FROM audit_events a WHERE a.target = users.id AND a.action IN ('user.activated', 'password.set') AND a.outcome = 'ok');

-- The prune step finds unverified users and pending signups by when they were made.
CREATE INDEX users_unverified ON users (created_at) WHERE verified_at IS NULL;
CREATE INDEX signups_pending ON signups (created_at) WHERE state = 'pending';
