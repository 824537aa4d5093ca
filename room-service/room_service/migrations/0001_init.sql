-- Rooms and their members. `version` is the room's membership version (docs/events.md): 1 at
-- creation, then one more in the same transaction as every change of members, roles or title.
CREATE TABLE rooms.rooms (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind         text NOT NULL CHECK (kind IN ('group', 'direct')),
    title        text CHECK (char_length(title) BETWEEN 1 AND 200),
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    member_count integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- A direct room's two users, the smaller id first, so that the unique index below makes
    -- an unordered pair's room one and only one, however many requests race to create it.
    direct_low   uuid,
    direct_high  uuid,
    CHECK ((kind = 'group') = (title IS NOT NULL)),
    CHECK ((kind = 'direct') = (direct_low IS NOT NULL AND direct_high IS NOT NULL)),
    CHECK (direct_low < direct_high)
);
CREATE UNIQUE INDEX rooms_direct_pair ON rooms.rooms (direct_low, direct_high)
    WHERE kind = 'direct';

CREATE TABLE rooms.members (
    room_id   uuid NOT NULL REFERENCES rooms.rooms (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL,
    role      text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (room_id, user_id)
);
-- A user's rooms by joining time: GET /rooms pages it backwards, GET /rooms/joined reads it
-- whole. `role` is included so the members side of both is an index-only scan.
CREATE INDEX members_by_user ON rooms.members (user_id, joined_at, room_id) INCLUDE (role);
-- A room's members by joining time: GET /rooms/{id}/members, and who inherits ownership.
CREATE INDEX members_by_room ON rooms.members (room_id, joined_at, user_id) INCLUDE (role);
