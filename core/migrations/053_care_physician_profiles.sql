-- What a report letter and a FHIR Practitioner say about a physician beyond the account's display
-- name: credentials (e.g. "MD, dermatologist") and a professional register number. One row per
-- physician (users.id), written by an administrator (`python -m core physician-credentials`).
-- No patient data: GDPR export and erasure leave it alone.

CREATE TABLE IF NOT EXISTS care_physician_profiles (
    physician_id TEXT PRIMARY KEY,
    credentials TEXT,
    registration TEXT,
    updated_at TIMESTAMP NOT NULL
);
