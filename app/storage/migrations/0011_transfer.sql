-- An advisor may hand a candidate to another booth: the conversation ends and a new request
-- waits at that booth with the creation time of the request that led to the conversation,
-- so the candidate keeps their place in time. It remembers the conversation it came from and
-- the advisor's note for the receiving booth (staff only, never shown to the candidate).
ALTER TABLE requests ADD COLUMN transferred_from INTEGER REFERENCES conversations(id);
ALTER TABLE requests ADD COLUMN transfer_note TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX requests_transferred_from ON requests(transferred_from)
    WHERE transferred_from IS NOT NULL;
