"""The gateway process: resources built from settings, the websocket server, shutdown.

``GATEWAY_WORKERS`` > 1 forks that many independent processes sharing the port with
SO_REUSEPORT; they share nothing in memory (Redis carries everything between them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any

import uvloop
from websockets.asyncio.server import ServerConnection, serve

from chatcore import gctuning, tracing
from chatcore.logs import get_logger
from chatcore.metrics import DEPENDENCY_UP
from chatcore.redisconn import Names, create_redis
from chatcore.revocations import Revocations
from chatcore.tokens import TokenVerifier
from gateway.delivery import Delivery
from gateway.gapcheck import GapCheck
from gateway.membership_events import MembershipEvents
from gateway.pipelines import BatchedRateLimiter, Pipelines
from gateway.presence import Presence
from gateway.profiles import Profiles
from gateway.registry import Registry
from gateway.requests import Requests
from gateway.resume import Resumes
from gateway.routes import Routes
from gateway.server import Connections
from gateway.settings import GatewaySettings
from gateway.subscriptions import Subscriptions
from gateway.upstream import Upstream
from gateway.user_rooms import UserRooms

log = get_logger(__name__)

# Connections the kernel holds for us before we accept them (it caps this at somaxconn).
# asyncio's default, 100, overflowed in a reconnect storm: the kernel then drops the
# clients' SYNs, and each retries only after 1, 3, 7, 15, 31 s (a minute for some).
LISTEN_BACKLOG = 4096

# Seconds a SIGTERM may take: closing every connection (their close handshakes take at most
# 5 s), giving back their presence leases, closing the resources.
SHUTDOWN_LIMIT = 15.0
# Seconds the background tasks get to end once cancelled, at shutdown.
TASKS_STOP_S = 1.0


def _waits(tasks: Iterable[asyncio.Task[Any]] | None = None) -> dict[str, int]:
    """What the tasks still running (all, or ``tasks``) wait on (the chain of coroutines of
    each, outermost first, as file:function:line, counted): where a shutdown is stuck."""
    waits: dict[str, int] = {}
    for task in asyncio.all_tasks() if tasks is None else tasks:
        coro: Any = task.get_coro()
        chain = []
        while coro is not None and getattr(coro, "cr_frame", None) is not None:
            frame = coro.cr_frame
            name = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}"
            chain.append(f"{name}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None)
        where = " > ".join(chain) or "?"
        waits[where] = waits.get(where, 0) + 1
    return dict(sorted(waits.items(), key=lambda kv: -kv[1])[:20])


def _set(stop: asyncio.Future[None]) -> None:
    """The first SIGTERM or SIGINT starts the shutdown; more change nothing."""
    if not stop.done():
        stop.set_result(None)


class Gateway:
    """Every resource of one gateway process, wired together."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        names = Names(settings.redis_prefix)
        self.redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
        self.upstream = Upstream(settings)
        self.verifier = TokenVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway,
            http=self.upstream.http,
        )
        self.subscriptions = Subscriptions(
            settings.redis_url,
            names,
            cluster=settings.redis_cluster,
            # Named so an operator (or a test) can find this process's pub/sub connection.
            client_name=f"{settings.redis_prefix}gateway-pubsub-{settings.port}",
        )
        self.delivery = Delivery(
            self.upstream, self.subscriptions, send_buffer_limit=settings.send_buffer_limit
        )
        self.gaps = GapCheck(self.delivery, settings.gap_check_interval)
        # Presence's Redis work and the rate limiters' share pipelines across connections.
        self.pipelines = Pipelines(self.redis)
        self.presence = Presence(self.pipelines, names, settings.presence_lease)
        self.registry = Registry(self.delivery)
        resumes = Resumes(self.delivery, self.upstream)
        user_limits = BatchedRateLimiter(
            self.pipelines,
            names.key("gateway", "user", ""),
            rate=settings.user_rate,
            burst=settings.user_burst,
        )
        # Each user's rooms kept between their connects while membership events say nothing
        # changed; not used while those events may be missed (the pub/sub link is down).
        user_rooms = UserRooms(lambda: self.subscriptions.connected)
        self.connections = Connections(
            settings,
            verifier=self.verifier,
            upstream=self.upstream,
            delivery=self.delivery,
            presence=self.presence,
            registry=self.registry,
            requests=Requests(
                self.upstream,
                self.presence,
                resumes,
                user_limits=user_limits,
                delivery=self.delivery,
            ),
            user_rooms=user_rooms,
        )
        self.gaps.positions = self.connections.reads.position
        self.membership = MembershipEvents(
            self.registry,
            self.delivery,
            self.upstream,
            self.presence,
            user_rooms,
            presence_room_max=settings.presence_room_max,
        )
        self.profiles = Profiles(self.registry, self.redis, names)
        self.subscriptions.route(
            on_room=self.delivery.on_payload,
            on_membership=self.membership.on_event,
            on_room_gap=self.gaps.check,
            on_membership_gap=self.membership.reconcile,
            on_profile=self.profiles.on_event,
            on_membership_lost=user_rooms.clear,
        )
        self.revocations = Revocations(
            self.redis,
            settings.redis_url,
            names,
            cluster=settings.redis_cluster,
            on_revoked=self.connections.revoke,
        )
        self.verifier.revocations = self.revocations
        self.connections.revocations = self.revocations
        connects = BatchedRateLimiter(
            self.pipelines,
            names.key("gateway", "connects", ""),
            rate=settings.connect_rate,
            burst=settings.connect_burst,
        )
        self.routes = Routes(settings, self.ready, connects, busy=self.connections.busy)
        self._tasks: list[asyncio.Task[None]] = []
        # Connection handlers still running, and the event set when the last one returns.
        self._handlers = 0
        self._drained = asyncio.Event()

    async def ready(self) -> bool:
        """Redis answers, the pub/sub connection is up and the token keys are fetched."""
        try:
            await self.redis.ping()
        except Exception:
            redis_up = False
        else:
            redis_up = True
        if not self.verifier.has_keys:
            with contextlib.suppress(Exception):
                await self.verifier.refresh(force=False)
        DEPENDENCY_UP.labels("redis").set(redis_up)
        DEPENDENCY_UP.labels("pubsub").set(self.subscriptions.connected)
        DEPENDENCY_UP.labels("token_keys").set(self.verifier.has_keys)
        return redis_up and self.verifier.has_keys and self.subscriptions.connected

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then close every connection with 1001 and return."""
        with contextlib.suppress(Exception):
            await self.verifier.refresh()
        await self.subscriptions.start()
        await self.revocations.start()
        self._tasks = [
            asyncio.create_task(self.gaps.run()),
            asyncio.create_task(self.presence.run()),
        ]
        stop = asyncio.get_running_loop().create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, _set, stop)
        s = self.settings
        server = await serve(
            self._handle,
            s.bind_host,
            s.port,
            process_request=self.routes,
            compression=None,
            max_size=s.max_frame,
            max_queue=s.max_queue,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=5,
            server_header=None,
            reuse_port=s.workers > 1,
            backlog=LISTEN_BACKLOG,
        )
        log.info("gateway_listening", port=s.port, pid=os.getpid())
        await stop
        log.info("gateway_stopping", connections=self._handlers)
        began = time.monotonic()
        # Nothing is given back one connection at a time: the channels go with the process,
        # the presence leases all together once the connections are closed.
        self.subscriptions.stopping = True
        self.presence.stopping = True
        # Stop accepting, and close every open connection with 1001 (going away).
        server.close(close_connections=True)
        stage = "connections"
        try:
            # A shutdown that cannot finish must not keep the process forever. What it waits
            # for is our handlers (each gives its connection's lease back as it returns), not
            # the server's count of open sockets, which has been seen never to reach zero.
            async with asyncio.timeout(SHUTDOWN_LIMIT):
                if self._handlers:
                    await self._drained.wait()
                closed = time.monotonic()
                stage = "resources"
                await self.close()
            # How long each stage took: what a restart's downtime is made of.
            log.info(
                "gateway_stopped",
                connections_s=round(closed - began, 3),
                resources_s=round(time.monotonic() - closed, 3),
            )
        except TimeoutError:
            log.warning("shutdown_unfinished", limit=SHUTDOWN_LIMIT, stage=stage, waiting=_waits())

    async def _handle(self, ws: ServerConnection) -> None:
        if self._handlers == 0:
            self._drained.clear()
        self._handlers += 1
        try:
            await self.connections.handle(ws)
        finally:
            self._handlers -= 1
            if self._handlers == 0:
                self._drained.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        # Bounded: a task that swallowed its cancellation must not hold the shutdown (seen in
        # the reconnect storm: a worker waited here until the 15 s limit, about one restart in
        # three; what is left is logged with where it waits).
        _, pending = (
            await asyncio.wait(self._tasks, timeout=TASKS_STOP_S) if self._tasks else ((), ())
        )
        if pending:
            log.warning("shutdown_tasks_pending", waiting=_waits(pending))
        with contextlib.suppress(Exception):
            await self.presence.release_all()
        await self.connections.reads.aclose()
        await self.delivery.change_reads.aclose()
        await self.pipelines.aclose()
        await self.subscriptions.stop()
        await self.revocations.stop()
        await self.upstream.aclose()
        await self.redis.aclose()


def serve_process(settings: GatewaySettings) -> int:
    """Run the gateway: one process, or ``workers`` forked ones sharing the port."""
    if settings.workers == 1:
        tracing.configure("gateway")
        gctuning.tune()
        uvloop.run(Gateway(settings).run())
        tracing.shutdown()
        return 0
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                # Each worker its own exporter thread, flushed before os._exit.
                tracing.configure("gateway")
                gctuning.tune()
                uvloop.run(Gateway(settings).run())
                tracing.shutdown()
            except BaseException:
                log.exception("worker_failed")
                code = 1
            os._exit(code)
        children.append(pid)

    def forward(sig: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    sys.stdout.flush()
    return 0 if status <= 0 else status
