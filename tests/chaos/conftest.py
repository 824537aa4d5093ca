"""The fault suite's private stack, the skipping of full-size cases outside ``make chaos``,
and the figures table printed at the end of every run that measured something."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos import report
from tests.chaos.run import Users
from tests.chaos.stack import Stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Full-size cases (marked ``chaos``) run only under ``make chaos`` (CHAOS=1)."""
    report.skip_other_size(items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report.print_table(terminalreporter)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The private system the fault cases break; torn down (servers and files) at the end."""
    system = Stack()
    try:
        system.up()
        yield system
    finally:
        system.down()


@pytest.fixture(scope="session")
def users(stack: Stack) -> Users:
    return Users(stack)
