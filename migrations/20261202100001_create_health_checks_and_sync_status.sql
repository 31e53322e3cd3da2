-- Provider health checks: one row per probe or provider heartbeat. status is OK,
-- WARNING or ERROR; the affected flags are 0/1 or NULL when unknown; raw is JSON text.
CREATE TABLE health_checks (
    id                 TEXT    NOT NULL PRIMARY KEY,
    checked_at         BIGINT  NOT NULL,
    source             TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    incoming_affected  INTEGER CHECK (incoming_affected IN (0, 1)),
    outgoing_affected  INTEGER CHECK (outgoing_affected IN (0, 1)),
    latency_ms         BIGINT,
    error              TEXT,
    raw                TEXT    NOT NULL
);

-- History newest first, statistics over a range, and retention by age.
CREATE INDEX health_checks_checked_at ON health_checks (checked_at, id);

-- Reconciliation runs with the provider's call records: in_progress, success or failed,
-- over the window of provider calls read, with what was done.
CREATE TABLE sync_status (
    id            TEXT    NOT NULL PRIMARY KEY,
    sync_type     TEXT    NOT NULL,
    trigger_kind  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    started_at    BIGINT  NOT NULL,
    finished_at   BIGINT,
    window_start  BIGINT  NOT NULL,
    window_end    BIGINT  NOT NULL,
    fetched       BIGINT  NOT NULL DEFAULT 0,
    updated       BIGINT  NOT NULL DEFAULT 0,
    ended         BIGINT  NOT NULL DEFAULT 0,
    adopted       BIGINT  NOT NULL DEFAULT 0,
    created       BIGINT  NOT NULL DEFAULT 0,
    unchanged     BIGINT  NOT NULL DEFAULT 0,
    unmatched     BIGINT  NOT NULL DEFAULT 0,
    conflicting   BIGINT  NOT NULL DEFAULT 0,
    error         TEXT
);

-- The latest run (of a status) per type, history newest first, statistics by range.
CREATE INDEX sync_status_type_started ON sync_status (sync_type, started_at, id);
CREATE INDEX sync_status_status_started ON sync_status (status, started_at);

-- Attributing provider calls callvisor never knew of to the agent whose number placed them.
CREATE INDEX agents_caller_id ON agents (caller_id);
