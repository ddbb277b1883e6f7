-- Each visit is assessed on its own (issue 13): a run belongs to one visit of its case, the
-- baseline submission (checkin_id NULL) or one follow-up check-in (its care_checkins id).
-- Re-running one visit never touches another visit's report or metric rows. Runs stored before
-- this migration merged every photo of the case; they count as baseline runs.
-- Portable SQL.

ALTER TABLE assessments ADD COLUMN checkin_id TEXT;
