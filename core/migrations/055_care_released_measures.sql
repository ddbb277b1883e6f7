-- The measures a physician releases to the patient, per case (issue 13). The AI pre-assessment is
-- not clinically validated: a patient sees a measure on "My progress" only when the case's
-- physician released it; no row = nothing released (the default). One row per released
-- (case, measure, region); releasing and withdrawing are audited. patient_id lets the GDPR export
-- and erasure (which follow patient_id through the catalog) find the rows. No free text.

CREATE TABLE IF NOT EXISTS care_released_measures (
    case_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    region TEXT NOT NULL,
    released_by TEXT NOT NULL,
    released_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, metric, region)
);
