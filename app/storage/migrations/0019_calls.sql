-- Video built into the hall: a private call page per conversation.
--
-- The event's video provider may now be 'builtin' (the default for new events): the call
-- runs in the browsers of the two participants. SQLite cannot change a CHECK constraint, so
-- the event table is made again with the same columns and rows.
CREATE TABLE event_next (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Europe/Amsterdam',
    conversation_seconds INTEGER NOT NULL DEFAULT 600 CHECK (conversation_seconds > 0),
    warning_seconds INTEGER NOT NULL DEFAULT 120 CHECK (warning_seconds >= 0),
    video_provider TEXT NOT NULL DEFAULT 'builtin'
        CHECK (video_provider IN ('builtin', 'jitsi', 'personal')),
    video_base_url TEXT NOT NULL DEFAULT 'https://meet.jit.si',
    is_open INTEGER NOT NULL DEFAULT 1 CHECK (is_open IN (0, 1)),
    wait_alert_seconds INTEGER NOT NULL DEFAULT 600 CHECK (wait_alert_seconds > 0),
    overtime_alert_seconds INTEGER NOT NULL DEFAULT 180 CHECK (overtime_alert_seconds > 0),
    ready_seconds INTEGER NOT NULL DEFAULT 60 CHECK (ready_seconds > 0),
    ready_step_back INTEGER NOT NULL DEFAULT 3 CHECK (ready_step_back > 0),
    join_seconds INTEGER NOT NULL DEFAULT 120 CHECK (join_seconds > 0),
    extension_minutes INTEGER NOT NULL DEFAULT 5,
    extension_max_minutes INTEGER NOT NULL DEFAULT 10,
    extension_when_waiting INTEGER NOT NULL DEFAULT 0
);
INSERT INTO event_next (
    id, name, timezone, conversation_seconds, warning_seconds, video_provider, video_base_url,
    is_open, wait_alert_seconds, overtime_alert_seconds, ready_seconds, ready_step_back,
    join_seconds, extension_minutes, extension_max_minutes, extension_when_waiting)
SELECT
    id, name, timezone, conversation_seconds, warning_seconds, video_provider, video_base_url,
    is_open, wait_alert_seconds, overtime_alert_seconds, ready_seconds, ready_step_back,
    join_seconds, extension_minutes, extension_max_minutes, extension_when_waiting
FROM event;
-- The trigger that reads the event's join_seconds goes while the table is swapped.
DROP TRIGGER conversations_join_until;
DROP TABLE event;
ALTER TABLE event_next RENAME TO event;
CREATE TRIGGER conversations_join_until AFTER INSERT ON conversations
WHEN NEW.join_until IS NULL
BEGIN
    UPDATE conversations
    SET join_until = NEW.started_at + (SELECT join_seconds FROM event WHERE id = 1)
    WHERE id = NEW.id;
END;

-- The call of a conversation: the unguessable token of its page (NULL for calls elsewhere),
-- the external room both can fall back to, and the number the candidate asked to be phoned
-- on ("bel mij"), with the moment they agreed to it.
ALTER TABLE conversations ADD COLUMN call_token TEXT;
CREATE UNIQUE INDEX conversations_call_token ON conversations(call_token);
ALTER TABLE conversations ADD COLUMN room_url TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN callback_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN callback_at REAL;
