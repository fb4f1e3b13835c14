-- staging: one row per distinct posting (generate_hash_key), first and last seen.

CREATE TABLE IF NOT EXISTS staging.job_postings_stg (
    hash_key         text        PRIMARY KEY,
    source           text        NOT NULL,
    company          text        NOT NULL,
    title            text        NOT NULL,
    location         text,
    employment_type  text        NOT NULL DEFAULT 'full_time'
        CHECK (employment_type IN ('full_time', 'part_time', 'contract', 'internship', 'temporary')),
    seniority        text
        CHECK (seniority IN ('intern', 'junior', 'mid', 'senior', 'lead', 'principal')),
    remote           boolean     NOT NULL DEFAULT false,
    salary_min       numeric(12, 2) CHECK (salary_min >= 0),
    salary_max       numeric(12, 2),
    skills           text[]      NOT NULL DEFAULT '{}',
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (salary_max IS NULL OR salary_min IS NULL OR salary_max >= salary_min),
    CHECK (last_seen_at >= first_seen_at),
    CHECK (hash_key = public.generate_hash_key(company, title, location))
);

CREATE INDEX IF NOT EXISTS job_postings_stg_company ON staging.job_postings_stg (company);
CREATE INDEX IF NOT EXISTS job_postings_stg_skills ON staging.job_postings_stg USING gin (skills);

CREATE OR REPLACE TRIGGER job_postings_stg_set_updated_at
    BEFORE UPDATE ON staging.job_postings_stg FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
