"""A real Prometheus on loopback scrapes the running system: every process is up, one series
of each is queryable, and the alerting rules evaluate against real series without error."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "monitoring" / "alerts.yml"


@pytest.fixture
def prometheus(
    tmp_path: Path,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    gateway_service: ServiceProcess,
) -> Iterator[str]:
    """A Prometheus scraping the four services every second, with deploy/'s alerting rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make monitoring-tools` installs Debian's package")
    targets = {
        "auth": auth_service,
        "rooms": room_service,
        "messages": message_service,
        "gateway": gateway_service,
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{p.port}"]}]}
            for job, p in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_port(port, 30), (tmp_path / "prometheus.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


async def _query(
    http: httpx.AsyncClient, base: str, expr: str, *, starting: bool = False
) -> list[dict[str, object]]:
    """The query's result. ``starting``: nothing yet while Prometheus still starts (503 until
    its storage is ready: a slow machine's first queries can come before that)."""
    r = await http.get(f"{base}/api/v1/query", params={"query": expr})
    if starting and r.status_code == 503:
        return []
    assert r.status_code == 200, r.text
    result: list[dict[str, object]] = r.json()["data"]["result"]
    return result


async def test_prometheus_scrapes_one_series_from_each_process(
    prometheus: str,
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    room_service: ServiceProcess,
) -> None:
    """up is 1 for every job, and a metric of each process's own is in Prometheus."""
    # Readiness checks set chat_dependency_up; a probe would run them in a cluster.
    for service in (auth_service, room_service):
        assert (await http.get(f"{service.url}/readyz")).status_code == 200
    wanted = {
        "auth": 'chat_dependency_up{job="auth", dependency="postgres"} == 1',
        "rooms": 'chat_dependency_up{job="rooms", dependency="redis"} == 1',
        "messages": 'messages_persisted_total{job="messages"}',
        "gateway": 'gateway_connections{job="gateway"}',
    }
    deadline = time.monotonic() + 30
    missing = dict(wanted)
    while missing and time.monotonic() < deadline:
        for job, expr in list(missing.items()):
            up = await _query(http, prometheus, f'up{{job="{job}"}} == 1', starting=True)
            if up and await _query(http, prometheus, expr, starting=True):
                del missing[job]
        await asyncio.sleep(0.5)
    assert missing == {}


async def test_alerting_rules_evaluate_against_the_live_series(
    prometheus: str, http: httpx.AsyncClient
) -> None:
    """Every rule of deploy/monitoring/alerts.yml is loaded and evaluates without error, and
    none fires on a healthy system."""
    expected = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    deadline = time.monotonic() + 30
    rules: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        r = await http.get(f"{prometheus}/api/v1/rules")
        if r.status_code != 200:  # 503 while Prometheus is still starting (a loaded machine)
            await asyncio.sleep(0.5)
            continue
        groups = r.json()["data"]["groups"]
        rules = [rule for g in groups for rule in g["rules"]]
        if len(rules) == expected and all(
            rule.get("lastEvaluation", "0001").startswith("2") for rule in rules
        ):
            break
        await asyncio.sleep(0.5)
    assert len(rules) == expected
    assert [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"] == []
    firing = await _query(http, prometheus, 'ALERTS{alertstate="firing"}')
    assert firing == []
