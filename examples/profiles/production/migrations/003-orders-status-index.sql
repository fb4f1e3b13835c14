CREATE INDEX orders_open ON orders (created_at) WHERE status = 'open';
