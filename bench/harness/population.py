"""The plan's users and rooms, made through our real HTTP APIs by ``loadgen/populate.js``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from harness.plan import Plan

BENCH = Path(__file__).resolve().parent.parent
POPULATE = BENCH / "loadgen" / "populate.js"
TIMEOUT_S = 300


class PopulateFailed(Exception):
    """An API refused to create a user or a room the plan needs."""


def populate(plan: Plan, auth_url: str, rooms_url: str) -> tuple[list[str], dict[str, str]]:
    """Tokens by user index and room ids by room key."""
    request = {
        "auth_url": auth_url,
        "rooms_url": rooms_url,
        "tag": secrets.token_hex(3),
        "users": plan.users,
        "rooms": [
            {"key": r.key, "members": list(r.members), "direct": r.direct}
            for r in plan.rooms.values()
        ],
        "concurrency": 32,
    }
    fd, path = tempfile.mkstemp(prefix="bench-plan-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(request, out)
        # The answer holds access tokens: read from the pipe, never logged.
        done = subprocess.run(  # noqa: S603 (fixed argv)
            ["node", str(POPULATE), path],  # noqa: S607 (node from PATH)
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
            cwd=BENCH,
        )
    except subprocess.TimeoutExpired as exc:
        raise PopulateFailed(f"users and rooms not made in {TIMEOUT_S}s") from exc
    finally:
        Path(path).unlink(missing_ok=True)
    try:
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as exc:
        raise PopulateFailed(f"populate.js: {done.stderr.decode()[-500:]}") from exc
    if "error" in answer:
        raise PopulateFailed(str(answer["error"]))
    seconds = answer["seconds"]
    print(
        f"  {plan.users} users in {seconds['users']:.1f}s, "
        f"{len(plan.rooms)} rooms in {seconds['rooms']:.1f}s",
        flush=True,
    )
    tokens = [str(t) for t in answer["tokens"]]
    return tokens, {str(k): str(v) for k, v in answer["rooms"].items()}
