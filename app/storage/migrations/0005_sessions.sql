-- Server-side sessions: the signed cookie carries only a random session token; the hall
-- stores its SHA-256 with the principal it stands for. A session counts only while its row
-- exists and has not expired, so signing out or changing a password ends it at once.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    staff_id INTEGER REFERENCES staff(id) ON DELETE CASCADE,
    candidate_id INTEGER REFERENCES candidates(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    expires_at REAL NOT NULL,
    CHECK ((staff_id IS NULL) <> (candidate_id IS NULL))
);
CREATE INDEX sessions_staff ON sessions(staff_id);
CREATE INDEX sessions_candidate ON sessions(candidate_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Failed staff logins, shared by every worker process: keyed by a keyed hash of the e-mail
-- address typed (known or not) and of the client's address, never the address itself.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    account_key TEXT NOT NULL,
    ip_key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX login_failures_account ON login_failures(account_key, at);
CREATE INDEX login_failures_ip ON login_failures(ip_key, at);
