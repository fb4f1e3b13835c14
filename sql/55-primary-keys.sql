-- Primary keys over the unique indexes 50-indexes.sql built (no table scan).

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'videos_pkey') THEN
        ALTER TABLE videos ADD CONSTRAINT videos_pkey PRIMARY KEY USING INDEX videos_pkey;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'users_pkey') THEN
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey;
    END IF;
END $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'comments_pkey') THEN
        ALTER TABLE comments ADD CONSTRAINT comments_pkey PRIMARY KEY USING INDEX comments_pkey;
    END IF;
END $$;
