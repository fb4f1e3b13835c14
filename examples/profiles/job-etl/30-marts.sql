-- marts: a company dimension and a fact table of postings.

CREATE TABLE IF NOT EXISTS marts.dim_companies (
    company_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_name  text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS marts.fact_jobs (
    hash_key         text        PRIMARY KEY,
    company_id       bigint      NOT NULL REFERENCES marts.dim_companies (company_id) ON DELETE CASCADE,
    title            text        NOT NULL,
    location         text,
    employment_type  text        NOT NULL,
    remote           boolean     NOT NULL DEFAULT false,
    salary_min       numeric(12, 2),
    salary_max       numeric(12, 2),
    skills           text[]      NOT NULL DEFAULT '{}',
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS fact_jobs_company_id ON marts.fact_jobs (company_id);
CREATE INDEX IF NOT EXISTS fact_jobs_first_seen ON marts.fact_jobs (first_seen_at);

-- What the dashboard shows per company.
CREATE OR REPLACE VIEW marts.job_posting_stats AS
SELECT c.company_id,
       c.company_name,
       count(f.hash_key)                                   AS postings,
       count(f.hash_key) FILTER (WHERE f.remote)           AS remote_postings,
       round(avg((f.salary_min + f.salary_max) / 2), 2)    AS avg_salary_mid,
       min(f.first_seen_at)                                AS first_seen_at,
       max(f.last_seen_at)                                 AS last_seen_at
FROM marts.dim_companies c
LEFT JOIN marts.fact_jobs f USING (company_id)
GROUP BY c.company_id, c.company_name;
