-- Campaigns: a contact list dialed for one client and agent. The retry policy, pacing,
-- calling window and do-not-call list are JSON text; the cursor (current_index) and the
-- counters move in the same transaction as the contacts and calls they count.
CREATE TABLE campaigns (
    id                  TEXT    NOT NULL PRIMARY KEY,
    client_id           TEXT    NOT NULL REFERENCES clients (id),
    agent_id            TEXT    NOT NULL REFERENCES agents (id),
    name                TEXT    NOT NULL,
    caller_id           TEXT    NOT NULL,
    timezone            TEXT    NOT NULL,
    retry_policy        TEXT    NOT NULL,
    pacing              TEXT    NOT NULL,
    calling_window      TEXT,
    do_not_call         TEXT    NOT NULL,
    answer_url          TEXT    NOT NULL,
    warmup_url          TEXT,
    status              TEXT    NOT NULL,
    start_at            BIGINT,
    current_index       BIGINT  NOT NULL,
    total_contacts      BIGINT  NOT NULL,
    processed_contacts  BIGINT  NOT NULL,
    dials               BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    started_at          BIGINT,
    completed_at        BIGINT,
    last_activity       BIGINT,
    paused_at           BIGINT,
    paused_by           TEXT,
    resumed_at          BIGINT,
    failure             TEXT
);

-- A client's campaigns by status, newest first; the campaigns the tree must run.
CREATE INDEX campaigns_client_status ON campaigns (client_id, status, id);
CREATE INDEX campaigns_status ON campaigns (status, id);

-- One row per contact, at its place in the list. version guards every write (a write
-- lands only over the version it was read at).
CREATE TABLE campaign_contacts (
    campaign_id     TEXT    NOT NULL REFERENCES campaigns (id),
    position        BIGINT  NOT NULL,
    phone_number    TEXT    NOT NULL,
    name            TEXT,
    timezone        TEXT,
    variables       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    wait_reason     TEXT,
    next_at         BIGINT,
    attempts        BIGINT  NOT NULL,
    calls_made      BIGINT  NOT NULL,
    call_id         TEXT,
    outcome         TEXT,
    failure_reason  TEXT,
    version         BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, position)
);

-- The contacts a restarted campaign actor tracks, and the progress counts.
CREATE INDEX campaign_contacts_open ON campaign_contacts (campaign_id, state)
    WHERE state IN ('waiting', 'dialing');
CREATE INDEX campaign_contacts_counts ON campaign_contacts (campaign_id, state, outcome, calls_made);

-- A campaign's calls: one per attempt of each contact, never two.
ALTER TABLE calls ADD COLUMN campaign_id TEXT;
ALTER TABLE calls ADD COLUMN contact_position BIGINT;
CREATE UNIQUE INDEX calls_campaign_attempt ON calls (campaign_id, contact_position, attempt);
CREATE INDEX calls_campaign_id ON calls (campaign_id, id);
