-- Several app servers share the assessment queue (issue 17, PostgreSQL): a claimed run carries
-- the claiming worker's id and a lease expiry that its worker renews while it runs. A `running`
-- row whose lease has expired (its server died) is taken again by any worker, as one more
-- attempt under the same cap; rows with a live lease belong to a worker that is still alive.
-- Rows left `running` from before this migration have no lease and count as interrupted.
-- Portable SQL; naive-UTC TIMESTAMP as in the rest of the schema.

ALTER TABLE assessments ADD COLUMN lease_owner TEXT;

ALTER TABLE assessments ADD COLUMN lease_expires_at TIMESTAMP;
