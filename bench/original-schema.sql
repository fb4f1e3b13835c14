-- The original setup's schema, for the benchmark baseline: the same tables,
-- keys, indexes, foreign keys and trigger as sql/, but created up front, so
-- that `psql \copy` loads into the fully indexed schema as the original did.
CREATE TABLE videos (
    video_id varchar(255) PRIMARY KEY,
    title text NOT NULL,
    category varchar(100),
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE users (
    channel_id varchar(255) PRIMARY KEY,
    channel_name varchar(255) NOT NULL,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE comments (
    comment_id varchar(255) PRIMARY KEY,
    video_id varchar(255) NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    channel_id varchar(255) NOT NULL REFERENCES users (channel_id) ON DELETE CASCADE,
    comment_text text NOT NULL,
    likes integer DEFAULT 0,
    replies integer DEFAULT 0,
    published_at timestamp,
    sentiment_label varchar(50),
    country_code varchar(10),
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_comments_video_id ON comments (video_id);
CREATE INDEX idx_comments_channel_id ON comments (channel_id);
CREATE INDEX idx_comments_published_at ON comments (published_at);
CREATE INDEX idx_comments_sentiment ON comments (sentiment_label);
CREATE INDEX idx_comments_country ON comments (country_code);
CREATE INDEX idx_comments_video_published ON comments (video_id, published_at DESC);
CREATE INDEX idx_videos_category ON videos (category);
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := CURRENT_TIMESTAMP; RETURN NEW; END $$;
CREATE TRIGGER videos_set_updated_at BEFORE UPDATE ON videos FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER comments_set_updated_at BEFORE UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION set_updated_at();
