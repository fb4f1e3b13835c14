CREATE TABLE accounts (
    account_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text        NOT NULL UNIQUE CHECK (email LIKE '%@%'),
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER accounts_set_updated_at
    BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

INSERT INTO accounts (email, name) VALUES
    ('ada@example.com', 'Ada'),
    ('grace@example.com', 'Grace'),
    ('linus@example.com', 'Linus');
