-- Debezium connects as the app role: it needs REPLICATION to stream changes
-- and SELECT for its initial snapshot.  (pgseedd creates the publication
-- itself, named by the `publication` setting, over every loaded table.)

ALTER ROLE CURRENT_USER WITH REPLICATION;
GRANT USAGE ON SCHEMA public TO CURRENT_USER;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO CURRENT_USER;
