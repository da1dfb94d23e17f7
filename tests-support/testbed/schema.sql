-- The test bed's tables: one user, items owned by it, orders that reference items.
CREATE TABLE users (id uuid PRIMARY KEY, email text UNIQUE NOT NULL);
CREATE TABLE item (
    id uuid PRIMARY KEY,
    title text NOT NULL,
    description text,
    owner_id uuid NOT NULL REFERENCES users (id)
);
CREATE TABLE orders (id serial PRIMARY KEY, item_id uuid NOT NULL REFERENCES item (id));
INSERT INTO users VALUES ('6f1c0a52-3b1e-4c55-9d7e-0c2a9a8f4e11', 'admin@example.com');
-- Rows that were there before any run: a run must leave them exactly as found.
INSERT INTO item VALUES
    ('0b7d8c9e-1111-4a2b-8c3d-000000000001', 'existing one', 'kept', '6f1c0a52-3b1e-4c55-9d7e-0c2a9a8f4e11'),
    ('0b7d8c9e-1111-4a2b-8c3d-000000000002', 'existing two', NULL, '6f1c0a52-3b1e-4c55-9d7e-0c2a9a8f4e11');
INSERT INTO orders (item_id) VALUES ('0b7d8c9e-1111-4a2b-8c3d-000000000001');
