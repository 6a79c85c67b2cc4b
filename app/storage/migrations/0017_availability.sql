-- An advisor's availability for follow-up appointments: a short list of periods from which
-- the booking form offers free start times. Booking any other time stays possible.
CREATE TABLE advisor_availability (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL CHECK (ends_at > starts_at),
    created_at REAL NOT NULL
);
CREATE INDEX advisor_availability_staff ON advisor_availability(staff_id, starts_at);
CREATE INDEX follow_ups_advisor ON follow_ups(advisor_id, starts_at) WHERE status != 'cancelled';
