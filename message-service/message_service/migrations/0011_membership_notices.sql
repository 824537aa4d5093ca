-- Membership notices ("Ana added Bo", "Cy left") in a room's change stream: a change of kind
-- ``membership`` is about no message. ``data`` holds the room-service event's ``version``,
-- unique per room, so every message-service replica may record the same event and only the
-- first one stores it.

-- Add 'membership' to whatever kinds the check allows by now (earlier migrations may have
-- added kinds of their own): rebuilt from the current definition, not restated.
DO $$
DECLARE
    current text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO current FROM pg_constraint
    WHERE conname = 'changes_kind_check' AND conrelid = 'messages.changes'::regclass;
    IF current IS NULL THEN
        RAISE EXCEPTION 'messages.changes has no changes_kind_check';
    END IF;
    IF position('''membership''' in current) = 0 THEN
        ALTER TABLE messages.changes DROP CONSTRAINT changes_kind_check;
        EXECUTE 'ALTER TABLE messages.changes ADD CONSTRAINT changes_kind_check '
            || replace(current, 'ARRAY[', 'ARRAY[''membership''::text, ');
    END IF;
END $$;

ALTER TABLE messages.changes ALTER COLUMN message_id DROP NOT NULL;
ALTER TABLE messages.changes ADD CONSTRAINT changes_message_unless_membership
    CHECK (kind = 'membership' OR message_id IS NOT NULL);
CREATE UNIQUE INDEX changes_membership_version
    ON messages.changes (room_id, ((data ->> 'version')::bigint)) WHERE kind = 'membership';
