-- Debezium connects as the app role: it needs REPLICATION to stream changes
-- and SELECT for its initial snapshot.  (pgseedd creates the publication
-- itself, named by the `publication` setting, over every loaded table.)

-- Only a superuser may grant REPLICATION: on a server pgseedd does not own
-- (runtime = external) the role may be an ordinary one, and seeding must not
-- fail for it; the warning and GET /health say what CDC then lacks.
DO $$
BEGIN
  IF (SELECT NOT rolreplication FROM pg_roles WHERE rolname = current_user) THEN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      ALTER ROLE CURRENT_USER WITH REPLICATION;
    ELSE
      RAISE WARNING 'role % lacks REPLICATION (only a superuser can grant it): CDC consumers connecting as it cannot stream changes', current_user;
    END IF;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO CURRENT_USER;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO CURRENT_USER;
