-- Readiness and no-shows (app.domain.readiness).
--
-- Place in line: requests are served by line_at, then id. It starts as the creation time
-- (created_at stays the time the candidate first asked, for wait statistics and transfers);
-- a candidate who misses the readiness prompt once is moved back a few places by moving
-- line_at, never created_at.
ALTER TABLE requests ADD COLUMN line_at REAL;
UPDATE requests SET line_at = created_at;
CREATE TRIGGER requests_line_at AFTER INSERT ON requests
WHEN NEW.line_at IS NULL
BEGIN
    UPDATE requests SET line_at = NEW.created_at WHERE id = NEW.id;
END;
CREATE INDEX requests_booth_line ON requests(booth_id, status, line_at, id);

-- "Ben je er klaar voor?": when the candidate was asked, until when they may confirm (a
-- deadline), when they confirmed, how often they let the prompt pass, and whether they
-- already took their one extension ("Meer tijd").
ALTER TABLE requests ADD COLUMN ready_asked_at REAL;
ALTER TABLE requests ADD COLUMN ready_until REAL;
ALTER TABLE requests ADD COLUMN ready_at REAL;
ALTER TABLE requests ADD COLUMN ready_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN ready_extended INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_ready_until ON requests(status, ready_until);

-- After acceptance the candidate joins the call through the server (joined_at). Who has not
-- joined by join_until is a no-show: the conversation ends with no_show_at set and does not
-- count as a held conversation. join_until is set when the conversation starts, from the
-- event's join_seconds at that moment.
ALTER TABLE conversations ADD COLUMN joined_at REAL;
ALTER TABLE conversations ADD COLUMN join_until REAL;
ALTER TABLE conversations ADD COLUMN no_show_at REAL;
CREATE TRIGGER conversations_join_until AFTER INSERT ON conversations
WHEN NEW.join_until IS NULL
BEGIN
    UPDATE conversations
    SET join_until = NEW.started_at + (SELECT join_seconds FROM event WHERE id = 1)
    WHERE id = NEW.id;
END;

-- The moderator's settings for all of this.
ALTER TABLE event ADD COLUMN ready_seconds INTEGER NOT NULL DEFAULT 60
    CHECK (ready_seconds > 0);
ALTER TABLE event ADD COLUMN ready_step_back INTEGER NOT NULL DEFAULT 3
    CHECK (ready_step_back > 0);
ALTER TABLE event ADD COLUMN join_seconds INTEGER NOT NULL DEFAULT 120
    CHECK (join_seconds > 0);
