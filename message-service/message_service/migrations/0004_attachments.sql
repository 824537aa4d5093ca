-- Files uploaded to a room. A row is made at upload with message_id NULL; sending a message
-- that names it sets message_id (once). Deleting the message marks the row deleted_at, and
-- the sweep removes the stored objects and then the row, as it does for uploads never
-- attached.
CREATE TABLE messages.attachments (
    id            uuid PRIMARY KEY,
    room_id       uuid NOT NULL,
    uploader_id   uuid NOT NULL,
    message_id    uuid,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    width         integer,
    height        integer,
    storage_key   text NOT NULL,
    thumbnail_key text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE INDEX attachments_message ON messages.attachments (message_id)
    WHERE message_id IS NOT NULL;
-- The sweep's work list: uploads never attached (by age) and rows marked deleted.
CREATE INDEX attachments_unattached ON messages.attachments (created_at)
    WHERE message_id IS NULL;
CREATE INDEX attachments_deleted ON messages.attachments (deleted_at)
    WHERE deleted_at IS NOT NULL;
-- A user's stored bytes, for the quota.
CREATE INDEX attachments_uploader ON messages.attachments (uploader_id);

-- The key that signs attachment URLs when MESSAGES_ATTACHMENT_URL_KEY is not set: made by the
-- first replica to start, read by every other, so any replica accepts any replica's URLs.
CREATE TABLE messages.url_signing_key (
    id  smallint PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL
);
