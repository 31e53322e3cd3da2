-- Bot warm-up of each call: the URL called before dialing, how many attempts it took,
-- how long they took in all, and when the bot answered (NULL until it has).
ALTER TABLE calls ADD COLUMN warmup_url TEXT;
ALTER TABLE calls ADD COLUMN warmup_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN warmup_millis BIGINT;
ALTER TABLE calls ADD COLUMN bot_ready_at BIGINT;
