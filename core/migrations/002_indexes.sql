-- Indexes for the physician queue, a patient's history and a case's photos.
-- Only columns that are never updated are indexed (DuckDB turns an update of an indexed
-- column into delete + insert, which conflicts inside one transaction).
CREATE INDEX IF NOT EXISTS idx_cases_patient ON cases (patient_id);
CREATE INDEX IF NOT EXISTS idx_photos_case ON photos (case_id);
CREATE INDEX IF NOT EXISTS idx_history_case ON case_status_history (case_id);
CREATE INDEX IF NOT EXISTS idx_sessions_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS idx_patients_user ON patients (user_id);
