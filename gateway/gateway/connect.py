"""A connection's start, from a verified token to ``ready``: the user's rooms, their lease,
the room channels, where each room stands.

What one connect needs from the other services is read for many connects at once
(batcher.py): the users' rooms in one call to room-service (``POST /rooms/joined/batch``,
each user by their own token) and the positions of rooms this process does not follow yet
in one call to message-service (``POST /messages/positions``). A room this process already
follows costs nothing: its feed knows where it stands. Redis work goes through shared
pipelines (pipelines.py). Measured in a 10,000-client reconnect storm, a connect used to cost
a call to message-service, which called room-service, then Postgres twice, and a dozen Redis
round trips of its own.

The positions are read after the room's channel is subscribed, so nothing published in
between is missed: a message committed after the read comes live, one committed before is in
the position.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from chatcore.errors import ChatError, Forbidden, NotFound, Unauthorized, Unavailable
from chatcore.httpclient import error_from
from chatcore.internal_secret import HEADER, load_secrets
from chatcore.logs import get_logger
from gateway import metrics
from gateway.batcher import Batcher
from gateway.client import Client
from gateway.session import CLOSE_TOO_MANY, CLOSE_TRY_AGAIN, CLOSE_UNAUTHORIZED, Phase
from gateway.tasks import background
from gateway.upstream import Upstream

if TYPE_CHECKING:
    from gateway.server import Connections

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


class CallMissing(Exception):
    """The other service does not answer a batch call (an older version during a rolling
    deploy, or, for positions, a gateway without the internal secret): use the per-connect
    call."""


def _missing(exc: ChatError) -> bool:
    return isinstance(exc, NotFound | Forbidden) or exc.code == "method_not_allowed"


class ConnectReads:
    """The upstream reads of connects, batched."""

    def __init__(
        self, upstream: Upstream, internal_secret: str | None, secret_file: str | None
    ) -> None:
        self.upstream = upstream
        secrets = load_secrets(internal_secret, secret_file)
        self._headers = {HEADER: secrets[0]} if secrets else {}
        # False once a batch call was missing: every connect then makes the one call that
        # gives its rooms with their positions (GET /messages/rooms).
        self.batched = True
        self._rooms: Batcher[str, list[dict[str, Any]]] = Batcher(
            self._rooms_of, max_size=USERS_PER_CALL, concurrency=CALLS_IN_FLIGHT
        )
        self._positions: Batcher[str, tuple[int, int]] = Batcher(
            self._positions_of, max_size=ROOMS_PER_CALL, concurrency=CALLS_IN_FLIGHT
        )

    async def rooms(self, token: str) -> list[dict[str, Any]]:
        """The caller's rooms: ``[{room_id, role, joined_at, version, member_count}]``, with
        ``last_seq`` and ``last_pos`` too when they came from the per-connect call."""
        if self.batched:
            try:
                return await self._rooms.get(token)
            except CallMissing:
                self._fall_back("rooms")
        return await self.upstream.rooms_with_positions(token)

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

    async def _rooms_of(self, tokens: list[str]) -> list[list[dict[str, Any]] | BaseException]:
        try:
            answer = await self.upstream.rooms.request(
                "POST", "/rooms/joined/batch", json={"tokens": tokens}
            )
        except ChatError as exc:
            if _missing(exc):
                raise CallMissing from exc
            raise
        out: list[list[dict[str, Any]] | BaseException] = []
        for item in answer["items"]:
            status = int(item.get("status", 500))
            if status == 200:
                out.append(list(item["items"]))
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


class Connector:
    """Starts connections for :class:`Connections` (``_connect``)."""

    def __init__(self, connections: Connections, reads: ConnectReads) -> None:
        self.connections = connections
        self.reads = reads
        self._turns = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def connect(
        self,
        client: Client,
        resume: dict[str, int] | None,
        ref: str | None,
        positions: dict[str, int] | None = None,
    ) -> None:
        """Read the user's rooms, take the lease, subscribe the rooms, find where each stands,
        answer ``ready``: ``CONNECTS_AT_ONCE`` at a time, in the order they came."""
        async with self._turns:
            if not _gone(client):
                await self._connect(client, resume, ref, positions)

    async def _connect(
        self,
        client: Client,
        resume: dict[str, int] | None,
        ref: str | None,
        positions: dict[str, int] | None,
    ) -> None:
        conns = self.connections
        delivery = conns.delivery
        session = client.session
        user_id = session.user_id or ""
        # Registered first, so a membership change from now on is seen (queued until ready).
        conns.users.setdefault(user_id, set()).add(client)
        try:
            joined = await self.reads.rooms(client.token)
            if _gone(client):
                return  # the client gave up waiting: nothing more is done for it
            roles = {str(r["room_id"]): str(r.get("role", "member")) for r in joined}
            announced = [str(r["room_id"]) for r in joined if conns.announces_presence(r)]
            client.presence_rooms = announced
            before = await conns.presence.lease(
                user_id,
                client.id,
                announced,
                conns.settings.max_connections_per_user,
                joined=list(roles),
            )
            if before < 0:
                metrics.REFUSED.inc()
                session.closed()
                client.flush()
                await client.ws.close(CLOSE_TOO_MANY, "too many connections")
                return
            if before == 0:
                # Before `ready`: the connection's first presence_state lists its own user.
                await conns.presence.enter_rooms(user_id, list(roles))
            for entry in joined:
                conns.note_version(str(entry["room_id"]), entry.get("version"))
            for room_id in roles:
                conns.hold_room(client, room_id)
            await asyncio.gather(*(delivery.subscribe(r) for r in roles))
            if _gone(client):
                return
            await self._start_feeds(client, joined)
        except (ChatError, RedisError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("connect_failed", error=type(exc).__name__)
            session.closed()
            code = CLOSE_UNAUTHORIZED if isinstance(exc, Unauthorized) else CLOSE_TRY_AGAIN
            client.flush()
            await client.ws.close(code, "cannot load rooms; retry")
            return
        rooms: dict[str, tuple[int, str]] = {}
        last_pos: dict[str, int] = {}
        for room_id, role in roles.items():
            feed = delivery.feeds.get(room_id)
            if room_id not in client.subscribed or feed is None or feed.pos is None:
                continue  # removed while we were connecting: the removal said so
            rooms[room_id] = (feed.seq, role)
            last_pos[room_id] = feed.pos
        await conns.run(
            client,
            session.ready(rooms, client.id, resume, ref, last_pos=last_pos, positions=positions),
        )
        if before == 0:
            # Not the client's task: the announcement stands even if it leaves at once (its
            # going offline is announced after, from the room set the lease wrote).
            background(conns.presence.announce(user_id, announced, online=True))
        queued, client.queued = client.queued, None
        for event in queued or []:
            client.spawn(event(client))
        if resume is None and session.phase is Phase.HOLD:
            grace = conns.settings.resume_grace_ms / 1000
            loop = asyncio.get_running_loop()
            loop.call_later(grace, conns._grace_over, client, loop.time() + grace, grace)

    async def _start_feeds(self, client: Client, joined: list[dict[str, Any]]) -> None:
        """Tell each new feed where its room stands, read after its channel was subscribed
        (or, from an older message-service, with the rooms)."""
        delivery = self.connections.delivery
        new = [
            entry
            for entry in joined
            if (feed := delivery.feeds.get(str(entry["room_id"]))) is not None and feed.pos is None
        ]
        if not new:
            return
        if "last_seq" in new[0]:
            at = [(int(e["last_seq"]), int(e.get("last_pos", e["last_seq"]))) for e in new]
        else:
            at = await self.reads.positions(client.token, [str(e["room_id"]) for e in new])
        for entry, (seq, pos) in zip(new, at, strict=True):
            delivery.start(str(entry["room_id"]), pos, seq)


def _gone(client: Client) -> bool:
    """The client closed while its connect waited (a reconnect storm's client gives up after
    a while and tries again: the work for the socket it left would be wasted)."""
    return not client.open
