-- Alerts, from first raise to resolve. key is `rule` or `rule:subject`; level the latest
-- raised; client_id set for alerts that concern one client (its staff may see them).
CREATE TABLE alerts (
    id                TEXT    NOT NULL PRIMARY KEY,
    alert_key         TEXT    NOT NULL,
    rule              TEXT    NOT NULL,
    level             TEXT    NOT NULL,
    title             TEXT    NOT NULL,
    detail            TEXT    NOT NULL,
    client_id         TEXT,
    status            TEXT    NOT NULL,
    occurrences       BIGINT  NOT NULL,
    first_raised_at   BIGINT  NOT NULL,
    last_raised_at    BIGINT  NOT NULL,
    last_notified_at  BIGINT,
    resolved_at       BIGINT
);

-- Active alerts at start-up, listing newest first, retention of resolved ones by age.
CREATE INDEX alerts_status_raised ON alerts (status, last_raised_at, id);
CREATE INDEX alerts_resolved_at ON alerts (resolved_at);

-- What the system told people and what it noticed on the way (alert notices, calls the
-- provider had that no one claimed). detail is JSON text.
CREATE TABLE event_log (
    id       TEXT    NOT NULL PRIMARY KEY,
    at       BIGINT  NOT NULL,
    level    TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    detail   TEXT    NOT NULL
);

CREATE INDEX event_log_at ON event_log (at, id);

-- The error-rate rule counts calls by when they ended; analytics read a client's or an
-- agent's calls by when they were made.
CREATE INDEX calls_ended_at ON calls (ended_at);
CREATE INDEX calls_client_created ON calls (client_id, created_at);
CREATE INDEX calls_agent_created ON calls (agent_id, created_at);
