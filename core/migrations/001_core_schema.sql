-- Foundation schema: accounts, patients, sessions, consultations, photos, reports, audit.
-- Portable SQL: TEXT ids (uuid4 / url-safe tokens), naive-UTC TIMESTAMP, JSON stored as TEXT.

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    display_name TEXT NOT NULL,
    patient_id TEXT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    date_of_birth DATE NOT NULL,
    preferred_language TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    status TEXT NOT NULL,
    concerns TEXT NOT NULL,
    areas TEXT NOT NULL,
    intake_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    assigned_physician_id TEXT
);

CREATE TABLE IF NOT EXISTS case_status_history (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    note TEXT,
    changed_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS consents (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    case_id TEXT,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS photos (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    "view" TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    mime TEXT NOT NULL,
    source TEXT NOT NULL,
    quality_verdict TEXT,
    quality_json TEXT,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL UNIQUE,
    physician_id TEXT NOT NULL,
    findings TEXT NOT NULL,
    assessment TEXT NOT NULL,
    recommended_treatments TEXT NOT NULL,
    home_care TEXT NOT NULL,
    in_person_needed BOOLEAN NOT NULL,
    in_person_reason TEXT,
    follow_up_suggestion TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    recorded_at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor_role TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    detail_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
