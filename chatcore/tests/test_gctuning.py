"""A served application's startup ends with the collector tuned (chatcore.gctuning)."""

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette

from chatcore import gctuning
from chatcore.service import create_from_env
from chatcore.settings import ServiceSettings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_the_objects_startup_built_are_frozen_and_young_collections_spaced(
    restored_gc: None,
) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int]] = []

    def create_app(_settings: ServiceSettings) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            app.state.cache = [{"n": n} for n in range(1000)]  # what a startup builds
            seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
            yield
            seen.append((gc.get_threshold()[0], gc.get_freeze_count()))

        return Starlette(lifespan=lifespan)

    app = create_from_env("test", ServiceSettings, create_app)
    async with app.router.lifespan_context(app):
        # The application's own startup ran first, with the thresholds it found.
        assert seen == [(700, seen[0][1])]
        assert gc.get_threshold() == (gctuning.YOUNG, 10, 10)
        assert gc.get_freeze_count() >= seen[0][1] + 1000
    assert len(seen) == 2  # and its shutdown after
