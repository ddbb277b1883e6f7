-- A physician's approval for the patient to book an in-person visit on a case whose report did not
-- advise one (issue 12: patients book only advised or approved visits). One row per case; the
-- patient_id column lets GDPR export and erasure (which follow patient_id through the catalog)
-- find it. No free text.

CREATE TABLE IF NOT EXISTS care_visit_approvals (
    case_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TIMESTAMP NOT NULL
);
