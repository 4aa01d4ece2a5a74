-- The short code printed next to an email's link. Neither the code nor the
-- link is readable here: `code_hash` is an HMAC (a key derived from the key
-- ring) of the code and the recipient's address, and `sealed_link` is the link
-- encrypted (v4.local, a derived key). A code lives as long as its token:
-- superseded, spent or expired with it. `failed_tries` counts wrong codes
-- typed for `email_norm`; past the cap that address's codes are dead.
CREATE TABLE mail_codes (
    code_hash     TEXT PRIMARY KEY,
    email_norm    TEXT NOT NULL,
    token_id_hash TEXT NOT NULL,
    sealed_link   TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    failed_tries  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_codes_by_email ON mail_codes (email_norm);
