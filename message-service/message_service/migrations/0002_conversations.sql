-- Replies, threads, mentions, reactions, and one ordered change stream per room.
--
-- Every change a client shows (a new message, an edit, a delete, a reaction added or removed,
-- a thread's new summary) takes the room's next change position (``rooms.last_pos``), in
-- the transaction that makes it, under the same row lock as the message seq. So positions,
-- like seqs, have no gaps and follow commit order. A new message keeps its position on its own
-- row (8 bytes, no extra row or index entry on the send path); every other change is a row of
-- ``changes``.

ALTER TABLE messages.rooms ADD COLUMN last_pos bigint NOT NULL DEFAULT 0;
UPDATE messages.rooms SET last_pos = last_seq;

ALTER TABLE messages.messages
    ADD COLUMN pos            bigint,
    ADD COLUMN reply_to       uuid,
    ADD COLUMN thread_root_id uuid,
    ADD COLUMN mentions       uuid[];
UPDATE messages.messages SET pos = seq;
ALTER TABLE messages.messages ALTER COLUMN pos SET NOT NULL;

-- A thread's replies in order; only replies are in it, so plain messages cost nothing.
CREATE INDEX messages_thread ON messages.messages (thread_root_id, seq)
    WHERE thread_root_id IS NOT NULL;

-- The summary of each thread, kept by the statement that stores its replies (a small row to
-- update, rather than a new version of the root message's row per reply).
CREATE TABLE messages.threads (
    root_id        uuid PRIMARY KEY,
    room_id        uuid NOT NULL,
    reply_count    integer NOT NULL CHECK (reply_count > 0),
    last_reply_at  timestamptz NOT NULL,
    last_reply_seq bigint NOT NULL
);

-- One row per mention, written only for messages that mention someone: unread mentions of a
-- user in a room are one index range.
CREATE TABLE messages.mentions (
    user_id uuid NOT NULL,
    room_id uuid NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);

-- One reaction per user, emoji and message.
CREATE TABLE messages.reactions (
    message_id uuid NOT NULL,
    emoji      text NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Every change but a new message, at its position. ``seq_at`` is the room's last seq when the
-- change was made: every position between two rows of a room is a new message, so the seq
-- that goes with any position is one index look-up away (store_changes.seq_at_pos).
CREATE TABLE messages.changes (
    room_id    uuid NOT NULL,
    pos        bigint NOT NULL,
    seq_at     bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('edited', 'deleted', 'reaction', 'thread')),
    message_id uuid NOT NULL,
    data       jsonb,
    PRIMARY KEY (room_id, pos)
);
