-- The end of the ten minutes: an advisor may extend a running conversation from the warning
-- on. The event says by how many minutes one extension is, how many minutes in all one
-- conversation may gain, and whether extending is allowed while people wait for the
-- advisor. A conversation remembers how long it was extended, and whether (and by whom) the
-- moderator allowed extending it although people wait.
ALTER TABLE event ADD COLUMN extension_minutes INTEGER NOT NULL DEFAULT 5;
ALTER TABLE event ADD COLUMN extension_max_minutes INTEGER NOT NULL DEFAULT 10;
ALTER TABLE event ADD COLUMN extension_when_waiting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN extended_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN extension_allowed_by INTEGER REFERENCES staff(id);
ALTER TABLE conversations ADD COLUMN extension_allowed_at REAL;
