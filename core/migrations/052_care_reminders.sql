-- Appointment reminders sent by e-mail (core/notifications.py): one row per appointment and start
-- time, so a reminder goes once, and again only when the visit is moved. patient_id and case_id
-- let the GDPR export and erasure find the rows like every other patient table. Insert-only.

CREATE TABLE IF NOT EXISTS care_reminders (
    id TEXT PRIMARY KEY,
    appointment_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    start_utc TIMESTAMP NOT NULL,
    channel TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_care_reminders_appointment ON care_reminders (appointment_id);
