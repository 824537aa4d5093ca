"""The command line every service shares: ``python -m <service> serve|migrate``.

A service's ``__main__`` calls :func:`main` with its name, settings class, application
factory, migrations and any tools of its own (``keygen PATH``); the shared library itself is
never run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from chatcore.logs import configure_logging, get_logger
from chatcore.migrations import ensure_database, migrate
from chatcore.settings import ServiceSettings


@dataclass(frozen=True)
class Tool:
    """A command of one argument besides serve and migrate (``keygen PATH``); it reads what
    settings it needs itself, so a tool runs before the service's settings are valid."""

    run: Callable[[str], int]
    arg: str  # the argument's name in the usage line
    help: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: type[ServiceSettings]
    # "package.module:function" returning the ASGI app, for uvicorn's factory mode.
    factory: str
    schema: str | None = None
    migrations: Path | None = None
    tools: Mapping[str, Tool] = field(default_factory=dict)


def main(spec: ServiceSpec, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.factory.split('.')[0]}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service")
    commands.add_parser("migrate", help="create the database if missing and apply migrations")
    for name, tool in spec.tools.items():
        commands.add_parser(name, help=tool.help).add_argument("arg", metavar=tool.arg)
    args = parser.parse_args(argv)
    if args.command in spec.tools:
        return spec.tools[args.command].run(args.arg)
    settings = spec.settings.from_env()
    configure_logging(spec.name, settings.log_level, json=settings.log_json)
    if args.command == "migrate":
        return asyncio.run(_migrate(spec, settings))
    return _serve(spec, settings)


async def _migrate(spec: ServiceSpec, settings: ServiceSettings) -> int:
    log = get_logger(spec.name)
    if spec.schema is None or spec.migrations is None:
        log.info("no_migrations")
        return 0
    try:
        if await ensure_database(settings.database_url):
            log.info("database_created")
        applied = await migrate(
            settings.database_url, spec.schema, spec.migrations, settings.service_role
        )
    except OSError as exc:
        print(f"{spec.name}: cannot reach Postgres at the DATABASE_URL ({exc}).", file=sys.stderr)
        return 1
    log.info("migrations_done", schema=spec.schema, applied=applied)
    return 0


def _serve(spec: ServiceSpec, settings: ServiceSettings) -> int:
    port = int(getattr(settings, "port"))  # noqa: B009 - each service declares its own
    workers = int(getattr(settings, "workers", 1))
    uvicorn.run(
        spec.factory,
        factory=True,
        host=settings.bind_host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        # request.client is the TCP peer: uvicorn would otherwise take X-Forwarded-For from
        # any local peer, and a local client could pick its own address (login throttling).
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        # Longer than the clients' own idle timeout (chatcore.httpclient: 30 s), so it is
        # the client that closes an idle connection, never a request that meets it closing.
        timeout_keep_alive=75,
    )
    return 0
