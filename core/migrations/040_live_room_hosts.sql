-- Several app servers (issue 17): a live consult's room lives in the memory of the one server
-- process that opened it (core/live/rooms.py). This table says which server that is, so a patient
-- or physician whose browser is pinned to another server is moved to the holding one
-- (core/live/room_hosts.py). One row per open room, written when the room opens and deleted when
-- it ends; a server that starts again deletes its own rows (its rooms died with it). At most one
-- open room per case across all servers (UNIQUE case_id). Only written when CLINIC_SERVER_ID is
-- set (several servers behind Caddy); a single server leaves it empty.
-- Portable SQL; naive-UTC TIMESTAMP as in the rest of the schema.

CREATE TABLE IF NOT EXISTS live_room_hosts (
    room_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL UNIQUE,
    server_id TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS live_room_hosts_server ON live_room_hosts (server_id);
