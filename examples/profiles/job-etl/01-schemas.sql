-- job-etl: a job-posting ETL's layers.  raw holds what the scrapers collected
-- as it came, staging the cleaned and deduplicated postings, marts what the
-- dashboards read.  Every file is idempotent (it runs again on a database
-- that has it all), and nothing is loaded: use it with PGSEED_DATASET=none.

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS marts;

-- The deduplication key: the same company, title and location always hash
-- the same, whatever their case and surrounding space.  IMMUTABLE, so that it
-- can back an index or a generated column.
CREATE OR REPLACE FUNCTION public.generate_hash_key(company text, title text, location text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT md5(lower(btrim(coalesce(company, ''))) || '|' ||
               lower(btrim(coalesce(title, ''))) || '|' ||
               lower(btrim(coalesce(location, ''))))
$$;

CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
