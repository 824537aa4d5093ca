-- Retention: how long a room's messages are kept (retention_seconds; NULL: the global
-- MESSAGES_RETENTION_DAYS, 0 there meaning forever), and where the room's retained history
-- begins. The sweep (message_service.retention) removes expired messages oldest first, in
-- bounded batches, and moves oldest_seq / oldest_pos past them: history below oldest_seq is
-- gone for good, and the change stream starts at oldest_pos.
ALTER TABLE messages.rooms
    ADD COLUMN retention_seconds bigint CHECK (retention_seconds >= 0),
    ADD COLUMN oldest_seq bigint NOT NULL DEFAULT 1 CHECK (oldest_seq >= 1),
    ADD COLUMN oldest_pos bigint NOT NULL DEFAULT 1 CHECK (oldest_pos >= 1);
