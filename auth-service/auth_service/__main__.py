"""``python -m auth_service serve|migrate``, ``keygen PATH`` to create a signing key, and
``make-admin EMAIL`` to make an account a site administrator."""

import sys
from pathlib import Path

from auth_service.keys import generate_pem
from auth_service.settings import AuthSettings
from chatcore.cli import ServiceSpec, main


def keygen(path: Path) -> int:
    """Write a new Ed25519 signing key to ``path`` unless one is already there."""
    if path.exists():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(generate_pem())
    print(f"auth-service: created signing key {path}")
    return 0


if len(sys.argv) == 3 and sys.argv[1] == "keygen":
    raise SystemExit(keygen(Path(sys.argv[2])))
if len(sys.argv) == 3 and sys.argv[1] == "make-admin":
    from auth_service.make_admin import make_admin

    raise SystemExit(make_admin(sys.argv[2]))

raise SystemExit(
    main(
        ServiceSpec(
            name="auth-service",
            settings=AuthSettings,
            factory="auth_service.app:app_from_env",
            schema="auth",
            migrations=Path(__file__).parent / "migrations",
        )
    )
)
