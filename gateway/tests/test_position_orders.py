"""Every order of events a room can see, generated: each connection gets each change once,
in position order, whatever was lost, late, duplicated or reordered on the way.

The world below is the gateway's feed and position rules (gateway.feed, gateway.position)
driven as the delivery and resume layers drive them, with message-service's history and the
room channel simulated: a publish may be lost, delivered late, twice or out of order; a read
of history answers as of when it was made and may come back after live frames, and a feed's
fill read may fail (message-service down or its answer malformed) and be retried; connections
connect (resuming from what their client holds, or not), resume again and close at any
point; older history expires under retention. A catch-up may be replayed the frames the
feed keeps in memory (gateway.recent: those it delivered, and those catch-ups read up to it)
instead of reading history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.feed import Admit, Broadcast, Feed, FeedOut, Read, Replay
from gateway.position import Change, Page, RoomState, catch_up
from gateway.recent import Recent

ROOM = "r"
PAGE = 3  # a small page, so catch-ups and fills take several reads


def frame_pos(frame: bytes) -> int:
    return int(frame.decode().split(":")[1])


@dataclass
class Client:
    """One user's device across connections: what it saw, in order."""

    seen: list[tuple[str, int]] = field(default_factory=list)  # ("c", pos) or ("x", seq)
    last_pos: int = 0
    last_seq: int = 0


@dataclass(eq=False)
class Conn:
    """A connection: the :class:`gateway.feed.Member` the feed sees."""

    client: Client
    open: bool = True
    rooms: dict[str, RoomState] = field(default_factory=dict)
    generation: int = -1  # of the catch-up under way (-1: none)
    read: Page | None = None  # a catch-up read made and not yet answered
    sending: list[Change] = field(default_factory=list)
    got: list[int] = field(default_factory=list)
    # Connected without a resume though the client holds a position: its ``resume`` came
    # after the grace, so delivery started from ``ready``'s positions (until it is applied).
    late: bool = False

    def room(self, room_id: str) -> RoomState | None:
        return self.rooms.get(room_id)

    def receive(self, frame: bytes, world: World) -> None:
        if frame.startswith(b"{"):
            notice = orjson.loads(frame)
            assert notice["type"] == "history_expired", notice
            oldest = notice["oldest_seq"]
            self.client.seen.append(("x", oldest))
            # The client stands just before the oldest message kept, as the connection does.
            self.client.last_pos = world.pos_of_seq(oldest) - 1
            self.client.last_seq = oldest - 1
            return
        pos = frame_pos(frame)
        if self.late and not self.got:
            # The room delivered before the late resume: the client has a gap, and knows it
            # (``resumed`` says where the room stands).
            self.client.seen.append(("j", pos))
        self.got.append(pos)
        self.client.seen.append(("c", pos))
        self.client.last_pos = pos
        self.client.last_seq = world.seq_at(pos)


class World:
    """The room: history, its channel, one gateway process's feed, and connections."""

    def __init__(self) -> None:
        self.created: list[int] = []  # by position - 1: the seq the change created (0: none)
        self.oldest_pos = 1  # retention: changes before it are gone
        self.feed: Feed[Conn] | None = None
        self.channel: list[tuple[Feed[Conn], int]] = []  # publishes in flight
        self.fill: tuple[Feed[Conn], Page] | None = None  # a fill read in flight
        self.conns: list[Conn] = []
        self.recent = Recent()

    # message-service

    def change(self, pos: int) -> Change:
        return Change(pos, self.created[pos - 1], f"c:{pos}".encode())

    @property
    def last_seq(self) -> int:
        return max(self.created, default=0)

    def seq_at(self, pos: int) -> int:
        """The seq of the last message created at or before ``pos``."""
        return max(self.created[:pos], default=0)

    def pos_of_seq(self, seq: int) -> int:
        return self.created.index(seq) + 1 if seq else 0

    def page(self, pos: int, seq: int = 0) -> Page:
        """GET /messages/changes as message-service answers it."""
        last = len(self.created)
        after = min(pos, last) if pos >= 0 else self.pos_of_seq(min(seq, self.last_seq))
        expired = after < self.oldest_pos - 1
        oldest_seq = next((s for s in self.created[self.oldest_pos - 1 :] if s), 0)
        if expired:
            after = self.oldest_pos - 1
        items = [self.change(p) for p in range(after + 1, min(after + PAGE, last) + 1)]
        return Page(items, after, expired, oldest_seq)

    def commit(self, message: bool) -> int:
        """A new change: a message, or a change to one (an edit, a reaction)."""
        message = message or not self.last_seq
        self.created.append(self.last_seq + 1 if message else 0)
        return len(self.created)

    # the gateway's executors

    def apply(self, feed: Feed[Conn], outs: list[FeedOut[Conn]]) -> None:
        for out in outs:
            if isinstance(out, Broadcast):
                if out.pos:
                    self.recent.delivered(feed, out.pos, out.frame)
                for member in list(feed.members):
                    member.receive(out.frame, self)
            elif isinstance(out, Admit):
                feed.members.add(out.member)
            elif isinstance(out, Replay):
                for frame in out.frames:
                    out.member.receive(frame, self)
            elif not feed.filling:
                feed.filling = True

    def deliver(self, index: int) -> None:
        feed, pos = self.channel.pop(index)
        if feed is self.feed:
            change = self.change(pos)
            self.apply(feed, feed.receive(pos, change.frame, change.seq))

    def fill_read(self) -> None:
        feed = self.feed
        if feed is None or not feed.filling or self.fill is not None:
            return
        if not feed.has_gap() or not (feed.members or any(feed.waiting.values())):
            feed.filling = False
            return
        self.fill = (feed, self.page(feed.pos or 0))

    def fill_answer(self, failed: bool = False) -> None:
        """The fill read comes back, or fails (``failed``: as gateway.delivery hands on an
        upstream error); the fill then stays on and reads again."""
        if self.fill is None:
            return
        (feed, page), self.fill = self.fill, None
        if feed is not self.feed:
            return
        outs, over = feed.filled(None if failed else page)
        self.apply(feed, outs)
        if over or not feed.has_gap():
            feed.filling = False

    def attach(self, conn: Conn) -> None:
        state = conn.rooms.get(ROOM)
        generation = state.begin_attach() if state is not None else None
        if generation is not None:
            conn.generation = generation
            self.step(conn)

    def current(self, conn: Conn) -> bool:
        state = conn.rooms.get(ROOM)
        return conn.open and state is not None and state.generation == conn.generation

    def stop(self, conn: Conn) -> None:
        state = conn.rooms.get(ROOM)
        if state is not None:
            state.end_attach(conn.generation)
        conn.generation, conn.read, conn.sending = -1, None, []

    def step(self, conn: Conn) -> None:
        """The catch-up loop of gateway.delivery, up to its next read."""
        state = conn.rooms[ROOM]
        if not self.current(conn) or self.feed is None:
            self.stop(conn)
            return
        outs = self.feed.attach(conn, self.recent.kept(self.feed))
        if isinstance(outs, Read):
            conn.read = self.page(outs.pos, outs.seq)
            return
        self.apply(self.feed, outs)
        assert state.in_sync or any(conn in w for w in self.feed.waiting.values())
        self.stop(conn)

    def read_answer(self, conn: Conn) -> None:
        page, conn.read = conn.read, None
        if page is None:
            return
        if not self.current(conn):
            self.stop(conn)
            return
        if self.feed is not None:
            self.recent.read(self.feed, page)
        plan = catch_up(conn.rooms[ROOM], ROOM, page)
        for notice in plan.notices:
            conn.receive(notice, self)
        conn.sending = list(plan.changes)
        if not conn.sending:
            self.step(conn)

    def send_one(self, conn: Conn) -> None:
        """One awaited send of a catch-up: other events may run between two."""
        if not conn.sending:
            return
        if not self.current(conn):
            self.stop(conn)
            return
        change = conn.sending.pop(0)
        conn.receive(change.frame, self)
        conn.rooms[ROOM].sent(change)
        if not conn.sending:
            self.step(conn)

    # connections

    def connect(self, client: Client, resume: str) -> None:
        """Read where the room stands, subscribe, ``ready``, then resume (or not)."""
        last_pos, last_seq = len(self.created), self.last_seq
        if self.feed is None:
            self.feed = Feed(ROOM)
        conn = Conn(client)
        self.conns.append(conn)
        self.apply(self.feed, self.feed.begin(last_pos, last_seq))
        conn.rooms[ROOM] = RoomState(pos=last_pos, seq=last_seq, rewind_from=last_pos)
        conn.late = resume == "late"
        if resume in ("seq", "pos"):
            self.claim(conn, client, resume == "seq")
        self.attach(conn)

    def claim(self, conn: Conn, client: Client, by_seq: bool) -> None:
        state = conn.rooms[ROOM]
        pos = None if by_seq else client.last_pos
        claim = state.claim(client.last_seq, pos, self.feed.seq if self.feed else 0)
        state.resume(claim, self.last_seq if claim.needs_newest else None)

    def resume_later(self, conn: Conn, claim: tuple[int, int] | None = None) -> bool:
        """A ``resume`` on a live connection (gateway.resume ``later``), by position: the
        client's own, or ``claim`` (pos, seq), which the client then stands at (before the
        catch-up, which may replay kept frames at once); True if the room moved."""
        state = conn.rooms[ROOM]
        feed = self.feed
        assert feed is not None
        conn.late = False
        at = state.at(feed.pos, feed.seq)
        pos, seq = claim or (conn.client.last_pos, conn.client.last_seq)
        if not state.moves_on_resume(at, seq, pos):
            return False
        feed.leave(conn)
        state.restart(at)
        claimed = state.claim(seq, pos, feed.seq)
        state.resume(claimed, self.last_seq if claimed.needs_newest else None)
        if claim is not None:
            conn.client.seen.append(("r", pos))
            conn.client.last_pos, conn.client.last_seq = pos, seq
        self.stop(conn)
        self.attach(conn)
        return True

    def close(self, conn: Conn) -> None:
        conn.open = False
        self.conns.remove(conn)
        if self.feed is not None:
            self.feed.discard(conn)
            if not self.conns:
                self.feed = None


def honest_seq(client: Client, world: World) -> bool:
    """Whether the client's last change is the message it would name in a seq-only resume
    (else that resume would replay what it already has, as the contract says it does)."""
    if client.last_seq == 0:
        return client.last_pos == 0
    return world.created[client.last_pos - 1] == client.last_seq


def check(client: Client, world: World) -> None:
    """Each change at most once, in order; a jump only at the first connection's start or
    after ``history_expired`` (to the oldest message kept)."""
    last, expired = 0, None
    for kind, value in client.seen:
        if kind == "s":
            assert last == 0, client.seen
            last = value
            continue
        if kind == "x":
            expired = value
            continue
        if kind == "r":
            last, expired = value, None
            continue
        if kind == "j":
            assert value > last, client.seen
            last = value - 1
            continue
        assert value > last, client.seen
        if value != last + 1:
            assert expired is not None, client.seen
            assert value == world.pos_of_seq(expired), client.seen
        last, expired = value, None


def invariants(world: World) -> None:
    """Wherever a feed or a connection stands, its seq is that of the last message there."""
    feed = world.feed
    if feed is not None and feed.pos is not None:
        assert feed.seq == world.seq_at(feed.pos)
    for conn in world.conns:
        state = conn.rooms[ROOM]
        pos, seq = state.at(feed.pos, feed.seq) if feed is not None else state.at(None, 0)
        if pos >= 0:
            assert seq == world.seq_at(pos), (pos, seq, world.created)


def settle(world: World) -> None:
    """Let every publish, read and send in flight finish, and the silent-room check run."""
    for _ in range(10_000):
        if world.channel:
            world.deliver(0)
            continue
        busy = next((c for c in world.conns if c.sending or c.read), None)
        if busy is not None:
            world.send_one(busy) if busy.sending else world.read_answer(busy)
            continue
        feed = world.feed
        if world.fill is not None:
            world.fill_answer()
        elif feed is not None and feed.filling:
            world.fill_read()
        elif feed is not None and (feed.pos or 0) < len(world.created):
            world.apply(feed, feed.fill_to(len(world.created)))
            if not feed.filling:
                return
        else:
            return
    raise AssertionError("the world did not settle")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_each_change_reaches_each_connection_once_in_order(data: st.DataObject) -> None:
    """Publishes lost, late, twice, reordered; reads answered late, fill reads failing;
    clients connecting, resuming and closing at any point; retention: every client sees each
    change at most once, in order, and, once everything settles, every open connection
    stands at the room's last change and message."""
    world = World()
    clients = [Client(), Client()]
    for _ in range(data.draw(st.integers(0, 4), label="history before")):
        world.commit(data.draw(st.booleans()))

    def connect(client: Client) -> None:
        if not client.seen and data.draw(st.booleans(), label="no resume"):
            # The client starts where ``ready`` says the room stands.
            client.seen.append(("s", len(world.created)))
            client.last_pos, client.last_seq = len(world.created), world.last_seq
            world.connect(client, "none")
            return
        how = data.draw(st.sampled_from(["seq", "pos", "late"]), label="resume")
        if how == "seq" and not honest_seq(client, world):
            how = "pos"
        world.connect(client, how)

    connect(clients[0])
    for _ in range(data.draw(st.integers(1, 60), label="steps")):
        conns = world.conns
        # A failed fill read is drawn twice as often: it matters only when a connection
        # waits ahead of a feed behind, which takes a few steps to set up.
        actions = ["commit", "deliver", "fill", "fillerror", "fillerror", "gapcheck"]
        actions += ["connect", "expire"]
        if conns:
            actions += ["read", "send", "send", "resume", "close"]
        action = data.draw(st.sampled_from(actions))
        if action == "commit":
            pos = world.commit(data.draw(st.booleans(), label="a message"))
            if world.feed is not None:
                copies = data.draw(st.integers(0, 2), label="copies published (0: lost)")
                world.channel += [(world.feed, pos)] * copies
        elif action == "deliver" and world.channel:
            world.deliver(data.draw(st.integers(0, len(world.channel) - 1)))
        elif action == "fill":
            if world.fill is None:
                world.fill_read()
            else:
                world.fill_answer()
        elif action == "fillerror":
            # A fill read (the one in flight, or one made now) fails.
            if world.fill is None:
                world.fill_read()
            world.fill_answer(failed=True)
        elif action == "gapcheck" and world.feed is not None and not world.feed.filling:
            world.apply(world.feed, world.feed.fill_to(len(world.created)))
        elif action == "connect":
            away = [c for c in clients if all(conn.client is not c for conn in conns)]
            if away:
                connect(data.draw(st.sampled_from(away)))
        elif action == "expire" and world.last_seq:
            # Anything may expire, a live feed's own hole included (a lost publish whose
            # fill comes after retention removed it).
            keep = data.draw(st.integers(1, world.last_seq), label="oldest kept seq")
            world.oldest_pos = max(world.oldest_pos, world.pos_of_seq(keep))
        elif action in ("read", "send", "resume", "close"):
            conn = data.draw(st.sampled_from(conns))
            if action == "read":
                world.read_answer(conn)
            elif action == "send":
                world.send_one(conn)
            elif action == "resume":
                # By position: a seq-only resume on a live connection that names the seq
                # it stands at changes nothing, even if changes to that message followed.
                client = conn.client
                if client.last_pos and data.draw(st.booleans(), label="an older position"):
                    # A client naming less than it holds: the room stays where it is once
                    # it delivered, else replays from there, as asked.
                    pos = data.draw(st.integers(0, client.last_pos - 1))
                    world.resume_later(conn, (pos, world.seq_at(pos)))
                else:
                    world.resume_later(conn)
            else:
                world.close(conn)
        for client in clients:
            check(client, world)
        invariants(world)
    settle(world)
    invariants(world)
    feed = world.feed
    for conn in world.conns:
        check(conn.client, world)
        assert feed is not None
        state = conn.rooms[ROOM]
        assert state.in_sync, conn.client.seen
        # (A connection whose late resume never came started where ``ready`` said.)
        if not (conn.late and not conn.got):
            assert conn.client.last_pos == len(world.created), conn.client.seen
        assert state.at(feed.pos, feed.seq) == (len(world.created), world.last_seq)
