-- Half-filled intakes kept on the server (core/consult/drafts.py): one draft per patient and
-- kind, its id "<patient id>/<kind>" (the primary key keeps it one, also across two tabs).
-- The answers are sealed with a key derived from the master key (AES-256-GCM, base64 text)
-- before they are written; each accepted photo is a blob in the encrypted blob store, owned by
-- its intake_draft_photos row (patient_id + blob_id: erasure, export and the orphan sweep find it).
CREATE TABLE IF NOT EXISTS intake_drafts (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    answers_sealed TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS intake_draft_photos (
    id TEXT PRIMARY KEY,
    draft_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    "view" TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    mime TEXT NOT NULL,
    source TEXT NOT NULL,
    quality_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_intake_drafts_patient ON intake_drafts (patient_id);
CREATE INDEX IF NOT EXISTS idx_intake_draft_photos_draft ON intake_draft_photos (draft_id);
