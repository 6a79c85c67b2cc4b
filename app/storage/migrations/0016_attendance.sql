-- Proofs of attendance: what a candidate's proof said when it was issued, under a short
-- verification code the moderator can check. A new proof is issued only when the record
-- changed; old codes stay valid for what they said then. Erasing the candidate empties the
-- content (the code stays, so checking it says the data was erased).
CREATE TABLE attendance_proofs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,           -- 12 characters without separators, e.g. 'K7QXM2HPWR4T'
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    issued_at REAL NOT NULL,
    content TEXT NOT NULL                -- JSON: exactly what the proof says; '' once erased
);
CREATE INDEX attendance_proofs_candidate ON attendance_proofs(candidate_id, issued_at);
