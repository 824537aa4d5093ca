-- Messages, their per-room order, idempotency keys and read markers. Rooms and members live
-- in room-service: room ids here are plain uuids, never foreign keys into another schema.

-- One row per room that has messages: the last seq handed out. A batch takes the next seqs
-- with one upsert per room, in the inserting transaction, so seqs have no gaps.
CREATE TABLE messages.rooms (
    room_id  uuid PRIMARY KEY,
    last_seq bigint NOT NULL CHECK (last_seq >= 0)
);

-- A deleted message stays as a tombstone: body NULL, deleted_at set.
CREATE TABLE messages.messages (
    id            uuid PRIMARY KEY,
    room_id       uuid NOT NULL,
    seq           bigint NOT NULL CHECK (seq > 0),
    sender_id     uuid NOT NULL,
    client_msg_id text NOT NULL,
    body          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    edited_at     timestamptz,
    deleted_at    timestamptz,
    CONSTRAINT messages_room_seq UNIQUE (room_id, seq),
    CONSTRAINT messages_tombstone CHECK ((body IS NULL) = (deleted_at IS NOT NULL))
);

-- Idempotency: (sender, client_msg_id) names one message forever. Claimed with
-- ON CONFLICT DO NOTHING before any seq is taken, so a duplicate never consumes a seq, and
-- two identical requests racing each other meet on this key rather than in a read.
CREATE TABLE messages.send_keys (
    sender_id     uuid NOT NULL,
    client_msg_id text NOT NULL,
    message_id    uuid NOT NULL,
    PRIMARY KEY (sender_id, client_msg_id)
);

-- The last seq each user has read in each room; it only ever moves forward.
CREATE TABLE messages.read_markers (
    user_id uuid NOT NULL,
    room_id uuid NOT NULL,
    seq     bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (user_id, room_id)
);
