-- Calls that wait: for their time (not_before: scheduled calls, retries in backoff) and
-- for a slot (slot_granted_at stays NULL until the ConcurrencyBroker grants one).
ALTER TABLE calls ADD COLUMN not_before BIGINT;
ALTER TABLE calls ADD COLUMN slot_granted_at BIGINT;

-- Retries: every attempt after the first names the first call and its number.
ALTER TABLE calls ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE calls ADD COLUMN original_call_id TEXT;
ALTER TABLE calls ADD COLUMN retry_policy TEXT;
ALTER TABLE calls ADD COLUMN next_attempt_id TEXT;

-- Scheduled calls: every occurrence names the series' first call and its number; the
-- schedule (time zone, business hours, recurrence) is JSON text.
ALTER TABLE calls ADD COLUMN series_id TEXT;
ALTER TABLE calls ADD COLUMN occurrence INTEGER;
ALTER TABLE calls ADD COLUMN schedule TEXT;
ALTER TABLE calls ADD COLUMN next_occurrence_id TEXT;

-- Calls live before this migration were placed with a slot.
UPDATE calls SET slot_granted_at = created_at
    WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress');

-- One call per attempt number of a first call, and per occurrence of a series (NULLs,
-- the first attempts and unscheduled calls, never collide).
CREATE UNIQUE INDEX calls_attempt_of_original ON calls (original_call_id, attempt);
CREATE UNIQUE INDEX calls_occurrence_of_series ON calls (series_id, occurrence);
