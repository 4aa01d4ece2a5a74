-- Every query by subject (superseding a subject's earlier links) asks only
-- for live tokens, which one_time_tokens_live (0004) answers. The full
-- index was still written for every link minted: one more random page per
-- token in each commit and each checkpoint, read by nothing.
DROP INDEX one_time_tokens_by_subject;
