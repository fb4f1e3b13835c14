-- The YouTube comment sentiment dataset, normalized into three tables.
--
-- pgseedd applies the files in this directory in name order.  Files numbered
-- below 50 run before the rows are loaded, files from 50 on after: loading
-- into bare tables and building keys and indexes afterwards is several times
-- faster than maintaining them row by row.  Statements inside an after-load
-- file must not depend on each other, because pgseedd runs them in parallel.
-- Every file is idempotent: it can run again on a database that has it all.
--
-- fillfactor = 85 leaves room on every page, so that an UPDATE of columns no
-- index covers (likes, replies, a comment's text) writes the new row version
-- beside the old one (a HOT update) instead of a new entry in each of the
-- table's indexes: a test's updates, and the in-place reset that undoes them,
-- cost less than half as much.  The tables are ~15% larger when freshly seeded and do
-- not grow with every update-and-reset cycle as fully packed pages do.

CREATE TABLE IF NOT EXISTS videos (
    video_id    varchar(255) NOT NULL,
    title       text         NOT NULL,
    category    varchar(100),
    created_at  timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at  timestamp DEFAULT CURRENT_TIMESTAMP
) WITH (fillfactor = 85);

CREATE TABLE IF NOT EXISTS users (
    channel_id    varchar(255) NOT NULL,
    channel_name  varchar(255) NOT NULL,
    created_at    timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at    timestamp DEFAULT CURRENT_TIMESTAMP
) WITH (fillfactor = 85);

CREATE TABLE IF NOT EXISTS comments (
    comment_id       varchar(255) NOT NULL,
    video_id         varchar(255) NOT NULL,
    channel_id       varchar(255) NOT NULL,
    comment_text     text         NOT NULL,
    likes            integer DEFAULT 0,
    replies          integer DEFAULT 0,
    published_at     timestamp,
    sentiment_label  varchar(50),
    country_code     varchar(10),
    created_at       timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at       timestamp DEFAULT CURRENT_TIMESTAMP
) WITH (fillfactor = 85);
