-- Running the event: the moderator opens and closes the event and single booths, steps in,
-- speaks to the hall, and every one of those actions is written to an audit log.

-- The event as a whole is open or closed by the moderator (on top of the opening hours),
-- and the limits past which the dashboard raises an alert.
ALTER TABLE event ADD COLUMN is_open INTEGER NOT NULL DEFAULT 1 CHECK (is_open IN (0, 1));
ALTER TABLE event ADD COLUMN wait_alert_seconds INTEGER NOT NULL DEFAULT 600
    CHECK (wait_alert_seconds > 0);
ALTER TABLE event ADD COLUMN overtime_alert_seconds INTEGER NOT NULL DEFAULT 180
    CHECK (overtime_alert_seconds > 0);

-- A booth closed by the moderator takes no requests whatever its schedule says. A removed
-- booth leaves the hall but stays in the database, so reports keep its history.
ALTER TABLE booths ADD COLUMN closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));
ALTER TABLE booths ADD COLUMN link TEXT NOT NULL DEFAULT '';
ALTER TABLE booths ADD COLUMN removed_at REAL;

-- A blocked candidate asks for nothing again; online_until is how long the candidate counts
-- as connected (moved on while any worker holds a connection of theirs).
ALTER TABLE candidates ADD COLUMN blocked_at REAL;
ALTER TABLE candidates ADD COLUMN blocked_by INTEGER REFERENCES staff(id);
ALTER TABLE candidates ADD COLUMN online_until REAL;
CREATE INDEX candidates_online ON candidates(online_until);

CREATE TRIGGER requests_not_for_blocked BEFORE INSERT ON requests
WHEN (SELECT blocked_at FROM candidates WHERE id = NEW.candidate_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'candidate blocked');
END;

-- Staff accounts are made by invitation: the link carries a random token, stored here only
-- as its SHA-256; the invited person sets their own password through it, once.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES staff(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE INDEX invitations_staff ON invitations(staff_id);

-- Announcements to everyone in the hall or to the advisors only; live until ended.
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY,
    audience TEXT NOT NULL CHECK (audience IN ('all', 'advisors')),
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by INTEGER REFERENCES staff(id),
    ended_at REAL,
    ended_by INTEGER REFERENCES staff(id)
);
CREATE INDEX announcements_live ON announcements(ended_at);

-- Who did what, when: every moderator action. ``subject`` names what it was done to
-- ("booth:3", "request:17"), ``detail`` says how, in a few words; no more personal data
-- than the action needs.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    staff_id INTEGER REFERENCES staff(id),
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);

-- Follow-up appointments booked after a conversation, and the candidates' ratings of their
-- conversations.
CREATE TABLE follow_ups (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id),
    booth_id INTEGER NOT NULL REFERENCES booths(id),
    advisor_id INTEGER REFERENCES staff(id),
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    starts_at REAL NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes > 0),
    mode TEXT NOT NULL CHECK (mode IN ('video', 'phone', 'on_site')),
    location TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'booked'
        CHECK (status IN ('booked', 'cancelled', 'reschedule_requested')),
    created_at REAL NOT NULL,
    created_by INTEGER REFERENCES staff(id)
);
CREATE INDEX follow_ups_candidate ON follow_ups(candidate_id);
CREATE INDEX follow_ups_created ON follow_ups(created_at);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations(id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
