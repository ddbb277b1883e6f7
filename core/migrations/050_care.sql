-- Hybrid care: published availability, in-person appointments, treatments, follow-up check-ins.
-- Instants are naive-UTC TIMESTAMP columns named *_utc (as in the foundation schema: portable and
-- readable without pytz); the zone names needed to show them are stored beside them.
-- Only never-updated columns are indexed (DuckDB rewrites an updated indexed row as delete+insert).

CREATE TABLE IF NOT EXISTS care_availability (
    id TEXT PRIMARY KEY,
    physician_id TEXT NOT NULL,
    start_utc TIMESTAMP NOT NULL,
    end_utc TIMESTAMP NOT NULL,
    slot_minutes BIGINT NOT NULL,
    location TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS care_appointments (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    physician_id TEXT NOT NULL,
    start_utc TIMESTAMP NOT NULL,
    end_utc TIMESTAMP NOT NULL,
    duration_min BIGINT NOT NULL,
    clinic_timezone TEXT NOT NULL,
    patient_timezone TEXT NOT NULL,
    reason TEXT NOT NULL,
    location TEXT NOT NULL,
    status TEXT NOT NULL,
    booked_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    cancel_reason TEXT
);

CREATE TABLE IF NOT EXISTS care_treatments (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    physician_id TEXT NOT NULL,
    treatment_type TEXT NOT NULL,
    area TEXT NOT NULL,
    product TEXT,
    amount DOUBLE PRECISION,
    unit TEXT,
    treated_on DATE NOT NULL,
    notes TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS care_checkins (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    treatment_id TEXT,
    due_date DATE NOT NULL,
    label TEXT NOT NULL,
    views_json TEXT NOT NULL,
    status TEXT NOT NULL,
    photo_ids_json TEXT,
    match_json TEXT,
    submitted_at TIMESTAMP,
    reviewed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_care_availability_physician ON care_availability (physician_id);
CREATE INDEX IF NOT EXISTS idx_care_appointments_physician ON care_appointments (physician_id);
CREATE INDEX IF NOT EXISTS idx_care_appointments_patient ON care_appointments (patient_id);
CREATE INDEX IF NOT EXISTS idx_care_appointments_case ON care_appointments (case_id);
CREATE INDEX IF NOT EXISTS idx_care_treatments_patient ON care_treatments (patient_id);
CREATE INDEX IF NOT EXISTS idx_care_treatments_case ON care_treatments (case_id);
CREATE INDEX IF NOT EXISTS idx_care_checkins_patient ON care_checkins (patient_id);
CREATE INDEX IF NOT EXISTS idx_care_checkins_case ON care_checkins (case_id);
-- A patient's timeline reads photos by patient (the foundation indexes them by case only).
CREATE INDEX IF NOT EXISTS idx_care_photos_patient ON photos (patient_id);
