"""The settings each Procfile process gets under `make run` (honcho), with no port variables:
the README's ports, and no setting read from a generic variable a process manager sets."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest
from honcho.environ import expand_processes, parse_procfile

from chatcore.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
# The ports the README and the contract name.
PORTS = {"gateway": 8000, "auth_service": 8001, "room_service": 8002, "message_service": 8003}
# Variables process managers and platforms set for their own reasons (honcho and foreman set
# PORT per process, Heroku and Cloud Run PORT, many shells HOST or HOSTNAME, ...).
GENERIC = {
    "PORT": "5000",
    "HOST": "0.0.0.0",
    "HOSTNAME": "box",
    "WORKERS": "7",
    "WEB_CONCURRENCY": "7",
    "RATE": "1",
    "BURST": "1",
    "STATIC_DIR": "/nowhere",
    "SIGNING_KEY": "not a key",
    "SIGNING_KEY_FILE": "/nowhere",
    "ACCESS_TTL": "31",
    "BATCH_MAX": "1",
}


def _settings_class(module: str) -> type[ServiceSettings]:
    found = [
        value
        for value in vars(importlib.import_module(f"{module}.settings")).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    ]
    assert len(found) == 1, found
    return found[0]


def _procfile_modules() -> dict[str, str]:
    """Procfile process name -> the module it runs (`python -m <module> serve`)."""
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    modules = {}
    for name, command in procfile.processes.items():
        match = re.search(r"-m (\w+) serve", command)
        assert match, command
        modules[name] = match.group(1)
    return modules


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any port, URL or service-prefixed variable."""
    for name in list(os.environ):
        if (
            name.endswith(("_PORT", "_URL"))
            or name.startswith(("AUTH_", "ROOMS_", "MESSAGES_", "GATEWAY_"))
            or name in GENERIC
        ):
            monkeypatch.delenv(name)
    return monkeypatch


def test_each_procfile_process_gets_its_readme_port_under_honcho(
    plain_env: pytest.MonkeyPatch,
) -> None:
    """Under honcho's PORT=5000, 5100, ... each service still listens on 8000-8003."""
    modules = _procfile_modules()
    assert sorted(modules.values()) == sorted(PORTS)
    # Exactly what `honcho start` does with no .env file: base port 5000, +100 per process.
    processes = expand_processes(
        parse_procfile((ROOT / "Procfile").read_text()).processes, env={}, port=5000
    )
    assert {p.env["PORT"] for p in processes} == {"5000", "5100", "5200", "5300"}
    for process in processes:
        module = modules[process.name.split(".")[0]]
        with pytest.MonkeyPatch.context() as mp:
            for name, value in process.env.items():
                mp.setenv(name, value)
            settings = _settings_class(module).from_env()
            assert settings.port == PORTS[module], (process.name, process.env)  # type: ignore[attr-defined]
            # The gateway finds auth-service's keys where auth-service listens.
            assert settings.jwks_url == "http://127.0.0.1:8001/auth/.well-known/jwks.json"
            assert settings.messages_url == "http://127.0.0.1:8003"


@pytest.mark.parametrize("module", sorted(PORTS))
def test_no_setting_is_read_from_a_generic_variable(
    plain_env: pytest.MonkeyPatch, module: str
) -> None:
    """PORT, HOST, WORKERS and each service setting's bare field name change nothing."""
    cls = _settings_class(module)
    defaults = cls.from_env()
    for name, value in GENERIC.items():
        plain_env.setenv(name, value)
    for name, field in cls.model_fields.items():
        if field.validation_alias is not None:  # a service setting: only its prefixed name
            plain_env.setenv(name.upper(), "1")
    assert cls.from_env() == defaults
