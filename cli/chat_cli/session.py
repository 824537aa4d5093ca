"""The stored session: tokens and server URLs in ``session.json``, readable by the user only.

The file lives in ``$CHAT_CLI_CONFIG`` when set, else ``~/.config/chat-cli``. It is written
atomically (a temporary file renamed over the old one) with mode 0600, because it holds a
refresh token that is as good as the password until it is used or revoked.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chat_cli.errors import CliError
from chat_cli.i18n import t

FILE_NAME = "session.json"


def config_dir(env: dict[str, str] | None = None) -> Path:
    """Where the session file lives: ``$CHAT_CLI_CONFIG`` or ``~/.config/chat-cli``."""
    env = dict(os.environ) if env is None else env
    if env.get("CHAT_CLI_CONFIG"):
        return Path(env["CHAT_CLI_CONFIG"]).expanduser()
    return Path.home() / ".config" / "chat-cli"


@dataclass
class Session:
    """What ``login`` leaves behind for the other commands."""

    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    user: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return str(self.user.get("id", ""))


class SessionStore:
    """Load and save the :class:`Session` in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME

    def load(self) -> Session | None:
        """The stored session, or None when there is none yet."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CliError(t("cli.cannot_read", path=str(self.path), reason=str(exc))) from exc
        if not isinstance(raw, dict):
            raise CliError(t("cli.not_session", path=str(self.path)))
        known = {k: raw[k] for k in Session.__dataclass_fields__ if k in raw}
        return Session(**known)

    def save(self, session: Session) -> None:
        """Write the session with mode 0600, replacing the old file atomically."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".session-", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(session), out, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
