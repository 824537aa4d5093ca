"""README.md and docs/operations.md stay true: every setting with its default, every metric,
every link."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from chatcore.settings import ServiceSettings
from tests.deploy.project import ROOT, SERVICES

OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary)\(\s*\"([a-z_:][a-z0-9_:]*)\"", re.S)


def _settings_classes() -> list[type[ServiceSettings]]:
    found: list[type[ServiceSettings]] = [ServiceSettings]
    for spec in SERVICES:
        module = importlib.import_module(f"{spec.module}.settings")
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value is not ServiceSettings
        ]
    return found


def _env_name(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias or name).upper()


def _shown(default: object) -> str:
    """A default as the table writes it."""
    if default is None:
        return "(none)"
    if default == "":
        return "(empty)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def _documented() -> dict[str, str]:
    """variable -> default column, from the settings tables."""
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", OPERATIONS.read_text(), re.M)
    return {name: default.strip() for name, default in rows}


def test_every_setting_is_documented_with_its_default() -> None:
    """Each environment variable any process reads has a row with its real default."""
    documented = _documented()
    missing, wrong = [], []
    for cls in _settings_classes():
        for name, field in cls.model_fields.items():
            env = _env_name(name, field)
            if env not in documented:
                missing.append(env)
            elif documented[env] != _shown(field.default):
                wrong.append(f"{env}: documented {documented[env]}, is {_shown(field.default)}")
    assert missing == [], f"not in docs/operations.md: {missing}"
    assert wrong == []


def test_documented_settings_exist() -> None:
    """No row names a setting that no process reads."""
    real = {
        _env_name(name, field)
        for cls in _settings_classes()
        for name, field in cls.model_fields.items()
    }
    assert set(_documented()) - real == set()


def test_every_metric_is_documented() -> None:
    """Each Prometheus metric the code defines is named in docs/operations.md."""
    text = OPERATIONS.read_text()
    defined = set()
    for folder in ("chatcore", "auth-service", "room-service", "message-service", "gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" not in path.parts and "testing" not in path.parts:
                defined |= set(METRIC.findall(path.read_text()))
    assert defined, "no metric found: the pattern is wrong"
    assert sorted(m for m in defined if f"`{m}" not in text) == []


@pytest.mark.parametrize("doc", ["README.md", "docs/operations.md"])
def test_links_point_at_files_that_exist(doc: str) -> None:
    """Every relative link resolves to a file or folder of the repository."""
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (path.parent / target).exists(), f"{doc} links to missing {target}"


def test_readme_starts_with_the_two_commands() -> None:
    """make run and make test come before anything else to type, then docker compose up."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert commands[:2] == ["make run", "make test"]
    assert "docker compose up" in text
    assert text.index("make run") < text.index("docker compose up")


def test_readme_architecture_follows_one_message() -> None:
    """The picture names each hop of a message, in order."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Architecture") :]
    picture = section.split("```")[1]
    hops = ["send", "gateway", "message-service", "Postgres", "Redis", "every gateway", "socket"]
    positions = [picture.find(h) for h in hops]
    assert -1 not in positions, dict(zip(hops, positions, strict=True))
    assert positions == sorted(positions)


def test_operations_names_only_real_files() -> None:
    """Files the operations guide mentions by path exist."""
    text = OPERATIONS.read_text()
    for path in re.findall(r"\b((?:tests|deploy|docs|scripts)/[\w./-]+\.(?:py|md|yaml))", text):
        assert Path(ROOT / path).exists(), path
