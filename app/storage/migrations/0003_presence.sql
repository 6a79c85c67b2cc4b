-- Presence: a candidate whose connection drops keeps their place for a grace period.
-- away_since is NULL while the candidate is connected (or nobody knows yet); it holds the
-- moment they were last seen once they are gone. A waiting request whose candidate stays
-- away longer than the grace period lapses: status 'expired' with closed_reason 'away'.
ALTER TABLE requests ADD COLUMN away_since REAL;
ALTER TABLE requests ADD COLUMN closed_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_away ON requests(status, away_since);
