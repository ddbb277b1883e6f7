-- AI pre-assessment: one row per run (status queued/running/done/failed, the versioned report as
-- JSON text) and one row per measured (region, metric) for progress charts across visits.
-- Portable SQL; assessment_metrics is insert-only, so it carries the indexes.

CREATE TABLE IF NOT EXISTS assessments (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    status TEXT NOT NULL,
    engine_version TEXT,
    engine_sha256 TEXT,
    report_json TEXT,
    error TEXT,
    requested_by TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS assessment_metrics (
    id TEXT PRIMARY KEY,
    assessment_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    photo_id TEXT,
    "view" TEXT,
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION,
    unit TEXT,
    score DOUBLE PRECISION,
    band TEXT,
    engine_version TEXT NOT NULL,
    measured_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_assessment_metrics_patient ON assessment_metrics (patient_id, metric, region, measured_at);
CREATE INDEX IF NOT EXISTS idx_assessment_metrics_assessment ON assessment_metrics (assessment_id);
