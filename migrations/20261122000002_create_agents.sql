-- Voice bots. Deletion is soft (deleted_at is set) so that the calls an agent made
-- keep pointing at a row.
CREATE TABLE agents (
    id          TEXT    NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL REFERENCES clients (id),
    name        TEXT    NOT NULL,
    answer_url  TEXT    NOT NULL,
    warmup_url  TEXT,
    caller_id   TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    deleted_at  BIGINT
);

-- Agents of one client, in id (creation) order.
CREATE INDEX agents_client_id ON agents (client_id, id);
