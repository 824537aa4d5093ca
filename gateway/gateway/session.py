"""One websocket connection's protocol state, with no I/O.

The server feeds a :class:`Session` what happened (a client frame, a verified token, the
rooms at connect, the end of the resume grace) and gets back what to do: frames to send,
a close, or an action that needs I/O. Tests drive it synchronously (tests/test_session.py).

Phases: AUTH (waiting for a token) -> CONNECTING (token verified, rooms being read) ->
HOLD (``ready`` sent; live delivery held until the first client frame or the grace ends, so
a ``resume`` is applied before any live frame) -> LIVE -> CLOSED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import IntEnum

from chatcore.ratelimit import TokenBucket
from gateway import frames
from gateway.frames import Auth, ClientFrame, FrameError, Ping, Resume, Send, Typing
from gateway.position import RoomState

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4001
CLOSE_SLOW_CONSUMER = 4008
CLOSE_TOO_MANY = 4029
# The user's sessions were ended (account deactivated: docs/protocol.md).
CLOSE_REVOKED = 4003

# The reason of a 4001 close: one per cause (docs/protocol.md, "Close codes"). The token
# reasons are the codes HTTP answers 401 with for the same token.
REASON_TOKEN_EXPIRED = "token_expired"
REASON_INVALID_TOKEN = "invalid_token"
REASON_AUTH_REQUIRED = "auth_required"
REASON_AUTH_TIMEOUT = "auth_timeout"
REASON_OTHER_USER = "token_of_another_user"

# A resume-grace timer that fires this late (seconds) means the loop was busy: wait on.
GRACE_LAG = 0.05


class Phase(IntEnum):
    AUTH = 0
    CONNECTING = 1
    HOLD = 2
    LIVE = 3
    CLOSED = 4


@dataclass(frozen=True, slots=True)
class Reply:
    """Send this frame to the client."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Verify:
    """Verify this token (the first one, or a replacement on an open connection)."""

    token: str
    resume: dict[str, int] | None
    ref: str | None
    positions: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Start:
    """Start live delivery; rooms in ``resume`` start from the client's seq (``resumed``)."""

    resume: dict[str, int] | None
    ref: str | None = None
    # Change positions the client holds, by room (docs/protocol.md); rooms left out start
    # after the change that created their resume seq's message.
    positions: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Execute:
    """Carry out a validated request of a member (send, read, who, typing, later resume)."""

    frame: ClientFrame


@dataclass(frozen=True, slots=True)
class Rearm:
    """Fire the resume-grace timer again in ``wait`` seconds, with ``left`` seconds of its
    extension left."""

    wait: float
    left: float


Out = Reply | Close | Verify | Start | Execute | Rearm


@dataclass
class Session:
    """The protocol state of one connection."""

    rate: float = 20.0
    burst: int = 100
    typing_interval: float = 2.0
    # Seconds past ``exp`` a token still counts (JWT_LEEWAY): the same rule as every HTTP
    # call's, so a token HTTP accepts keeps its connection open, and none longer.
    leeway: float = 0.0
    # Refused frames in a row after which the client is flooding, not merely fast: it is
    # closed with 1008 instead of being answered on (each answer costs memory and CPU).
    flood_close: int = 1000
    phase: Phase = Phase.AUTH
    user_id: str | None = None
    token: str | None = None
    expires_at: float = 0.0
    rooms: dict[str, RoomState] = field(default_factory=dict)
    bucket: TokenBucket = field(init=False)
    _typing_at: dict[str, float] = field(default_factory=dict)
    _verifying: bool = False
    _refused: int = 0

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.rate, self.burst)

    def open(self, header_token: str | None) -> list[Out]:
        """The connection is open; a token from the Authorization header is verified now."""
        if header_token is None:
            return []
        self._verifying = True
        return [Verify(header_token, None, None)]

    def receive(self, data: str | bytes, now: float | None = None) -> list[Out]:
        """What to do about one client frame."""
        if self.phase is Phase.CLOSED:
            return []
        if self.phase is Phase.AUTH:
            return self._first(data)
        if not self.bucket.take(1.0, now):
            self._refused += 1
            if self._refused > self.flood_close:
                return [self._close(CLOSE_POLICY, "flooding")]
            wait = self.bucket.wait()
            ref = frames.peek_ref(data)
            return [Reply(frames.rate_limited(ref, wait, "Too many frames; slow down."))]
        self._refused = 0
        try:
            frame = frames.parse(data)
        except FrameError as exc:
            return [Reply(frames.error(exc.code, exc.message, exc.ref))]
        if self.phase is Phase.HOLD:
            self.phase = Phase.LIVE
            if isinstance(frame, Resume):
                return [Start(frame.rooms, frame.ref, frame.positions)]
            return [Start(None), *self._live(frame, now)]
        return self._live(frame, now)

    def _first(self, data: str | bytes) -> list[Out]:
        """Before authentication only a well-formed ``auth`` frame is answered; anything else
        (bad JSON, no or an unknown type, an ``auth`` without a string token) closes."""
        try:
            frame = frames.parse(data)
        except FrameError:
            frame = None
        if isinstance(frame, Auth) and not self._verifying:
            self._verifying = True
            return [Verify(frame.token, frame.resume, frame.ref, frame.positions)]
        return [self._close(CLOSE_UNAUTHORIZED, REASON_AUTH_REQUIRED)]

    def _live(self, frame: ClientFrame, now: float | None) -> list[Out]:
        if isinstance(frame, Auth):
            return [Verify(frame.token, None, frame.ref)]
        if isinstance(frame, Ping):
            return [Reply(frames.build("pong", frame.ref))]
        if isinstance(frame, Resume):
            return [Execute(frame)]
        if frame.room_id not in self.rooms:
            # Same answer whether the room exists or not: never leak existence.
            return [Reply(frames.error("not_a_member", "Not a member of that room.", frame.ref))]
        if isinstance(frame, Typing):
            now = time.monotonic() if now is None else now
            last = self._typing_at.get(frame.room_id)
            if last is not None and now - last < self.typing_interval:
                return []
            self._typing_at[frame.room_id] = now
        elif isinstance(frame, Send):
            # A message ends its sender's typing: the next keystroke is news again.
            self._typing_at.pop(frame.room_id, None)
        return [Execute(frame)]

    def authenticated(self, user_id: str, token: str, expires_at: float) -> list[Out]:
        """A token was verified; ``expires_at`` is its ``exp`` (epoch seconds)."""
        self._verifying = False
        if self.phase is Phase.CLOSED:
            return []
        if self.user_id is None:
            self.user_id, self.token, self.expires_at = user_id, token, expires_at
            self.phase = Phase.CONNECTING
            return []
        if user_id != self.user_id:
            return [self._close(CLOSE_UNAUTHORIZED, REASON_OTHER_USER)]
        self.token, self.expires_at = token, expires_at
        return []

    def auth_failed(self, code: str) -> list[Out]:
        """The token was refused (``code``: the 401 error code HTTP would answer): close with
        4001 whatever the phase."""
        self._verifying = False
        reason = REASON_TOKEN_EXPIRED if code == REASON_TOKEN_EXPIRED else REASON_INVALID_TOKEN
        return [self._close(CLOSE_UNAUTHORIZED, reason)]

    def ready(
        self,
        rooms: dict[str, tuple[int, str]],
        session_id: str,
        resume: dict[str, int] | None = None,
        ref: str | None = None,
        *,
        last_pos: dict[str, int] | None = None,
        positions: dict[str, int] | None = None,
    ) -> list[Out]:
        """The rooms ({room_id: (last_seq, role)}, ``last_pos`` their change positions: the
        seq if left out) are subscribed: send ``ready`` and hold. ``resume`` and
        ``positions`` are those of an ``auth`` frame."""
        if self.phase is not Phase.CONNECTING:
            return []
        at = {rid: (last_pos or {}).get(rid, seq) for rid, (seq, _) in rooms.items()}
        self.rooms = {
            rid: RoomState(pos=at[rid], seq=seq, role=role, rewind_from=at[rid])
            for rid, (seq, role) in rooms.items()
        }
        listed = [
            {"room_id": rid, "last_seq": seq, "last_pos": at[rid]}
            for rid, (seq, _) in rooms.items()
        ]
        out: list[Out] = [
            Reply(
                frames.build(
                    "ready", ref, user_id=self.user_id, rooms=listed, session_id=session_id
                )
            )
        ]
        if resume is not None:
            self.phase = Phase.LIVE
            out.append(Start(resume, ref, positions))
        else:
            self.phase = Phase.HOLD
        return out

    def grace_over(self, lag: float = 0.0, left: float = 0.0) -> list[Out]:
        """The resume grace is over (its timer fired ``lag`` seconds late, with ``left``
        seconds of extension left): deliver live from the ``ready`` positions. A timer that
        fired late means the loop was busy, and a frame the client sent in time may be
        waiting behind the lag: the hold goes on while the loop catches up (at most one more
        grace in all)."""
        if self.phase is not Phase.HOLD:
            return []
        if lag > GRACE_LAG and left > 0:
            wait = min(lag, left)
            return [Rearm(wait, left - wait)]
        self.phase = Phase.LIVE
        return [Start(None)]

    @property
    def closes_at(self) -> float:
        """When the current token stops counting (epoch seconds): ``exp`` plus the leeway."""
        return self.expires_at + self.leeway

    def check_expiry(self, now: float | None = None) -> list[Out]:
        """Close with 4001 once the current token has expired and was not replaced."""
        now = time.time() if now is None else now
        if self.phase in (Phase.AUTH, Phase.CLOSED) or now < self.closes_at:
            return []
        return [self._close(CLOSE_UNAUTHORIZED, REASON_TOKEN_EXPIRED)]

    def split_resume(self, claimed: dict[str, int]) -> tuple[dict[str, int], list[str]]:
        """The claimed positions of the user's rooms, and the rooms that are not theirs."""
        known = {rid: seq for rid, seq in claimed.items() if rid in self.rooms}
        return known, [rid for rid in claimed if rid not in self.rooms]

    def add_room(self, room_id: str, seq: int, role: str) -> RoomState:
        """The user joined a room; its delivery starts after the message ``seq`` (the
        position of that message is read from message-service)."""
        old = self.rooms.get(room_id)
        state = RoomState(pos=-1, seq=seq, role=role, generation=(old.generation + 1) if old else 0)
        self.rooms[room_id] = state
        return state

    def set_role(self, room_id: str, role: str) -> bool:
        """The user's role in a room changed; False if the room is not theirs here."""
        state = self.rooms.get(room_id)
        if state is None:
            return False
        state.role = role
        return True

    def remove_room(self, room_id: str) -> RoomState | None:
        """The user left a room: no further frame of it goes out."""
        state = self.rooms.pop(room_id, None)
        if state is not None:
            state.removed()
        self._typing_at.pop(room_id, None)
        return state

    def closed(self) -> None:
        self.phase = Phase.CLOSED

    def _close(self, code: int, reason: str) -> Close:
        self.phase = Phase.CLOSED
        return Close(code, reason)
