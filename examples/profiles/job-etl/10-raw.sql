-- raw: one row per collected posting, the scraper's payload untouched.

CREATE TABLE IF NOT EXISTS raw.job_postings_raw (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    source        text        NOT NULL,
    payload       jsonb       NOT NULL,
    collected_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS job_postings_raw_payload_gin ON raw.job_postings_raw USING gin (payload);
CREATE INDEX IF NOT EXISTS job_postings_raw_collected_at ON raw.job_postings_raw (collected_at);
