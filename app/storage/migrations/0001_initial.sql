-- The event: one fair. Times are stored as UTC epoch seconds (REAL); opening hours and
-- schedules as local 'HH:MM' in the event's time zone.
CREATE TABLE event (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Europe/Amsterdam',
    conversation_seconds INTEGER NOT NULL DEFAULT 600 CHECK (conversation_seconds > 0),
    warning_seconds INTEGER NOT NULL DEFAULT 120 CHECK (warning_seconds >= 0),
    video_provider TEXT NOT NULL DEFAULT 'jitsi' CHECK (video_provider IN ('jitsi', 'personal')),
    video_base_url TEXT NOT NULL DEFAULT 'https://meet.jit.si'
);

CREATE TABLE event_days (
    day TEXT PRIMARY KEY,            -- YYYY-MM-DD
    opens TEXT NOT NULL,             -- HH:MM local
    closes TEXT NOT NULL
);

CREATE TABLE booths (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('employer', 'school', 'advice_desk')),
    sector TEXT NOT NULL,
    offers TEXT NOT NULL DEFAULT '',  -- comma-separated offer codes
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('advisor', 'moderator')),
    password_hash TEXT NOT NULL,
    booth_id INTEGER REFERENCES booths(id),
    personal_link TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'offline'
        CHECK (status IN ('available', 'in_conversation', 'wrapping_up', 'paused', 'offline')),
    status_since REAL NOT NULL DEFAULT 0,
    wrap_up_until REAL,
    active INTEGER NOT NULL DEFAULT 1,
    CHECK (role = 'moderator' OR booth_id IS NOT NULL)
);
CREATE INDEX staff_booth ON staff(booth_id);

CREATE TABLE schedule (
    id INTEGER PRIMARY KEY,
    booth_id INTEGER NOT NULL REFERENCES booths(id),
    staff_id INTEGER REFERENCES staff(id),
    day TEXT NOT NULL,
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    CHECK (starts < ends)
);
CREATE INDEX schedule_booth_day ON schedule(booth_id, day);

CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    consent_at REAL NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    booth_id INTEGER NOT NULL REFERENCES booths(id),
    advisor_id INTEGER REFERENCES staff(id),   -- set when the candidate asked for one advisor
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    question TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'accepted', 'declined', 'cancelled', 'expired')),
    client_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    closed_at REAL,
    closed_by INTEGER REFERENCES staff(id),
    decline_message TEXT NOT NULL DEFAULT ''
);
-- A candidate has at most one waiting request; a repeated submit is recognised by its key.
CREATE UNIQUE INDEX requests_one_waiting ON requests(candidate_id) WHERE status = 'waiting';
CREATE UNIQUE INDEX requests_client_key ON requests(candidate_id, client_key);
CREATE INDEX requests_booth_waiting ON requests(booth_id, status, created_at, id);
CREATE INDEX requests_expiry ON requests(status, expires_at);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL UNIQUE REFERENCES requests(id),
    booth_id INTEGER NOT NULL REFERENCES booths(id),
    advisor_id INTEGER NOT NULL REFERENCES staff(id),
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    video_url TEXT NOT NULL,
    started_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    warned_at REAL,
    time_up_at REAL,
    ended_at REAL
);
-- One running conversation per advisor and per candidate, enforced by the database.
CREATE UNIQUE INDEX conversations_advisor_running ON conversations(advisor_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX conversations_candidate_running ON conversations(candidate_id) WHERE ended_at IS NULL;
