-- Consent texts are versioned per language (core/consent.py, core/consent_texts/<lang>/<kind>.md):
-- a consent row records which text was answered: its language and the sha256 of its words, beside
-- the kind, that language's version and the time. Rows from before keep NULL (English, 2026-01).
ALTER TABLE consents ADD COLUMN language TEXT;
ALTER TABLE consents ADD COLUMN text_sha256 TEXT;
