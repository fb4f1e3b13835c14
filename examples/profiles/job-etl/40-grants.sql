-- The ETL role: writes raw and staging, loads marts, reads everything.  A
-- group role (NOLOGIN): grant it to the login your pipeline uses
-- (GRANT etl TO my_pipeline_user).  Roles are cluster-wide, so it outlives
-- resets; the grants are in the template, so every reset has them.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'etl') THEN
        CREATE ROLE etl NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA raw, staging, marts TO etl;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, staging, marts TO etl;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw, staging, marts TO etl;
GRANT EXECUTE ON FUNCTION public.generate_hash_key(text, text, text) TO etl;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, staging, marts GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO etl;
