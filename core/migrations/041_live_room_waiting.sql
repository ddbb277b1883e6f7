-- Several app servers (issue 17): a physician pinned to one server sees the live consults other
-- servers hold (core/live/room_hosts.py) with how many patients wait in each, and who opened
-- each room (the "a patient is waiting" badge counts the physician's own rooms). The holding
-- server's room registry keeps `waiting_patients` current on join, admit and leave.
-- Portable SQL (no NOT NULL on an added column: DuckDB cannot add one).

ALTER TABLE live_room_hosts ADD COLUMN waiting_patients INTEGER DEFAULT 0;
ALTER TABLE live_room_hosts ADD COLUMN opened_by TEXT;
