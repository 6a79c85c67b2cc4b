-- The outbox: every e-mail the hall sends is first written here, in the same transaction as
-- the change it tells about, so nothing is sent for a change that did not commit. A
-- background task delivers pending messages over SMTP when a server is configured; without
-- one they stay here and the moderator reads them. A failed attempt is counted, its error
-- kept, and the message tried again later (next_attempt_at); NULL there means: not to be
-- tried again (sent, or given up after too many attempts).
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attachment_name TEXT,
    attachment_type TEXT,
    attachment BLOB,
    candidate_id INTEGER REFERENCES candidates(id),
    follow_up_id INTEGER REFERENCES follow_ups(id),
    created_at REAL NOT NULL,
    sent_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at REAL,
    CHECK ((attachment IS NULL) = (attachment_name IS NULL))
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_candidate ON outbox(candidate_id);
CREATE INDEX outbox_created ON outbox(created_at);
