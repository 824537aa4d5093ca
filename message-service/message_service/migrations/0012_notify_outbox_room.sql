-- The notification outbox names each row's room beside its message: messages are partitioned
-- by room (0009), so the worker finds a row's message in one partition's index instead of
-- joining the outbox with every partition (a scan of all messages per claim). A row whose
-- message is already gone keeps a null room: the worker skips it, as it did before.
ALTER TABLE messages.notify_outbox ADD COLUMN room_id uuid;

UPDATE messages.notify_outbox o SET room_id = m.room_id
FROM messages.messages m
WHERE m.id = o.message_id;
