"""Reading the Dockerfile and .dockerignore, and replaying an image's build without Docker.

No Docker engine runs here. What can still be checked for real is the part that matters: the
build stage's ``uv sync`` steps, run in order on exactly the files the build context holds
(after .dockerignore), produce an environment that runs the image's command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.project import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs, continuation lines joined and comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        if whole:
            keyword, _, args = whole.partition(" ")
            found.append((keyword.upper(), args.strip()))
    return found


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, args in instructions(path.read_text()):
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages and keyword == "ARG":
            key, _, value = args.partition("=")
            global_args[key] = value
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return Dockerfile(global_args, stages)


def substitute(text: str, values: dict[str, str]) -> str:
    """Dockerfile variable substitution: ``$X`` and ``${X}``."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m.group(1) or m.group(2), ""), text)


def env_pairs(args: str) -> dict[str, str]:
    """The variables of one ``ENV a=1 b=2`` instruction."""
    return dict(part.partition("=")[::2] for part in shlex.split(args))


def arg_default(stage: Stage, name: str) -> str | None:
    for args in stage.all("ARG"):
        key, _, value = args.partition("=")
        if key == name:
            return value
    return None


class DockerIgnore:
    """The .dockerignore rules: last matching pattern wins, ``!`` re-includes, a pattern
    that matches a directory excludes everything under it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str], str]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line.lstrip("!").strip().strip("/")
            self.rules.append((include, re.compile(_glob(pattern)), pattern))

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for include, regex, _ in self.rules:
            if any(regex.fullmatch(p) for p in prefixes):
                excluded = not include
        return excluded

    def may_include_below(self, directory: str) -> bool:
        """Whether some ``!`` rule could bring back a file under ``directory``."""
        return any(
            include and (pattern.startswith(directory + "/") or pattern.startswith("**"))
            for include, _, pattern in self.rules
        )


def _glob(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out


def context_files(root: Path = ROOT) -> list[str]:
    """The files `docker build .` sends, as paths relative to ``root``."""
    ignore = DockerIgnore((root / ".dockerignore").read_text())
    found = []
    for current, dirs, files in os.walk(root):
        rel = os.path.relpath(current, root)
        base = "" if rel == "." else rel + "/"
        dirs[:] = [
            d for d in dirs if not ignore.excluded(base + d) or ignore.may_include_below(base + d)
        ]
        found += [base + f for f in files if not ignore.excluded(base + f)]
    return sorted(found)


@dataclass
class Built:
    """The result of replaying an image's build: its environment and its command."""

    venv: Path
    env: dict[str, str]
    command: list[str]


def replay_build(dockerfile: Dockerfile, build_args: dict[str, str], into: Path, uv: Path) -> Built:
    """Run the build stage's COPY and ``uv sync`` steps on the real build context.

    Absolute paths of the image are placed under ``into``. The ``pip install uv`` step is
    not replayed: the caller passes the uv the Makefile pins (a test checks they agree).
    uv runs offline, from the cache `make install` filled.
    """
    stage = dockerfile.stage("build")
    values = {**dockerfile.global_args, **build_args}
    env: dict[str, str] = {}
    workdir = into
    context = context_files()
    for keyword, args in stage.instructions:
        if keyword == "ARG":
            key, _, default = args.partition("=")
            values.setdefault(key, default)
        elif keyword == "ENV":
            for key, value in env_pairs(args).items():
                value = substitute(value, values | env)
                env[key] = str(into) + value if value.startswith("/") else value
        elif keyword == "WORKDIR":
            workdir = into / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            _copy(shlex.split(args), context, workdir)
        elif keyword == "RUN" and args.startswith("uv "):
            script = substitute(args, values | env).replace("uv ", f"{uv} ", 1)
            run_env = {
                **os.environ,
                **env,
                "UV_OFFLINE": "1",
                "UV_NO_PROGRESS": "1",
                # Compiling bytecode is most of a replay's time and changes nothing checked.
                "UV_COMPILE_BYTECODE": "0",
                # The image's python is the base image's 3.11; here, this run's.
                "UV_PYTHON": sys.executable,
            }
            run_env.pop("VIRTUAL_ENV", None)
            subprocess.run(
                ["/bin/sh", "-c", script],
                cwd=workdir,
                env=run_env,
                check=True,
                capture_output=True,
                timeout=300,
            )
    venv = Path(env["UV_PROJECT_ENVIRONMENT"])
    final_env = {}
    for args in dockerfile.final.all("ENV"):
        final_env.update(env_pairs(args))
    module = build_args.get("MODULE") or arg_default(dockerfile.final, "MODULE") or ""
    final_env = {k: substitute(v, {**final_env, "MODULE": module}) for k, v in final_env.items()}
    return Built(venv=venv, env=final_env, command=command(dockerfile, final_env))


def _copy(args: list[str], context: list[str], workdir: Path) -> None:
    args = [a for a in args if not a.startswith("--")]
    *sources, dest = args
    target = workdir / dest
    for source in sources:
        if source == ".":
            for rel in context:
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, target / rel)
            continue
        if source not in context:
            raise FileNotFoundError(f"COPY {source}: not in the build context")
        destination = target / Path(source).name if dest.endswith("/") else target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, destination)


def command(dockerfile: Dockerfile, env: dict[str, str]) -> list[str]:
    """The command the final image runs (its JSON-form CMD), a ``sh -c "exec ..."`` wrapper
    resolved with ``env``."""
    cmd = json.loads(dockerfile.final.all("CMD")[-1])
    if cmd[:2] == ["/bin/sh", "-c"] and len(cmd) == 3:
        return shlex.split(substitute(cmd[2], env).removeprefix("exec "))
    return [str(c) for c in cmd]
