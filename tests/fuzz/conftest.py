"""Fixtures of the bad-input suites: instances of every service of their own (their own Redis
prefix, so fuzzed logins and sends fill no rate bucket another test relies on) and a user."""

from __future__ import annotations

import pytest

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from tests.chaos import report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Full-size runs (marked ``chaos``) only under ``make chaos`` (CHAOS=1)."""
    report.skip_other_size(items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report.print_table(terminalreporter)


@pytest.fixture(scope="session")
def fuzz_services(
    start_service: StartService, gateway_service: ServiceProcess, redis_prefix: str
) -> dict[str, ServiceProcess]:
    """auth, rooms, messages and gateway instances for fuzzing, sharing the run's database."""
    # No rate limits: the fuzzer must reach the parsers, not the limiters.
    env = {
        "REDIS_PREFIX": f"{redis_prefix}fuzz:",
        # They share the run's database under their own prefix: the starter leaves the run's
        # background work to the run's services (chat_testkit.processes.ELSEWHERE_SAFE).
        "GATEWAY_RATE": "100000",
        "GATEWAY_BURST": "100000",
        "MESSAGES_SEND_RATE": "100000",
        "MESSAGES_SEND_BURST": "100000",
        "MESSAGES_ACTION_RATE": "100000",
        "MESSAGES_ACTION_BURST": "100000",
        "GATEWAY_USER_RATE": "100000",
        "GATEWAY_USER_BURST": "100000",
        "ROOMS_CREATE_RATE": "100000",
        "ROOMS_CREATE_BURST": "100000",
    }
    auth = start_service("auth_service", env=env, migrate=False)
    rooms = start_service("room_service", env={**env, "AUTH_URL": auth.url}, migrate=False)
    messages = start_service("message_service", env={**env, "ROOMS_URL": rooms.url}, migrate=False)
    gateway = start_service(
        "gateway", env={**env, "ROOMS_URL": rooms.url, "MESSAGES_URL": messages.url}, migrate=False
    )
    return {"auth": auth, "rooms": rooms, "messages": messages, "gateway": gateway}


@pytest.fixture
async def fuzz_user(make_user: MakeUser) -> TestUser:
    """A user whose token authenticates the fuzzed calls (the run's key signs for every
    instance)."""
    return await make_user()


@pytest.fixture
async def fuzz_outsider(make_user: MakeUser) -> TestUser:
    """Another user, whose room the fuzzed frames name without being a member."""
    return await make_user()
