-- The language a staff account works in (issue 14: "the physician works in their own language"),
-- chosen in the sidebar after log-in. A patient's language stays in patients.preferred_language
-- (the report letter and the e-mails read it there). One row per account; the user_id column
-- lets GDPR export and erasure find it.

CREATE TABLE IF NOT EXISTS user_languages (
    user_id TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
