-- Progress charts and the timeline look up one patient's metrics. DuckDB only answers a point
-- lookup from a single-column ART index (the assessment area's composite index is not used for
-- `patient_id = ?`), so the archive adds one on patient_id alone (and on assessments for the timeline).
CREATE INDEX IF NOT EXISTS idx_care_metrics_patient ON assessment_metrics (patient_id);
CREATE INDEX IF NOT EXISTS idx_care_assessments_patient ON assessments (patient_id);
