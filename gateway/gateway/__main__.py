"""``python -m gateway serve|migrate`` (the gateway has no database: migrate does nothing)."""

from __future__ import annotations

import argparse

from chatcore.logs import configure_logging, get_logger
from gateway.app import serve_process
from gateway.settings import GatewaySettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the websocket gateway")
    commands.add_parser("migrate", help="nothing to migrate (no database); exits 0")
    args = parser.parse_args(argv)
    settings = GatewaySettings.from_env()
    configure_logging("gateway", settings.log_level, json=settings.log_json)
    if args.command == "migrate":
        get_logger("gateway").info("no_migrations")
        return 0
    return serve_process(settings)


raise SystemExit(main())
