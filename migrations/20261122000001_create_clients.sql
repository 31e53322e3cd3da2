-- Tenants: every agent and call belongs to exactly one client.
--
-- Portable DDL for SQLite and PostgreSQL alike: ids are UUID text, timestamps are
-- BIGINT milliseconds since the Unix epoch.
CREATE TABLE clients (
    id                   TEXT    NOT NULL PRIMARY KEY,
    name                 TEXT    NOT NULL,
    max_concurrent_calls BIGINT  NOT NULL,
    timezone             TEXT    NOT NULL,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);
