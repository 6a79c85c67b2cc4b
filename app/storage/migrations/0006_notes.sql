-- Advisor notes: one text per conversation, written by the advisors of its booth and read by
-- them and the moderator. Never shown to the candidate.
ALTER TABLE conversations ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN notes_at REAL;
ALTER TABLE conversations ADD COLUMN notes_by INTEGER REFERENCES staff(id);
