"""Admission: every check a send passes before the group-commit writer takes it.

``POST /messages`` admits a batch of one, ``POST /messages/batch`` (the gateway's path) a
batch of up to 256, through the same :meth:`Admission.admit`, so a send gets the same answer
whichever way it came. Each send is refused at the first of these checks it fails:

1. its body (text, or empty with attachments);
2. its sender's send rate (every send of the call in one Redis round trip);
3. its sender's seat in the room: a member, not muted (cached seats from memory, misses
   looked up concurrently);
4. the attachments it carries: its sender's uploads to this room, not yet in a message;
5. its notification job (from memory for a group message without mentions);
6. what it points at: the message it quotes, its thread, the members it mentions.

A send refused at one step never holds up the others: each gets its own answer, in order.
The common case (cached seat, no attachments, no mentions) costs no task and no wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

import asyncpg

from chatcore.errors import ChatError, RateLimited, Unavailable
from chatcore.logs import get_logger
from chatcore.tokens import AccessClaims
from message_service import references
from message_service.access import may_write, send_waits
from message_service.files import Files
from message_service.ids import new_message_id
from message_service.membership import Membership, Seat, Unknown
from message_service.models import SendMessage, message_text
from message_service.notify_targets import NotifyTargets, mentions_of
from message_service.sendrate import SendRateLimiter
from message_service.store import NewMessage

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Send:
    """One send to admit: what its client sent, and who sent it (``token`` is the sender's
    own, forwarded to room-service for any look-up the send needs)."""

    payload: SendMessage
    claims: AccessClaims
    token: str


Admitted = NewMessage | ChatError


class Admission:
    """The checks of :mod:`message_service.admission`, with what they consult."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        limiter: SendRateLimiter,
        membership: Membership,
        files: Files,
        targets: NotifyTargets,
    ) -> None:
        self.pool = pool
        self.limiter = limiter
        self.membership = membership
        self.files = files
        self.targets = targets

    async def admit(self, sends: Sequence[Send | ChatError]) -> list[Admitted]:
        """Each send as the writer takes it, or the error that refuses it; an error given in
        ``sends`` (an item its caller could not read) stays in its place."""
        answers: list[Admitted | None] = [s if isinstance(s, ChatError) else None for s in sends]
        # The sends still in, by index, with their checked bodies.
        alive: dict[int, tuple[Send, str]] = {}
        for index, send in enumerate(sends):
            if isinstance(send, Send):
                payload = send.payload
                try:
                    body = message_text(payload.body, may_be_empty=bool(payload.attachment_ids))
                except ChatError as exc:
                    answers[index] = exc
                    continue
                alive[index] = (send, body)
        await self._check_rates(alive, answers)
        # Sends whose notification job is not known from memory: asked for below.
        unknown: list[tuple[int, Send]] = []
        for index, seat in (await self._seats(alive, answers)).items():
            send, body = alive.pop(index)
            payload, claims = send.payload, send.claims
            try:
                may_write(seat)
                carried = await self.files.claimable(
                    claims.user_id, payload.room_id, payload.attachment_ids
                )
            except ChatError as exc:  # not a member, muted, or an attachment refused
                answers[index] = exc
                continue
            job = self.targets.cached(
                payload.room_id, claims.user_id, claims.name, mentions_of(payload)
            )
            if job is None:
                unknown.append((index, send))
            answers[index] = NewMessage(
                new_message_id(),
                payload.room_id,
                claims.user_id,
                payload.client_msg_id,
                body,
                notify=job or "",
                attachments=carried,
                reply_to=payload.reply_to,
                thread_root_id=payload.thread_root_id,
                mentions=tuple(payload.mentions),
            )
        done = [a if a is not None else Unavailable() for a in answers]
        await self._notify_jobs(unknown, done)
        if not any(isinstance(a, NewMessage) and references.points_anywhere(a) for a in done):
            return done
        tokens = [send.token if isinstance(send, Send) else "" for send in sends]
        return await references.resolve_all(
            self.pool, self.membership, list(zip(tokens, done, strict=True))
        )

    async def _check_rates(
        self, alive: dict[int, tuple[Send, str]], answers: list[Admitted | None]
    ) -> None:
        """Take one send from the bucket of each sender still in, in one round trip."""
        users = [send.claims.user_id for send, _ in alive.values()]
        waits = await send_waits(self.limiter, users)
        for index, wait in zip(list(alive), waits, strict=True):
            if wait > 0:
                answers[index] = RateLimited(wait, "Too many messages; slow down.")
                del alive[index]

    async def _seats(
        self, alive: dict[int, tuple[Send, str]], answers: list[Admitted | None]
    ) -> dict[int, Seat | None]:
        """The seat (None: not a member) of each sender still in; a send whose look-up
        failed gets its error instead, and is out."""
        seats: dict[int, Seat | Unknown | None] = {
            index: self.membership.cached(send.payload.room_id, send.claims.user_id)
            for index, (send, _) in alive.items()
        }
        misses = [index for index, seat in seats.items() if isinstance(seat, Unknown)]
        looked_up = await asyncio.gather(
            *(
                self.membership.seat(send.token, send.payload.room_id, send.claims.user_id)
                for send, _ in (alive[index] for index in misses)
            ),
            return_exceptions=True,
        )
        found: dict[int, Seat | None] = {}
        answered = dict(zip(misses, looked_up, strict=True))
        for index, seat in seats.items():
            answer = answered.get(index, seat) if isinstance(seat, Unknown) else seat
            if isinstance(answer, ChatError):
                answers[index] = answer
                del alive[index]
            elif isinstance(answer, BaseException):
                log.error("membership_look_up_failed", error=repr(answer))
                answers[index] = Unavailable()
                del alive[index]
            elif not isinstance(answer, Unknown):
                found[index] = answer
        return found

    async def _notify_jobs(self, misses: list[tuple[int, Send]], done: list[Admitted]) -> None:
        """Give each admitted send whose notification job is not known from memory (a group
        message without mentions always is) its job, asked concurrently; a send whose look-up
        fails gets its error."""
        if not misses:
            return
        found = await asyncio.gather(
            *(
                self.targets.job(
                    send.token,
                    send.payload.room_id,
                    send.claims.user_id,
                    send.claims.name,
                    mentions_of(send.payload),
                )
                for _, send in misses
            ),
            return_exceptions=True,
        )
        for (index, _), answer in zip(misses, found, strict=True):
            entry = done[index]
            if isinstance(answer, ChatError):
                done[index] = answer
            elif isinstance(answer, BaseException):
                log.error("notify_look_up_failed", error=repr(answer))
                done[index] = Unavailable()
            elif isinstance(entry, NewMessage):
                done[index] = replace(entry, notify=answer)
