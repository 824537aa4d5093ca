"""The test kit's own promises that other tests lean on."""

from __future__ import annotations

from chat_testkit.processes import ELSEWHERE_SAFE, elsewhere_safe

RUN = {"DATABASE_URL": "postgresql://127.0.0.1/run", "REDIS_PREFIX": "run:"}


def test_a_replica_under_another_prefix_on_the_run_database_leaves_its_work_alone() -> None:
    """Its outbox relay and notification worker would act under a prefix no gateway hears."""
    assert elsewhere_safe(RUN, {"REDIS_PREFIX": "run:muted:"}) == {
        **ELSEWHERE_SAFE,
        "REDIS_PREFIX": "run:muted:",
    }


def test_what_the_caller_sets_wins() -> None:
    env = {"REDIS_PREFIX": "run:x:", "MESSAGES_NOTIFY_WORKER": "true"}
    assert elsewhere_safe(RUN, env)["MESSAGES_NOTIFY_WORKER"] == "true"


def test_a_replica_of_the_run_or_on_its_own_database_is_left_as_it_is() -> None:
    """Same prefix: an equal replica, sharing the work is what it is for. Own database: no
    rows of the run to take."""
    assert elsewhere_safe(RUN, {"GATEWAY_PORT": "1"}) == {"GATEWAY_PORT": "1"}
    own = {"REDIS_PREFIX": "run:own:", "DATABASE_URL": "postgresql://127.0.0.1/own"}
    assert elsewhere_safe(RUN, own) == own
