-- Which master key a clinic's data belongs to: one row, the key's public fingerprint
-- (core.crypto.key_id of a key derived from the master key). PostgreSQL (a clinic group) checks it
-- at every open: a server started with another key refuses to start instead of writing data no
-- other server can read, and a new key is made only for a database that has no row yet. The
-- embedded DuckDB file needs no row: it does not open without its key.

CREATE TABLE IF NOT EXISTS clinic_identity (
    id BIGINT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
