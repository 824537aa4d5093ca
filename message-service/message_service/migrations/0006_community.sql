-- Reports of messages to a room's moderators, and the append-only audit log of moderation
-- done in message-service (docs/api/messages.md).
CREATE TABLE messages.reports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id  uuid NOT NULL,
    room_id     uuid NOT NULL,
    sender_id   uuid NOT NULL,
    reporter_id uuid NOT NULL,
    reason      text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolution  text CHECK (resolution IN ('delete', 'ban', 'dismiss')),
    resolved_by uuid,
    resolved_at timestamptz,
    -- One report per reporter and message: reporting again changes nothing.
    UNIQUE (message_id, reporter_id)
);
-- A room's open reports, oldest first (GET /messages/reports?room_id=).
CREATE INDEX reports_open_by_room ON messages.reports (room_id, created_at, id)
    WHERE resolution IS NULL;
CREATE INDEX reports_open ON messages.reports (created_at, id) WHERE resolution IS NULL;

CREATE TABLE messages.audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id  uuid NOT NULL,
    action    text NOT NULL,
    room_id   uuid,
    target_id uuid,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE FUNCTION messages.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'messages.audit is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON messages.audit
    FOR EACH ROW EXECUTE FUNCTION messages.audit_append_only();
