"""deploy/monitoring: the alerting rules load and behave as their unit tests say, and every
series the rules and the dashboard use is one the code defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.project import ROOT
from tests.deploy.test_docs import METRIC, OPERATIONS

MONITORING = ROOT / "deploy" / "monitoring"
# Series that come from Prometheus itself or from kube-state-metrics, not from this code.
EXTERNAL = {"up", "kube_pod_status_ready"}
SERIES = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[)")
NAME_MATCH = re.compile(r'__name__=~"([^"]+)"')


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `make monitoring-tools` installs Debian's prometheus")
    return path


def _defined_metrics() -> set[str]:
    defined: set[str] = set()
    for folder in ("chatcore", "auth-service", "room-service", "message-service", "gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" not in path.parts and "testing" not in path.parts:
                defined |= set(METRIC.findall(path.read_text()))
    return defined


def _series_in(expr: str) -> set[str]:
    names = set(SERIES.findall(expr))
    for alternatives in NAME_MATCH.findall(expr):
        names |= set(alternatives.split("|"))
    # Histogram series are named after the metric with a suffix.
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names} - {"by", "without"}


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_rules_are_valid() -> None:
    """`promtool check rules` accepts alerts.yml."""
    run = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"], cwd=MONITORING, capture_output=True
    )
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()


def test_rules_pass_their_unit_tests() -> None:
    """`promtool test rules alerts-test.yml`: each alert fires when and only when it should."""
    run = subprocess.run(
        [_promtool(), "test", "rules", "alerts-test.yml"], cwd=MONITORING, capture_output=True
    )
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_series_used_is_defined_by_the_code(source: str) -> None:
    """A renamed metric cannot leave an alert or a panel silently empty."""
    exprs = _rule_exprs() if source == "alerts" else _dashboard_exprs()
    assert exprs
    used = set().union(*(_series_in(e) for e in exprs))
    assert used
    assert sorted(used - _defined_metrics() - EXTERNAL) == []


def test_every_alert_has_a_runbook_in_the_operations_guide() -> None:
    """Each alert's runbook_url points at a heading of docs/operations.md."""
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("docs/operations.md#"), url
        assert url.split("#", 1)[1] in headings, f"{rule['alert']}: no heading for {url}"
        assert rule["labels"]["severity"] in {"critical", "warning"}
