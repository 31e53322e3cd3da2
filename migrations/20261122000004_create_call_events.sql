-- The history of each call: every observation, applied or not. applied is 0 or 1;
-- detail is JSON text.
CREATE TABLE call_events (
    id        TEXT     NOT NULL PRIMARY KEY,
    call_id   TEXT     NOT NULL REFERENCES calls (id),
    source    TEXT     NOT NULL,
    kind      TEXT     NOT NULL,
    applied   INTEGER  NOT NULL CHECK (applied IN (0, 1)),
    sequence  BIGINT,
    detail    TEXT     NOT NULL,
    at        BIGINT   NOT NULL
);

-- A call's history, oldest first.
CREATE INDEX call_events_call_id_at ON call_events (call_id, at, id);
