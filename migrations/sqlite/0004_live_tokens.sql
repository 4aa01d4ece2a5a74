-- Superseding a subject's earlier links reads only its live tokens; without
-- this index it walks every token the subject ever had.
CREATE INDEX one_time_tokens_live ON one_time_tokens (purpose, subject) WHERE used_at IS NULL AND superseded_at IS NULL;

