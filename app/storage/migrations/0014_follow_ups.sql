-- Follow-up appointments change after they are booked: the candidate cancels or asks to
-- reschedule (with a message), the advisor moves or cancels them. Every change bumps the
-- sequence, so a calendar that imported the appointment replaces it instead of adding a
-- second one; the reminder is sent once.
ALTER TABLE follow_ups ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE follow_ups ADD COLUMN updated_at REAL;
ALTER TABLE follow_ups ADD COLUMN candidate_message TEXT NOT NULL DEFAULT '';
ALTER TABLE follow_ups ADD COLUMN reminded_at REAL;
CREATE INDEX follow_ups_starts ON follow_ups(starts_at) WHERE status != 'cancelled';
