-- Foreign keys, once the keys they reference exist.  Deleting a video or a
-- user deletes their comments.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'comments_video_id_fkey') THEN
        ALTER TABLE comments ADD CONSTRAINT comments_video_id_fkey
            FOREIGN KEY (video_id) REFERENCES videos (video_id) ON DELETE CASCADE;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'comments_channel_id_fkey') THEN
        ALTER TABLE comments ADD CONSTRAINT comments_channel_id_fkey
            FOREIGN KEY (channel_id) REFERENCES users (channel_id) ON DELETE CASCADE;
    END IF;
END $$;
