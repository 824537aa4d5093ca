"""The one cluster setting: off by default, and refused with a prefix that would put the whole
deployment in one slot."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chatcore.settings import ServiceSettings


def test_cluster_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without REDIS_CLUSTER every process talks to one Redis with plain pub/sub."""
    monkeypatch.delenv("REDIS_CLUSTER", raising=False)
    assert ServiceSettings.from_env().redis_cluster is False


def test_hash_tag_in_the_prefix_is_refused_on_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """REDIS_PREFIX with a '{' and REDIS_CLUSTER=true: the process refuses to start."""
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    monkeypatch.setenv("REDIS_PREFIX", "{chat}:")
    with pytest.raises(ValidationError, match="REDIS_PREFIX must not contain"):
        ServiceSettings.from_env()
    monkeypatch.setenv("REDIS_CLUSTER", "false")
    assert ServiceSettings.from_env().redis_prefix == "{chat}:"
