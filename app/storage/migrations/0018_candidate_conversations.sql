-- A candidate's own conversations are read on every push of their state (the last one that
-- ended, to rate), so they are found by candidate, not by scanning every conversation.
CREATE INDEX conversations_candidate ON conversations(candidate_id, ended_at);
