-- Community and moderation (docs/api/rooms.md): public rooms, invite links, bans, mutes,
-- blocks between people, and the append-only audit log of moderation.

-- A public room is listed in the directory and anyone may join it; a direct room never is.
ALTER TABLE rooms.rooms
    ADD COLUMN visibility text NOT NULL DEFAULT 'private'
        CHECK (visibility IN ('private', 'public')),
    ADD CONSTRAINT rooms_direct_private CHECK (kind = 'group' OR visibility = 'private');
-- The directory's search: a title containing the words typed, anywhere in a word and in any
-- script (ILIKE '%회의%'). Trigrams let the index answer a substring match; the ILIKE itself
-- re-checks, so the answer is right for patterns too short to have a trigram.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX rooms_public_title ON rooms.rooms USING gin (lower(title) gin_trgm_ops)
    WHERE visibility = 'public';
-- The directory's order: most members first.
CREATE INDEX rooms_public_by_members ON rooms.rooms (member_count DESC, id DESC)
    WHERE visibility = 'public';

CREATE TABLE rooms.invites (
    code       text PRIMARY KEY,
    room_id    uuid NOT NULL REFERENCES rooms.rooms (id) ON DELETE CASCADE,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    max_uses   integer CHECK (max_uses >= 1),
    uses       integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    CHECK (max_uses IS NULL OR uses <= max_uses)
);
CREATE INDEX invites_by_room ON rooms.invites (room_id);

-- A ban lasts until `until` (NULL: until lifted); an expired row is no ban.
CREATE TABLE rooms.bans (
    room_id    uuid NOT NULL REFERENCES rooms.rooms (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    banned_by  uuid NOT NULL,
    reason     text,
    until      timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE rooms.mutes (
    room_id    uuid NOT NULL REFERENCES rooms.rooms (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    muted_by   uuid NOT NULL,
    until      timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- `blocker` does not want to hear from `blocked`.
CREATE TABLE rooms.blocks (
    blocker    uuid NOT NULL,
    blocked    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (blocker, blocked),
    CHECK (blocker <> blocked)
);
CREATE INDEX blocks_by_blocked ON rooms.blocks (blocked, blocker);

-- Every moderation action, appended and never changed.
CREATE TABLE rooms.audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id  uuid NOT NULL,
    action    text NOT NULL,
    room_id   uuid,
    target_id uuid,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE FUNCTION rooms.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rooms.audit is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON rooms.audit
    FOR EACH ROW EXECUTE FUNCTION rooms.audit_append_only();
