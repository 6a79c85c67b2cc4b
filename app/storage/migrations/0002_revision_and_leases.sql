-- One counter that every write transaction moves on: a state read after reading revision r
-- includes every change committed up to r, so views read at different moments (or in
-- different processes) can be put in order and the older one ignored.
CREATE TABLE revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rev INTEGER NOT NULL
);
INSERT INTO revision (id, rev) VALUES (1, 0);

-- Leases: a job that must run in exactly one process at a time (the deadline timers when
-- several workers share the database) is run by whoever holds its lease.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
);
