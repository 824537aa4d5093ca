"""What the deployment files must agree with, read from the repository itself.

`make run` is the reference: the Procfile says how each service starts, the Makefile's
MIGRATE_SERVICES which services migrate and in what order, the workspace members which
package holds which module. The contract fixes the names and ports.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    """One of the four processes, as the contract names it."""

    name: str  # Procfile, compose and Kubernetes name
    module: str  # python -m <module> serve
    port: int
    port_env: str
    url_env: str  # how the other services find it


SERVICES = (
    Service("auth", "auth_service", 8001, "AUTH_PORT", "AUTH_URL"),
    Service("rooms", "room_service", 8002, "ROOMS_PORT", "ROOMS_URL"),
    Service("messages", "message_service", 8003, "MESSAGES_PORT", "MESSAGES_URL"),
    Service("gateway", "gateway", 8000, "GATEWAY_PORT", "GATEWAY_URL"),
)
BY_NAME = {s.name: s for s in SERVICES}


def procfile(path: Path = ROOT / "Procfile") -> dict[str, list[str]]:
    """Each Procfile entry's command, split like a shell would."""
    entries: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        entries[name.strip()] = shlex.split(command)
    return entries


def in_image(command: list[str]) -> list[str]:
    """A Procfile command as it reads inside an image, where the venv's python is on PATH."""
    if command and command[0].endswith("/python"):
        return ["python", *command[1:]]
    return command


def make_variable(name: str) -> str:
    """A Makefile variable's value, as make itself expands it."""
    result = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            f"print-var: ; @echo $({name})",
            "print-var",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def migrate_services() -> list[str]:
    """The modules `make migrate` migrates, in order."""
    return make_variable("MIGRATE_SERVICES").split()


def workspace_packages() -> dict[str, str]:
    """module -> workspace member (distribution) name, e.g. auth_service -> auth-service."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: dict[str, str] = {}
    for member in root["tool"]["uv"]["workspace"]["members"]:
        meta = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
        for package in meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
            found[package] = meta["project"]["name"]
    return found


def workspace_members() -> list[str]:
    """The member folders of the uv workspace."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(root["tool"]["uv"]["workspace"]["members"])


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: object, env: dict[str, str] | None = None) -> object:
    """Compose's variable interpolation (``${X}``, ``${X:-default}``, ``$$``) applied to
    every string in ``value``, with ``env`` as the shell environment (empty by default)."""
    env = env or {}
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            return env.get(name) or (default if default is not None else "")

        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value
