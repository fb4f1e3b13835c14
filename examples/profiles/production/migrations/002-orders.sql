CREATE TABLE orders (
    order_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    total_cents  integer     NOT NULL CHECK (total_cents >= 0),
    status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX orders_account_id ON orders (account_id);

CREATE TRIGGER orders_set_updated_at
    BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

INSERT INTO orders (account_id, total_cents, status)
SELECT a.account_id, 1000 * g, CASE WHEN g % 2 = 0 THEN 'paid' ELSE 'open' END
FROM accounts a, generate_series(1, 3) g;
