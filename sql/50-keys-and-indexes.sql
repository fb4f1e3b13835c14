-- Primary keys and indexes, built after the load.  Independent statements:
-- pgseedd runs them in parallel on several connections.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'videos_pkey') THEN
        ALTER TABLE videos ADD CONSTRAINT videos_pkey PRIMARY KEY (video_id);
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'users_pkey') THEN
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (channel_id);
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'comments_pkey') THEN
        ALTER TABLE comments ADD CONSTRAINT comments_pkey PRIMARY KEY (comment_id);
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS idx_comments_video_id ON comments (video_id);
CREATE INDEX IF NOT EXISTS idx_comments_channel_id ON comments (channel_id);
CREATE INDEX IF NOT EXISTS idx_comments_published_at ON comments (published_at);
CREATE INDEX IF NOT EXISTS idx_comments_sentiment ON comments (sentiment_label);
CREATE INDEX IF NOT EXISTS idx_comments_country ON comments (country_code);
CREATE INDEX IF NOT EXISTS idx_comments_video_published ON comments (video_id, published_at DESC);
CREATE INDEX IF NOT EXISTS idx_videos_category ON videos (category);
