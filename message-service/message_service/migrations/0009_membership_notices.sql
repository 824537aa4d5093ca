-- Membership notices ("Ana added Bo", "Cy left") in a room's change stream: a change of kind
-- ``membership`` is about no message. ``data`` holds the room-service event's ``version``,
-- unique per room, so every message-service replica may record the same event and only the
-- first one stores it.
ALTER TABLE messages.changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE messages.changes ADD CONSTRAINT changes_kind_check
    CHECK (kind IN ('edited', 'deleted', 'reaction', 'thread', 'membership'));
ALTER TABLE messages.changes ALTER COLUMN message_id DROP NOT NULL;
ALTER TABLE messages.changes ADD CONSTRAINT changes_message_unless_membership
    CHECK (kind = 'membership' OR message_id IS NOT NULL);
CREATE UNIQUE INDEX changes_membership_version
    ON messages.changes (room_id, ((data ->> 'version')::bigint)) WHERE kind = 'membership';
