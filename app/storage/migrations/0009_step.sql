-- The moderator may move a waiting request to another booth or advisor: it keeps its place
-- in line (its creation time), and the candidate is told it was moved.
ALTER TABLE requests ADD COLUMN moved_at REAL;
