-- Indexes, built after the load.  Independent statements: pgseedd runs them
-- in parallel on several connections.  The primary keys start as plain
-- unique indexes here, because ALTER TABLE ... ADD PRIMARY KEY would lock the
-- table and serialize every other index build on it; 55-primary-keys.sql
-- then turns them into the constraints, which takes no time.

CREATE UNIQUE INDEX IF NOT EXISTS comments_pkey ON comments (comment_id);
CREATE UNIQUE INDEX IF NOT EXISTS users_pkey ON users (channel_id);
CREATE UNIQUE INDEX IF NOT EXISTS videos_pkey ON videos (video_id);

CREATE INDEX IF NOT EXISTS idx_comments_video_id ON comments (video_id);
CREATE INDEX IF NOT EXISTS idx_comments_channel_id ON comments (channel_id);
CREATE INDEX IF NOT EXISTS idx_comments_published_at ON comments (published_at);
CREATE INDEX IF NOT EXISTS idx_comments_sentiment ON comments (sentiment_label);
CREATE INDEX IF NOT EXISTS idx_comments_country ON comments (country_code);
CREATE INDEX IF NOT EXISTS idx_comments_video_published ON comments (video_id, published_at DESC);
CREATE INDEX IF NOT EXISTS idx_videos_category ON videos (category);
