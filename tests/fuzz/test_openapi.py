"""schemathesis against each HTTP service's OpenAPI document: positive and negative cases (and
stateful sequences where the document links calls), with a valid bearer token. No input may
get a 5xx, crash a task or grow the process's memory without bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from tests.chaos import report
from tests.fuzz.services import answered, crashes, rss_mib

# make test runs the document check below, which counts server errors and crashes too; the
# long run with stateful sequences is make chaos's.
SIZES = [pytest.param(150, id="full", marks=pytest.mark.chaos)]
PREFIX = {"auth": "/auth", "rooms": "/rooms", "messages": "/messages"}
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("examples", SIZES)
@pytest.mark.parametrize("service", list(PREFIX))
def test_no_input_gets_a_server_error(
    service: str,
    examples: int,
    fuzz_services: dict[str, ServiceProcess],
    fuzz_user: TestUser,
    gateway_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    """Every generated request is answered below 500, and the service logs no crash."""
    process = fuzz_services[service]
    command = [
        SCHEMATHESIS,
        "run",
        f"{process.url}{PREFIX[service]}/openapi.json",
        "--url",
        process.url,
        "--header",
        f"Authorization: Bearer {fuzz_user.access_token}",
        # As the gateway, so POST /messages/batch is fuzzed past its 403 (the others ignore it).
        *[a for name, value in gateway_headers.items() for a in ("--header", f"{name}: {value}")],
        "--checks",
        "not_a_server_error",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(examples),
        "--seed",
        "9",
        # One worker: with threads, hypothesis' source inspection hits a CPython 3.11 bug
        # (SystemError: AST constructor recursion depth mismatch) inside schemathesis.
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--suppress-health-check",
        "all",
        "--output-sanitize",
        "true",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = _run(command, process, f"schemathesis {service}", tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("service", list(PREFIX))
def test_openapi_document_matches_what_the_service_accepts(
    service: str,
    fuzz_services: dict[str, ServiceProcess],
    fuzz_user: TestUser,
    gateway_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    """schemathesis --checks all: data the document allows is accepted, data it forbids is
    refused with a 4xx, every answer has a documented status, content type and schema."""
    process = fuzz_services[service]
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{process.url}{PREFIX[service]}/openapi.json",
        "--url",
        process.url,
        "--header",
        f"Authorization: Bearer {fuzz_user.access_token}",
        # As the gateway, so POST /messages/batch is fuzzed past its 403 (the others ignore it).
        *[a for name, value in gateway_headers.items() for a in ("--header", f"{name}: {value}")],
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("OPENAPI_EXAMPLES", "25"),
        "--seed",
        "9",
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--suppress-health-check",
        "all",
        "--output-sanitize",
        "true",
    ]
    result = _run(command, process, f"schemathesis {service} (document)", tmp_path)
    # The failures first (each with its request), then the summary: the end alone cuts them.
    failures = result.stdout.partition("FAILURES")[2].partition("SUMMARY")[0]
    summary = failures[:12000] + result.stdout[-2000:]
    print(summary)
    assert result.returncode == 0, summary


def _run(
    command: list[str], process: ServiceProcess, suite: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run schemathesis against ``process``; no request it made may get a 5xx or log a crash
    (checked from the service's own metrics and log, whatever schemathesis' checks say)."""
    before = answered(process)
    memory_before = rss_mib(process)
    crashed_before = len(crashes(process))
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
        # Its own directory: schemathesis keeps a cache (.schemathesis/) where it runs.
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    after = answered(process)
    tried = sum(after.values()) - sum(before.values())
    server_errors = sum(n for code, n in after.items() if code >= 500) - sum(
        n for code, n in before.items() if code >= 500
    )
    crashed = crashes(process)[crashed_before:]
    report.FUZZ.append(
        report.FuzzFigures(
            suite=suite,
            inputs=tried,
            server_errors=server_errors,
            crashed_tasks=len(crashed),
            memory_before_mib=memory_before,
            memory_after_mib=rss_mib(process),
        )
    )
    assert tried > 0
    assert server_errors == 0, result.stdout[-6000:]
    assert crashed == [], crashed[:3]
    return result
