-- The pre-assessment queue survives a restart, and every overlay blob has an owning row.
--
-- `assessments` is the durable queue: a row is queued -> running -> done|failed. `attempts`
-- counts how often a run was started; a row left `running` by a process that died is queued
-- again at the next start until it reaches the cap, then marked failed. A run finishes only
-- while it still holds its attempt (`... WHERE id = ? AND attempts = ?`), so a stale worker
-- can never overwrite a newer one.
--
-- `assessment_blobs`: one row per overlay image (the canonical face crop included) an
-- assessment stored, with its patient and case as real columns. Erasure, the data export and
-- the orphan sweep find blobs through `blob_id` columns, so these are found like photos are.
-- Portable SQL; naive-UTC TIMESTAMP as in the rest of the schema.

ALTER TABLE assessments ADD COLUMN attempts BIGINT DEFAULT 0;

CREATE TABLE IF NOT EXISTS assessment_blobs (
    blob_id TEXT PRIMARY KEY,
    assessment_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    photo_id TEXT,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_assessment_blobs_assessment ON assessment_blobs (assessment_id);
CREATE INDEX IF NOT EXISTS idx_assessment_blobs_patient ON assessment_blobs (patient_id);
