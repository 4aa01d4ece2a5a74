-- A token's tries at setting a password, counted in a window of a minute.
-- A password the policy refuses does not spend the token, and each try costs
-- the policy's work: without a count one link or activation code could be
-- replayed from any number of addresses and instances. (0007 dropped an
-- unwindowed counter of wrong tries that nothing ever wrote.)
ALTER TABLE one_time_tokens ADD COLUMN tries_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE one_time_tokens ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
