-- Privacy: a candidate's personal data can be erased (by themselves, or by the retention job
-- some days after the event). The row stays, anonymised, so counts of candidates, requests
-- and conversations stay right; erased_at says when it was erased.
ALTER TABLE candidates ADD COLUMN erased_at REAL;
CREATE INDEX candidates_not_erased ON candidates(erased_at, created_at);

-- An erased candidate never asks for a conversation again, whatever still holds their id.
CREATE TRIGGER requests_not_for_erased BEFORE INSERT ON requests
WHEN (SELECT erased_at FROM candidates WHERE id = NEW.candidate_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'candidate erased');
END;

-- What the retention job removed, and when: counts only, never personal data.
CREATE TABLE retention_runs (
    id INTEGER PRIMARY KEY,
    ran_at REAL NOT NULL,
    retention_days INTEGER NOT NULL,
    event_ends_at REAL,              -- the end of the event's last day; NULL without days
    candidates INTEGER NOT NULL,     -- candidates anonymised
    requests INTEGER NOT NULL,       -- their requests cleared (question, message)
    conversations INTEGER NOT NULL   -- their conversations cleared
);
