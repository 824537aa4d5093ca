"""A connection's rooms at connect: which rooms the user is in and where each stands, read,
leased and subscribed, before ``ready`` (docs/protocol.md).

What one connect needs from the other services is read for many connects at once
(batcher.py): the users' rooms in one call to room-service (``POST /rooms/joined/batch``,
each user by their own token) and the positions of rooms this process does not follow yet
in one call to message-service (``POST /messages/positions``). A room this process already
follows costs nothing: its feed knows where it stands. Redis work goes through shared
pipelines (pipelines.py). Measured in a 10,000-client reconnect storm, a connect used to cost
a call to message-service, which called room-service, then Postgres twice, and a dozen Redis
round trips of its own. When either service has no batch call (an older version during a
rolling deploy), a connect makes the one call that gives its rooms with their positions
(``GET /messages/rooms``).

The positions are read after the room's channel is subscribed, so nothing published in
between is missed: a message committed after the read comes live, one committed before is in
the position.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatcore.errors import ChatError, Forbidden, NotFound, Unavailable
from chatcore.httpclient import error_from
from chatcore.internal_secret import HEADER, load_secrets
from chatcore.logs import get_logger
from gateway.batcher import Batcher
from gateway.client import Client
from gateway.delivery import Delivery
from gateway.presence import Presence
from gateway.presence_state import announces
from gateway.registry import Registry
from gateway.upstream import Upstream
from gateway.user_rooms import JoinedRoom, RoomList, UserRooms

log = get_logger(__name__)

# Tokens per room-service call and rooms per message-service call; two calls of each kind in
# flight at most, so a storm's requests queue into the next calls instead of into sockets.
USERS_PER_CALL = 200
ROOMS_PER_CALL = 500
CALLS_IN_FLIGHT = 2

# Connects past their token check at once, per process. The others wait their turn without
# costing anything: ten thousand connects in progress together all finish late (a client
# gives up on a socket with no `ready` after 10 s and tries again, wasting the work done for
# it), where in turns most finish early and a client that gave up while waiting costs nothing.
CONNECTS_AT_ONCE = 200
# Seconds the oldest waiting connect may have waited before the newest go first: a connect
# takes well under a second unless connects pile up, and a client waits 10 s for `ready`.
NEWEST_FIRST_AFTER = 1.0
# Seconds the oldest waiting connect may have waited before new connections are refused at
# the upgrade (503, retry with backoff): one answered at once costs a fraction of one that
# joins a queue its client leaves before its turn.
BUSY_AFTER = 2.0


class CallMissing(Exception):
    """The other service does not answer a batch call (an older version during a rolling
    deploy, or, for positions, a gateway without the internal secret): use the per-connect
    call."""


def _missing(exc: ChatError) -> bool:
    return isinstance(exc, NotFound | Forbidden) or exc.code == "method_not_allowed"


class ConnectReads:
    """The upstream reads of connects, batched."""

    def __init__(
        self,
        upstream: Upstream,
        internal_secret: str | None,
        secret_file: str | None,
        user_rooms: UserRooms,
    ) -> None:
        self.upstream = upstream
        self.user_rooms = user_rooms
        secrets = load_secrets(internal_secret, secret_file)
        self._headers = {HEADER: secrets[0]} if secrets else {}
        # False once a batch call was missing: every connect then makes the one call that
        # gives its rooms with their positions (GET /messages/rooms).
        self.batched = True
        self._rooms: Batcher[str, RoomList] = Batcher(
            self._rooms_of, max_size=USERS_PER_CALL, concurrency=CALLS_IN_FLIGHT
        )
        self._positions: Batcher[str, tuple[int, int]] = Batcher(
            self._positions_of, max_size=ROOMS_PER_CALL, concurrency=CALLS_IN_FLIGHT
        )

    async def rooms(self, user_id: str, token: str) -> RoomList:
        """The rooms of the caller (``user_id``, whose ``token`` was verified), kept from
        their last connect here while membership events say nothing changed (user_rooms.py),
        else read; with where each stands too when read with the per-connect call."""
        return await self.user_rooms.get(user_id, lambda: self._read_rooms(token))

    async def _read_rooms(self, token: str) -> RoomList:
        if self.batched:
            try:
                return await self._rooms.get(token)
            except CallMissing:
                self._fall_back("rooms")
        rooms = await self.upstream.rooms_with_positions(token)
        return tuple(
            _joined(r, (int(r["last_seq"]), int(r.get("last_pos", r["last_seq"])))) for r in rooms
        )

    async def positions(self, token: str, room_ids: list[str]) -> list[tuple[int, int]]:
        """``(last_seq, last_pos)`` of each room, read now (the caller a member of each)."""
        if self.batched:
            try:
                return list(await asyncio.gather(*(self._positions.get(r) for r in room_ids)))
            except CallMissing:
                self._fall_back("positions")
        at = {
            str(r["room_id"]): (int(r["last_seq"]), int(r.get("last_pos", r["last_seq"])))
            for r in await self.upstream.rooms_with_positions(token)
        }
        # A room the user left meanwhile starts where nothing is missed: its removal follows.
        return [at.get(room_id, (0, 0)) for room_id in room_ids]

    async def position(self, room_id: str) -> tuple[int, int]:
        """``(last_seq, last_pos)`` of one room, read now with the others of the moment;
        :class:`Unavailable` if message-service has no batch call."""
        if self.batched:
            try:
                return await self._positions.get(room_id)
            except CallMissing:
                self._fall_back("positions")
        raise Unavailable("message-service reads no positions in batches.")

    def _fall_back(self, call: str) -> None:
        if self.batched:
            log.warning("connect_batch_missing", call=call)
        self.batched = False

    async def _rooms_of(self, tokens: list[str]) -> list[RoomList | BaseException]:
        try:
            answer = await self.upstream.rooms.request(
                "POST", "/rooms/joined/batch", json={"tokens": tokens}
            )
        except ChatError as exc:
            if _missing(exc):
                raise CallMissing from exc
            raise
        out: list[RoomList | BaseException] = []
        for item in answer["items"]:
            status = int(item.get("status", 500))
            if status == 200:
                out.append(tuple(_joined(r) for r in item["items"]))
            else:
                out.append(error_from(status, item.get("error")))
        return out

    async def _positions_of(self, room_ids: list[str]) -> list[tuple[int, int] | BaseException]:
        wanted = list(dict.fromkeys(room_ids))
        try:
            answer = await self.upstream.messages.request(
                "POST", "/messages/positions", json={"room_ids": wanted}, headers=self._headers
            )
        except ChatError as exc:
            if _missing(exc):
                raise CallMissing from exc
            raise
        at = {str(i["room_id"]): (int(i["last_seq"]), int(i["last_pos"])) for i in answer["items"]}
        return [at[room_id] for room_id in room_ids]

    async def aclose(self) -> None:
        await self._rooms.aclose()
        await self._positions.aclose()


def _joined(entry: dict[str, Any], at: tuple[int, int] | None = None) -> JoinedRoom:
    """One room of an answer (``{room_id, role, version, member_count, ...}``)."""
    version, count = entry.get("version"), entry.get("member_count")
    return JoinedRoom(
        room_id=str(entry["room_id"]),
        role=str(entry.get("role", "member")),
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        member_count=count if isinstance(count, int) else None,
        at=at,
    )


@dataclass(frozen=True, slots=True)
class Rooms:
    """The user's rooms as read at connect."""

    rooms: dict[str, tuple[int, str]]  # room id -> (last seq, the user's role)
    last_pos: dict[str, int]  # room id -> last change position
    announced: list[str]  # the rooms presence changes are published to
    first: bool  # the user's first connection anywhere: they come online


class TooManyConnections(Exception):
    """The user holds as many connections as allowed (``GATEWAY_MAX_CONNECTIONS_PER_USER``)."""


async def load_rooms(
    client: Client,
    *,
    reads: ConnectReads,
    presence: Presence,
    registry: Registry,
    delivery: Delivery,
    presence_room_max: int,
    max_connections: int,
) -> Rooms | None:
    """Read the user's rooms, take the connection's presence lease, hold and subscribe every
    room (each channel confirmed), then read where each new feed's room stands and start it.
    None if the client left meanwhile (nothing more is done for it).

    Raises TooManyConnections, or the upstream or Redis error that stopped it (ChatError,
    RedisError, TimeoutError; KeyError, TypeError or ValueError for a malformed answer).
    """
    user_id = client.session.user_id or ""
    joined = [r for r in await reads.rooms(user_id, client.token) if not removed_since(client, r)]
    if gone(client):
        return None  # the client gave up waiting
    roles = {r.room_id: r.role for r in joined}
    announced = [r.room_id for r in joined if announces(r.member_count, presence_room_max)]
    client.presence_rooms = announced
    before = await presence.lease(
        user_id, client.id, announced, max_connections, joined=list(roles)
    )
    if before < 0:
        raise TooManyConnections
    if before == 0:
        # Before `ready`: the connection's first presence_state lists its own user.
        await presence.enter_rooms(user_id, list(roles))
    for entry in joined:
        registry.note_version(entry.room_id, entry.version)
    # A removal that arrived during the lease is seen here; from now on the room is held, and
    # a removal drops it from the connection (checked below).
    held = [e.room_id for e in joined if not removed_since(client, e)]
    for room_id in held:
        registry.hold_room(client, room_id)
    await asyncio.gather(*(delivery.subscribe(r) for r in held))
    if gone(client):
        return None
    await _start_feeds(client, joined, reads, delivery)
    rooms: dict[str, tuple[int, str]] = {}
    last_pos: dict[str, int] = {}
    for room_id, role in roles.items():
        feed = delivery.feeds.get(room_id)
        if room_id not in client.subscribed or feed is None or feed.pos is None:
            continue  # removed while we were connecting: the removal said so
        rooms[room_id] = (feed.seq, role)
        last_pos[room_id] = feed.pos
    return Rooms(rooms, last_pos, announced, first=before == 0)


async def _start_feeds(
    client: Client, joined: Sequence[JoinedRoom], reads: ConnectReads, delivery: Delivery
) -> None:
    """Tell each new feed where its room stands, read after its channel was subscribed (or,
    from the per-connect call, with the rooms)."""
    new = [
        entry
        for entry in joined
        if (feed := delivery.feeds.get(entry.room_id)) is not None and feed.pos is None
    ]
    if not new:
        return
    if new[0].at is not None:
        at = [e.at or (0, 0) for e in new]
    else:
        at = await reads.positions(client.token, [e.room_id for e in new])
    for entry, (seq, pos) in zip(new, at, strict=True):
        delivery.start(entry.room_id, pos, seq)


def removed_since(client: Client, entry: JoinedRoom) -> bool:
    """The user's removal from the room arrived while the connect was under way, after the
    room-service read that listed the room: the read is stale (membership versions tell,
    docs/events.md; a removal without one is taken as newer). A later re-adding is queued
    and runs after ``ready``."""
    if entry.room_id not in client.removed_early:
        return False
    removed, read = client.removed_early[entry.room_id], entry.version
    return removed is None or read is None or read < removed


def gone(client: Client) -> bool:
    """The client closed while its connect waited (a reconnect storm's client gives up after
    a while and tries again: the work for the socket it left would be wasted)."""
    return not client.open
