-- Membership events waiting to be published: written in the transaction of the change that
-- makes them, deleted once published (room_service/outbox.py). A lost publish stays here
-- until the relay publishes it.
CREATE TABLE rooms.outbox (
    id         bigserial PRIMARY KEY,
    room_id    uuid NOT NULL,
    type       text NOT NULL,
    version    bigint NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_room ON rooms.outbox (room_id, id);
