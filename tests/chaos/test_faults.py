"""Each fault under load: every client's messages compared with Postgres afterwards.

The short size runs in ``make test``; the full size (200 clients in 20 rooms) in ``make chaos``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos import report
from tests.chaos.faults import CASES
from tests.chaos.run import SCALES, Load, Users
from tests.chaos.stack import Stack

SIZES = [
    pytest.param("short", id="short"),
    pytest.param("full", id="full", marks=pytest.mark.chaos),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(CASES))
async def test_fault_loses_nothing(case: str, size: str, stack: Stack, users: Users) -> None:
    """Under the fault no acknowledged message is lost, none is seen twice or out of order,
    and every client sends and is acknowledged again afterwards."""
    scale = SCALES[size]
    load = Load(stack, scale, case)
    users_needed = await users.ensure(scale.clients)
    fault_at = restored_at = time.monotonic()
    try:
        await load.start(users_needed)
        await asyncio.sleep(scale.before)
        fault_at, restored_at = await CASES[case](stack, load)
        await asyncio.sleep(scale.after)
    finally:
        figures = await load.finish(fault_at, restored_at)
        report.FAULTS.append(figures)
    crashes = stack.crashes()[-5:]
    assert figures.clean, (figures, crashes, figures.examples)
