-- The short code printed next to an email's link. Neither the code nor the
-- link is readable here: `code_hash` is an HMAC (a key derived from the key
-- ring) of the code and the recipient's address, and `sealed_link` is the link
-- encrypted (v4.local, a derived key). A code lives as long as its token:
-- superseded, spent or expired with it.
CREATE TABLE mail_codes (
    code_hash     TEXT PRIMARY KEY,
    email_norm    TEXT NOT NULL,
    token_id_hash TEXT NOT NULL,
    sealed_link   TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX mail_codes_by_email ON mail_codes (email_norm);

-- Wrong codes typed for an address, kept for every address typed, known or
-- not, so that a try writes the same row whoever the address belongs to.
-- Past the cap the address's codes made until then are dead
-- (`dead_before`); codes mailed later are live again.
CREATE TABLE code_tries (
    email_norm  TEXT PRIMARY KEY,
    failed      BIGINT NOT NULL,
    dead_before BIGINT NOT NULL,
    last_at     BIGINT NOT NULL
);
