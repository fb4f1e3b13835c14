-- production: the shape of a service's database behind PgBouncer, with
-- least-privilege roles and TLS (see pgseedd.conf beside this file).  The
-- schema itself is the migrations directory (migrations/NNN-name.sql), as a
-- service's own migration tool would keep it: pgseedd applies each file once,
-- in order, records it in public.pgseed_migrations, and a reset returns to
-- the migrated baseline.  This file only holds what the migrations share.

CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
