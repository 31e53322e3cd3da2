-- One row per outbound call. status, failure_reason and priority hold the domain
-- names (`in-progress`, `no_answer`, `high`); metadata is JSON text.
CREATE TABLE calls (
    id                TEXT    NOT NULL PRIMARY KEY,
    client_id         TEXT    NOT NULL REFERENCES clients (id),
    agent_id          TEXT    NOT NULL REFERENCES agents (id),
    to_number         TEXT    NOT NULL,
    from_number       TEXT    NOT NULL,
    answer_url        TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    failure_reason    TEXT,
    provider          TEXT    NOT NULL,
    provider_call_id  TEXT,
    priority          TEXT    NOT NULL,
    metadata          TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    dial_started_at   BIGINT,
    answered_at       BIGINT,
    ended_at          BIGINT,
    last_heard_at     BIGINT  NOT NULL,
    duration_seconds  BIGINT,
    price             TEXT,
    recording_url     TEXT
);

-- Listing pages newest first, per client, per agent and per status.
CREATE INDEX calls_client_id ON calls (client_id, id);
CREATE INDEX calls_agent_id ON calls (agent_id, id);
CREATE INDEX calls_status ON calls (status, id);

-- Matching provider webhooks to calls.
CREATE INDEX calls_provider_call_id ON calls (provider, provider_call_id);

-- The calls whose actors must exist after a restart (every status that is not final).
CREATE INDEX calls_live ON calls (id)
    WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress');
